import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import { inputSha256, MAX_CALL_INPUT_CHARS } from '../../lambdas/core/exact-call.js';
import { validateAccessRequest } from '../../lambdas/core/validate-request.js';

const TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const INDEX = `${TABLE}/index/byCustomer`;
const OBJECT = 'arn:aws:s3:::acme-prod-data/reports/2025.csv';
const BUCKET = 'arn:aws:s3:::acme-prod-data';
const QUEUE = 'arn:aws:sqs:us-east-1:111122223333:refunds';
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:alerts';
const FUNCTION = 'arn:aws:lambda:us-east-1:111122223333:function:reindex';
const SECRET = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf';
const PARAMETER = 'arn:aws:ssm:us-east-1:111122223333:parameter/app/flag';

const body = (resource: string, action: string, input: unknown, extra: Record<string, unknown> = {}) => ({
  resource,
  actions: [action],
  reason: 'exact call test',
  call: { input, ...extra },
});

function refusal(value: unknown): ValidationError {
  try {
    validateAccessRequest(value);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('exact call validation', () => {
  it('accepts an input naming exactly the resource and keeps it, with its SHA-256', () => {
    const input = {
      TableName: 'orders',
      Item: { id: { S: '8812' } },
      ConditionExpression: 'attribute_not_exists(id)',
    };
    const valid = validateAccessRequest(body(TABLE, 'dynamodb:PutItem', input));
    expect(valid.call).toEqual({ operation: 'dynamodb:PutItem', input, inputSha256: inputSha256(input) });
    // Canonical: key order does not change the hash approvers compare.
    expect(
      inputSha256({ Item: input.Item, TableName: 'orders', ConditionExpression: input.ConditionExpression }),
    ).toBe(inputSha256(input));
  });

  it.each([
    ['another table', TABLE, 'dynamodb:PutItem', { TableName: 'payments', Item: {} }, 'TableName'],
    ['another table by ARN', TABLE, 'dynamodb:GetItem', { TableName: `${TABLE}x`, Key: {} }, 'TableName'],
    ['no table', TABLE, 'dynamodb:GetItem', { Key: {} }, 'TableName'],
    [
      'an index the grant does not name',
      TABLE,
      'dynamodb:Query',
      { TableName: 'orders', IndexName: 'byCustomer' },
      'IndexName',
    ],
    ['another index', INDEX, 'dynamodb:Query', { TableName: 'orders', IndexName: 'other' }, 'IndexName'],
    [
      'a field that is not the operation’s',
      TABLE,
      'dynamodb:GetItem',
      { TableName: 'orders', Key: {}, RequestItems: {} },
      'RequestItems',
    ],
    [
      'a copy source',
      OBJECT,
      's3:PutObject',
      { Bucket: 'acme-prod-data', Key: 'reports/2025.csv', CopySource: 'other/x' },
      'CopySource',
    ],
    ['another key', OBJECT, 's3:GetObject', { Bucket: 'acme-prod-data', Key: 'reports/2026.csv' }, 'Key'],
    [
      'another bucket',
      OBJECT,
      's3:GetObject',
      { Bucket: 'acme-prod-logs', Key: 'reports/2025.csv' },
      'Bucket',
    ],
    [
      'a version (another action)',
      OBJECT,
      's3:GetObject',
      { Bucket: 'acme-prod-data', Key: 'reports/2025.csv', VersionId: 'v1' },
      'VersionId',
    ],
    [
      'an ACL (another action)',
      OBJECT,
      's3:PutObject',
      { Bucket: 'acme-prod-data', Key: 'reports/2025.csv', ACL: 'public-read' },
      'ACL',
    ],
    [
      'a redirect',
      OBJECT,
      's3:PutObject',
      { Bucket: 'acme-prod-data', Key: 'reports/2025.csv', WebsiteRedirectLocation: '/x' },
      'WebsiteRedirectLocation',
    ],
    [
      'a KMS key',
      OBJECT,
      's3:PutObject',
      { Bucket: 'acme-prod-data', Key: 'reports/2025.csv', SSEKMSKeyId: 'k' },
      'SSEKMSKeyId',
    ],
    [
      'a key that resolves elsewhere',
      'arn:aws:s3:::acme-prod-data/reports/../secrets.csv',
      's3:GetObject',
      { Bucket: 'acme-prod-data', Key: 'reports/../secrets.csv' },
      'Key',
    ],
    [
      'a header with a line break',
      OBJECT,
      's3:GetObject',
      { Bucket: 'acme-prod-data', Key: 'reports/2025.csv', IfMatch: 'x\r\nx-amz-acl: public-read' },
      'IfMatch',
    ],
    [
      'a metadata name that is not a header token',
      OBJECT,
      's3:PutObject',
      { Bucket: 'acme-prod-data', Key: 'reports/2025.csv', Metadata: { 'a b': 'x' } },
      'Metadata',
    ],
    ['another bucket listing', BUCKET, 's3:ListBucket', { Bucket: 'acme-prod-logs' }, 'Bucket'],
    [
      'another queue',
      QUEUE,
      'sqs:SendMessage',
      { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/111122223333/other', MessageBody: 'x' },
      'QueueUrl',
    ],
    [
      'an SNS endpoint',
      TOPIC,
      'sns:Publish',
      { TopicArn: TOPIC, TargetArn: 'arn:aws:sns:us-east-1:111122223333:endpoint/x', Message: 'x' },
      'TargetArn',
    ],
    ['a phone number', TOPIC, 'sns:Publish', { PhoneNumber: '+15550100', Message: 'x' }, 'PhoneNumber'],
    ['another function', FUNCTION, 'lambda:InvokeFunction', { FunctionName: 'drop-all' }, 'FunctionName'],
    [
      'a version of an unqualified grant',
      FUNCTION,
      'lambda:InvokeFunction',
      { FunctionName: 'reindex', Qualifier: '7' },
      'Qualifier',
    ],
    ['raw logs', FUNCTION, 'lambda:InvokeFunction', { FunctionName: 'reindex', LogType: 'Tail' }, 'LogType'],
    [
      'a client context',
      FUNCTION,
      'lambda:InvokeFunction',
      { FunctionName: 'reindex', ClientContext: 'e30=' },
      'ClientContext',
    ],
    ['a secret by name', SECRET, 'secretsmanager:GetSecretValue', { SecretId: 'db' }, 'SecretId'],
    ['another parameter', PARAMETER, 'ssm:GetParameter', { Name: '/app/other' }, 'Name'],
    [
      'a KMS key for a parameter',
      PARAMETER,
      'ssm:PutParameter',
      { Name: '/app/flag', Value: 'x', KeyId: 'alias/other' },
      'KeyId',
    ],
  ])('refuses %s with 400, details.field call', (_what, resource, action, input, inputField) => {
    const error = refusal(body(resource, action, input));
    expect(error.status).toBe(400);
    expect(error.details).toMatchObject({ field: 'call', inputField });
  });

  it('accepts each supported operation on its own resource', () => {
    const ok: Array<[string, string, Record<string, unknown>, string?]> = [
      [
        INDEX,
        'dynamodb:Query',
        { TableName: 'orders', IndexName: 'byCustomer', KeyConditionExpression: 'c = :c' },
      ],
      [OBJECT, 's3:GetObject', { Bucket: 'acme-prod-data', Key: 'reports/2025.csv' }],
      [OBJECT, 's3:GetObject', { Bucket: 'acme-prod-data', Key: 'reports/2025.csv' }, 'HeadObject'],
      [BUCKET, 's3:ListBucket', { Bucket: 'acme-prod-data', Prefix: 'reports/' }],
      [
        QUEUE,
        'sqs:SendMessage',
        { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/111122223333/refunds', MessageBody: 'x' },
      ],
      [TOPIC, 'sns:Publish', { TopicArn: TOPIC, Message: 'x' }],
      [FUNCTION, 'lambda:InvokeFunction', { FunctionName: 'reindex', Payload: { a: 1 } }],
      [SECRET, 'secretsmanager:GetSecretValue', { SecretId: SECRET }],
      [PARAMETER, 'ssm:PutParameter', { Name: '/app/flag', Value: 'on', Type: 'String', Overwrite: true }],
    ];
    for (const [resource, action, input, operation] of ok) {
      const valid = validateAccessRequest(body(resource, action, input, operation ? { operation } : {}));
      expect(valid.call?.input).toEqual(input);
    }
  });

  it('refuses a call with two actions, an unsupported operation, or an oversized input', () => {
    expect(
      refusal({
        resource: TABLE,
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        reason: 'x',
        call: { input: { TableName: 'orders' } },
      }).details,
    ).toMatchObject({ field: 'call' });
    expect(refusal(body(TABLE, 'dynamodb:Scan', { TableName: 'orders' })).details).toMatchObject({
      field: 'call',
    });
    const big = { TableName: 'orders', Item: { id: { S: 'x'.repeat(MAX_CALL_INPUT_CHARS) } } };
    expect(refusal(body(TABLE, 'dynamodb:PutItem', big)).details).toMatchObject({ field: 'call' });
    expect(
      refusal(body(TABLE, 'dynamodb:PutItem', { TableName: 'orders' }, { extra: 1 })).details,
    ).toMatchObject({
      field: 'call',
    });
  });
});
