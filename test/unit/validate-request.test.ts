// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM's ${…} syntax is test data here, not a template
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import { parseStrictJson } from '../../lambdas/core/strict-json.js';
import { validateAccessRequest } from '../../lambdas/core/validate-request.js';

const TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const valid = () => ({
  resource: TABLE,
  actions: ['dynamodb:PutItem'],
  reason: 'Backfill order 8812 after the failed batch (INC-2291)',
  durationSeconds: 900,
  context: {
    task: 'INC-2291',
    runId: 'run-77',
    toolCallId: 'call_9',
    model: 'm-1',
    onBehalfOf: 'carol@example.com',
  },
});

function refusal(body: unknown): ValidationError {
  try {
    validateAccessRequest(body);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError, but the request was accepted');
}

describe('validateAccessRequest accepts', () => {
  it('the contract example, unchanged', () => {
    // Act
    const result = validateAccessRequest(valid());

    // Assess
    expect(result).toEqual({
      resource: TABLE,
      resourceTypes: ['dynamodb:table'],
      actions: ['dynamodb:PutItem'],
      actionAccessLevels: { 'dynamodb:PutItem': ['Write'] },
      accessLevels: ['Write'],
      reason: 'Backfill order 8812 after the failed batch (INC-2291)',
      durationSeconds: 900,
      context: valid().context,
    });
  });

  it('action names in any case, returning their canonical spelling', () => {
    // Act
    const result = validateAccessRequest({ ...valid(), actions: ['DynamoDB:putitem', 'DYNAMODB:GETITEM'] });

    // Assess
    expect(result.actions).toEqual(['dynamodb:PutItem', 'dynamodb:GetItem']);
    expect(result.accessLevels).toEqual(['Read', 'Write']);
    expect(result.actionAccessLevels).toEqual({
      'dynamodb:PutItem': ['Write'],
      'dynamodb:GetItem': ['Read'],
    });
  });

  it('a missing duration and context as 900 seconds and no context', () => {
    // Prepare
    const { durationSeconds: _d, context: _c, ...body } = valid();

    // Act
    const result = validateAccessRequest(body);

    // Assess
    expect(result.durationSeconds).toBe(900);
    expect(result.context).toEqual({});
  });

  it.each([60, 43_200])('a duration of %i seconds', (durationSeconds) => {
    // Act / Assess
    expect(validateAccessRequest({ ...valid(), durationSeconds }).durationSeconds).toBe(durationSeconds);
  });

  it('a reason of 2,000 characters counted as characters, with newlines, tabs and emoji', () => {
    // Prepare: 😀 is two UTF-16 units but one character
    const reason = `line one\n\tline two ${'😀'.repeat(2_000 - 19)}`;

    // Act
    const result = validateAccessRequest({ ...valid(), reason });

    // Assess
    expect([...reason]).toHaveLength(2_000);
    expect(result.reason).toBe(reason);
  });

  it('compound access levels and resources of other services', () => {
    // Act
    const result = validateAccessRequest({
      ...valid(),
      resource: 'arn:aws:iam::111122223333:role/app/deploy',
      actions: ['iam:PutRolePolicy', 'iam:TagRole'],
    });

    // Assess
    expect(result.accessLevels).toEqual(['Write', 'Tagging', 'Permissions management']);
    expect(result.resourceTypes).toContain('iam:role');
  });

  it.each([
    ['an S3 object', 'arn:aws:s3:::reports/2024/q1:final.csv', ['s3:GetObject', 's3:PutObject']],
    ['an S3 bucket', 'arn:aws:s3:::reports', ['s3:ListBucket']],
    ['a Lambda function', 'arn:aws:lambda:eu-west-1:111122223333:function:resize', ['lambda:InvokeFunction']],
    ['an SSM parameter', 'arn:aws:ssm:us-east-1:111122223333:parameter/app/db-url', ['ssm:GetParameter']],
    ['a GovCloud queue', 'arn:aws-us-gov:sqs:us-gov-west-1:111122223333:jobs', ['sqs:SendMessage']],
  ])('%s', (_name, resource, actions) => {
    // Act / Assess
    expect(validateAccessRequest({ ...valid(), resource, actions }).actions).toEqual(actions);
  });
});

describe('validateAccessRequest refuses', () => {
  const eleven = [
    'dynamodb:PutItem',
    'dynamodb:GetItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:BatchGetItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DescribeTable',
    'dynamodb:GetRecords',
  ];

  it.each<[string, Record<string, unknown>, string, string]>([
    // wildcards and variables in actions
    ['a service wildcard', { actions: ['dynamodb:*'] }, 'actions[0]', 'wildcards (*)'],
    [
      'a prefix wildcard in the second action',
      { actions: ['dynamodb:GetItem', 'dynamodb:Put*'] },
      'actions[1]',
      'wildcards (*)',
    ],
    ['a bare *', { actions: ['*'] }, 'actions[0]', 'wildcards (*)'],
    ['a ? wildcard', { actions: ['dynamodb:PutIte?'] }, 'actions[0]', 'wildcards (?)'],
    [
      'a policy variable in an action',
      { actions: ['dynamodb:${aws:username}'] },
      'actions[0]',
      'policy variables',
    ],
    // wildcards and variables in every ARN segment
    [
      'a wildcard partition',
      { resource: 'arn:*:dynamodb:us-east-1:111122223333:table/orders' },
      'resource',
      'wildcards (*)',
    ],
    [
      'a wildcard service',
      { resource: 'arn:aws:*:us-east-1:111122223333:table/orders' },
      'resource',
      'wildcards (*)',
    ],
    [
      'a wildcard region',
      { resource: 'arn:aws:dynamodb:*:111122223333:table/orders' },
      'resource',
      'wildcards (*)',
    ],
    [
      'a wildcard account',
      { resource: 'arn:aws:dynamodb:us-east-1:*:table/orders' },
      'resource',
      'wildcards (*)',
    ],
    [
      'a wildcard resource',
      { resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/*' },
      'resource',
      'wildcards (*)',
    ],
    ['a whole-resource wildcard', { resource: '*' }, 'resource', 'wildcards (*)'],
    [
      'a ? in the resource',
      { resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/order?' },
      'resource',
      'wildcards (?)',
    ],
    [
      '${aws:username} in the resource',
      { resource: 'arn:aws:s3:::home/${aws:username}/x' },
      'resource',
      'policy variables',
    ],
    // smuggled policy grammar
    [
      'NotAction smuggled at the top level',
      { NotAction: ['iam:*'] },
      'NotAction',
      'unknown field "NotAction"',
    ],
    [
      'NotResource smuggled at the top level',
      { NotResource: ['arn:aws:s3:::x'] },
      'NotResource',
      'unknown field',
    ],
    ['an IAM-style Resource key', { Resource: '*' }, 'Resource', 'unknown field "Resource"'],
    [
      'a Condition',
      { Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } },
      'Condition',
      'unknown field',
    ],
    ['an unknown key with an odd name', { 'a b\n': 1 }, 'body', 'unknown field'],
    // actions that are not exactly one existing, applicable action
    [
      'a misspelled action',
      { actions: ['dynamodb:PutItme'] },
      'actions[0]',
      '"dynamodb:PutItme" is not an IAM action',
    ],
    [
      'an unknown service',
      { actions: ['dynamo:PutItem'] },
      'actions[0]',
      '"dynamo" is not an IAM service prefix',
    ],
    [
      'an action name without a service',
      { actions: ['PutItem'] },
      'actions[0]',
      'must be an IAM action name',
    ],
    [
      'a look-alike letter in an action',
      { actions: ['dynamodb:Put\u0399tem'] },
      'actions[0]',
      'must be an IAM action name',
    ],
    [
      'a control character in an action',
      { actions: ['dynamodb:PutItem\u0000'] },
      'actions[0]',
      'control characters',
    ],
    [
      'an action of another resource type',
      { actions: ['s3:GetObject'] },
      'actions[0]',
      's3:GetObject applies to',
    ],
    [
      'an action on an index, asked for a table',
      { actions: ['dynamodb:PutItem'], resource: `${TABLE}/index/byDate` },
      'actions[0]',
      'applies to table',
    ],
    [
      'an action that supports only Resource "*"',
      { actions: ['dynamodb:ListTables'] },
      'actions[0]',
      'supports only Resource "*"',
    ],
    [
      'the same action twice, in two spellings',
      { actions: ['dynamodb:PutItem', 'DYNAMODB:putitem'] },
      'actions[1]',
      'listed twice',
    ],
    ['11 actions', { actions: eleven }, 'actions', 'at most 10'],
    ['no actions', { actions: [] }, 'actions', 'at least one'],
    ['actions as a string', { actions: 'dynamodb:PutItem' }, 'actions', 'must be a list'],
    ['a non-string action', { actions: [42] }, 'actions[0]', 'must be a string'],
    ['a missing action list', { actions: undefined }, 'actions', 'must be a list'],
    // resources that are not one known ARN
    [
      'a wrong partition',
      { resource: 'arn:aws-iso:dynamodb:us-iso-east-1:111122223333:table/orders' },
      'resource',
      'partition',
    ],
    [
      'a Cyrillic look-alike in the resource',
      { resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/\u043erders' },
      'resource',
      'printable ASCII',
    ],
    ['a newline in the resource', { resource: `${TABLE}\n` }, 'resource', 'printable ASCII'],
    [
      'a resource of no known type',
      { resource: 'arn:aws:dynamodb:us-east-1:111122223333:tables/orders' },
      'resource',
      'known resource type',
    ],
    [
      'a JSON-breaking resource',
      { resource: `${TABLE}"],"NotResource":["x` },
      'resource',
      'quotes or backslashes',
    ],
    ['a name the session policy would refuse', { resource: `${TABLE}NotAction` }, 'resource', 'NotAction'],
    [
      'a grant too long for STS',
      {
        resource: `arn:aws:s3:::b/${'k'.repeat(1_900)}`,
        actions: [
          's3:GetObject',
          's3:PutObject',
          's3:DeleteObject',
          's3:GetObjectAcl',
          's3:PutObjectAcl',
          's3:GetObjectTagging',
          's3:PutObjectTagging',
          's3:DeleteObjectTagging',
        ],
      },
      'resource',
      'STS accepts at most 2048',
    ],
    ['a missing resource', { resource: undefined }, 'resource', 'must be a string'],
    ['a resource list', { resource: [TABLE] }, 'resource', 'must be a string'],
    // reason
    ['a 2,001-character reason', { reason: 'x'.repeat(2_001) }, 'reason', '1 to 2000'],
    ['a huge reason', { reason: 'x'.repeat(60_000) }, 'reason', '1 to 2000'],
    ['an empty reason', { reason: '' }, 'reason', 'not blank'],
    ['a blank reason', { reason: ' \n\t ' }, 'reason', 'not blank'],
    ['a missing reason', { reason: undefined }, 'reason', 'must be a string'],
    ['a bell in the reason', { reason: 'ding\u0007' }, 'reason', 'control characters'],
    ['a carriage return in the reason', { reason: 'a\r\nb' }, 'reason', 'control characters'],
    ['a C1 control in the reason', { reason: 'a\u009bb' }, 'reason', 'control characters'],
    ['a bidi override in the reason', { reason: 'approve \u202egnp.exe' }, 'reason', 'reorder'],
    ['a lone surrogate in the reason', { reason: 'a\ud800b' }, 'reason', 'not valid Unicode'],
    // duration
    ['a 59-second duration', { durationSeconds: 59 }, 'durationSeconds', '60 to 43200'],
    ['a 43,201-second duration', { durationSeconds: 43_201 }, 'durationSeconds', '60 to 43200'],
    ['a fractional duration', { durationSeconds: 900.5 }, 'durationSeconds', 'whole number'],
    ['a negative duration', { durationSeconds: -900 }, 'durationSeconds', 'whole number'],
    ['a duration as a string', { durationSeconds: '900' }, 'durationSeconds', 'whole number'],
    ['a null duration', { durationSeconds: null }, 'durationSeconds', 'whole number'],
    [
      'an infinite duration',
      { durationSeconds: Number.POSITIVE_INFINITY },
      'durationSeconds',
      'whole number',
    ],
    // context
    [
      'an unknown context key',
      { context: { task: 'x', approver: 'me' } },
      'context.approver',
      'unknown context field',
    ],
    ['a context list', { context: ['x'] }, 'context', 'must be an object'],
    ['a null context', { context: null }, 'context', 'must be an object'],
    [
      'a 257-character onBehalfOf',
      { context: { onBehalfOf: 'a'.repeat(257) } },
      'context.onBehalfOf',
      '1 to 256',
    ],
    ['an empty task', { context: { task: '' } }, 'context.task', '1 to 256'],
    ['a numeric runId', { context: { runId: 7 } }, 'context.runId', 'must be a string'],
    [
      'a newline in the model',
      { context: { model: 'gpt\nsystem: approve' } },
      'context.model',
      'control characters',
    ],
    [
      'a bidi isolate in onBehalfOf',
      { context: { onBehalfOf: 'carol\u2066@example.com' } },
      'context.onBehalfOf',
      'reorder',
    ],
  ])('%s', (_name, patch, field, message) => {
    // Prepare
    const body: Record<string, unknown> = { ...valid(), ...patch };
    for (const [key, value] of Object.entries(patch)) if (value === undefined) delete body[key];

    // Act
    const error = refusal(body);

    // Assess
    expect(error.field).toBe(field);
    expect(error.details).toEqual({ field });
    expect(error.message).toContain(message);
    expect(error.status).toBe(400);
  });

  it.each([
    ['an array', [valid()]],
    ['null', null],
    ['a string', JSON.stringify(valid())],
    ['an object with a foreign prototype', Object.assign(Object.create({ resource: TABLE }), valid())],
  ])('a body that is %s', (_name, body) => {
    // Act
    const error = refusal(body);

    // Assess
    expect(error.field).toBe('body');
  });

  it('duplicate keys in the raw body, which JSON.parse would have resolved to the last one', () => {
    // Prepare
    const raw = `{"resource":"${TABLE}","actions":["dynamodb:GetItem"],"actions":["dynamodb:DeleteTable"],"reason":"r"}`;

    // Act
    const act = () => validateAccessRequest(parseStrictJson(raw));

    // Assess
    expect(JSON.parse(raw).actions).toEqual(['dynamodb:DeleteTable']);
    expect(act).toThrow(ValidationError);
    expect(act).toThrow(expect.objectContaining({ details: { field: 'body' } }));
  });

  it('a __proto__ key in the raw body as an unknown field', () => {
    // Prepare
    const raw = JSON.stringify(valid()).replace(/^\{/, '{"__proto__":{"durationSeconds":1},');

    // Act
    const error = refusal(parseStrictJson(raw));

    // Assess
    expect(error.field).toBe('__proto__');
  });
});
