import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { type ApiAnswer, TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';
import {
  expectContractError,
  SecretLedger,
  storedRequest,
  storedRequestIds,
  tableClient,
} from './support.js';

/**
 * Threat: a compromised or confused agent asking for more than one exact action on one exact
 * resource, or smuggling something a reviewer would not see. Door: `POST /v1/requests`. Guard:
 * parseStrictJson, validateAccessRequest, parseArn and the IAM catalog — every refusal a 4xx with
 * the contract's error body, and nothing stored (read back from the byAgent index itself).
 */
describe('requests: what an agent may not ask for', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let agent: string;
  let ledger: SecretLedger;
  const AGENT = 'fuzz-bot';
  const ORDERS = TABLE('orders');
  const valid = {
    resource: ORDERS,
    actions: ['dynamodb:GetItem'],
    reason: 'Read order 8812 for the weekly report',
  };

  beforeAll(async () => {
    stack = await TestStack.start();
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
    agent = await stack.agentToken(AGENT);
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  const send = (rawBody: string, headers: Record<string, string> = {}) =>
    stack.call('POST', '/v1/requests', {
      token: agent,
      rawBody,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const sendJson = (body: Record<string, unknown>) => send(JSON.stringify(body));
  const executions = () => stack.stack.sfn.executions().length;

  async function expectRefusedAndNothingStored(
    answer: ApiAnswer,
    status: number,
    code: string,
    field?: string,
  ) {
    expectContractError(answer, status, code);
    if (field !== undefined)
      expect((answer.body as { error: { details?: unknown } }).error.details).toMatchObject({ field });
    expect(await storedRequestIds(stack, ddb, AGENT)).toEqual([]);
  }

  it('the byAgent read-back sees a stored request (control: the check below can fail)', async () => {
    const control = await stack.agentToken('fuzz-control-bot');
    const answer = await stack.request(control, valid);
    expect(answer.status).toBe(201);
    expect(await storedRequestIds(stack, ddb, 'fuzz-control-bot')).toEqual([answer.body.id]);
    expect(await storedRequest(stack, ddb, String(answer.body.id))).toMatchObject({ resource: ORDERS });
  });

  // [what, body overrides, field named in details]
  const invalidFields: Array<[string, Record<string, unknown>, string]> = [
    ['a wildcard action', { actions: ['dynamodb:*'] }, 'actions[0]'],
    ['a prefix wildcard action', { actions: ['dynamodb:Put*'] }, 'actions[0]'],
    ['the bare *', { actions: ['*'] }, 'actions[0]'],
    ['a ? in the action', { actions: ['dynamodb:GetIte?'] }, 'actions[0]'],
    ['a wildcard after a valid action', { actions: ['dynamodb:GetItem', 's3:*'] }, 'actions[1]'],
    ['a wildcard partition', { resource: 'arn:*:dynamodb:us-east-1:111122223333:table/orders' }, 'resource'],
    ['a wildcard service', { resource: 'arn:aws:*:us-east-1:111122223333:table/orders' }, 'resource'],
    ['a wildcard region', { resource: 'arn:aws:dynamodb:*:111122223333:table/orders' }, 'resource'],
    ['a wildcard account', { resource: 'arn:aws:dynamodb:us-east-1:*:table/orders' }, 'resource'],
    ['a wildcard resource name', { resource: TABLE('*') }, 'resource'],
    ['a wildcard suffix', { resource: TABLE('ord*') }, 'resource'],
    ['a ? in the resource', { resource: TABLE('ord?rs') }, 'resource'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the policy variable is the attack
    ['${aws:username} in the resource', { resource: TABLE('${aws:username}') }, 'resource'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the policy variable is the attack
    ['${aws:username} in the action', { actions: ['dynamodb:${aws:username}'] }, 'actions[0]'],
    ['NotAction at the top', { NotAction: ['iam:*'] }, 'NotAction'],
    ['NotResource at the top', { NotResource: ['*'] }, 'NotResource'],
    ['a Statement at the top', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }, 'Statement'],
    ['NotAction inside context', { context: { NotAction: 'iam:*' } }, 'context.NotAction'],
    ['NotAction as the action', { actions: ['NotAction'] }, 'actions[0]'],
    ['actions as an object', { actions: { NotAction: ['iam:PassRole'] } }, 'actions'],
    ['actions as one string', { actions: 'dynamodb:GetItem' }, 'actions'],
    ['an action that does not exist', { actions: ['dynamodb:GetItems'] }, 'actions[0]'],
    ['a misspelled service', { actions: ['dynamdb:GetItem'] }, 'actions[0]'],
    ['an unknown service', { actions: ['countersign:Approve'] }, 'actions[0]'],
    ['an action without a service', { actions: ['GetItem'] }, 'actions[0]'],
    ['an S3 action on a table', { actions: ['s3:GetObject'] }, 'actions[0]'],
    [
      'a table action on a bucket',
      { resource: 'arn:aws:s3:::orders-bucket', actions: ['dynamodb:PutItem'] },
      'actions[0]',
    ],
    [
      'a table-only action on an index',
      { resource: `${ORDERS}/index/byDate`, actions: ['dynamodb:PutItem'] },
      'actions[0]',
    ],
    ['the same action twice', { actions: ['dynamodb:GetItem', 'dynamodb:getitem'] }, 'actions[1]'],
    ['no actions', { actions: [] }, 'actions'],
    ['eleven actions', { actions: Array.from({ length: 11 }, () => 'dynamodb:GetItem') }, 'actions'],
    ['a huge actions array', { actions: Array.from({ length: 5000 }, () => 1) }, 'actions'],
    [
      'an unknown partition',
      { resource: 'arn:aws-xx:dynamodb:us-east-1:111122223333:table/orders' },
      'resource',
    ],
    [
      'a region of another partition',
      { resource: 'arn:aws-cn:dynamodb:us-east-1:111122223333:table/orders' },
      'resource',
    ],
    ['an 11-digit account', { resource: 'arn:aws:dynamodb:us-east-1:11112222333:table/orders' }, 'resource'],
    ['no account', { resource: 'arn:aws:dynamodb:us-east-1::table/orders' }, 'resource'],
    ['not an ARN', { resource: 'dynamodb:table/orders' }, 'resource'],
    ['a URL', { resource: 'https://dynamodb.us-east-1.amazonaws.com/orders' }, 'resource'],
    [
      'an ARN of no known resource type',
      { resource: 'arn:aws:dynamodb:us-east-1:111122223333:cupboard/orders' },
      'resource',
    ],
    [
      'an upper-case ARN prefix',
      { resource: 'ARN:aws:dynamodb:us-east-1:111122223333:table/orders' },
      'resource',
    ],
    ['a resource that is a list', { resource: [ORDERS, TABLE('payments')] }, 'resource'],
    ['a Cyrillic а in the table name', { resource: TABLE('\u0430udit') }, 'resource'],
    [
      'a Cyrillic а in "arn"',
      { resource: `\u0430rn:aws:dynamodb:us-east-1:111122223333:table/orders` },
      'resource',
    ],
    ['a Greek Ι in the action', { actions: ['dynamodb:GetΙtem'] }, 'actions[0]'],
    ['a fullwidth colon in the action', { actions: ['dynamodb\uff1aGetItem'] }, 'actions[0]'],
    ['a zero-width space in the table name', { resource: TABLE('ord\u200bers') }, 'resource'],
    ['a zero-width joiner in the action', { actions: ['dynamodb:Get\u200dItem'] }, 'actions[0]'],
    ['a non-breaking space after the ARN', { resource: `${ORDERS}\u00a0` }, 'resource'],
    ['a trailing space in the ARN', { resource: `${ORDERS} ` }, 'resource'],
    ['a NUL in the ARN', { resource: `${ORDERS}\u0000payments` }, 'resource'],
    ['a newline in the action', { actions: ['dynamodb:GetItem\n'] }, 'actions[0]'],
    ['a quote in the ARN', { resource: `${ORDERS}"` }, 'resource'],
    ['a bell in the reason', { reason: 'Read order\u0007 8812' }, 'reason'],
    ['an escape sequence in the reason', { reason: 'Read \u001b[2Jorder 8812' }, 'reason'],
    ['a right-to-left override in the reason', { reason: 'Read order \u202e2188 redro' }, 'reason'],
    ['a line separator in context', { context: { task: 'INC-1\u2028approved by alice' } }, 'context.task'],
    ['a control character in context', { context: { runId: 'run\u0000-1' } }, 'context.runId'],
    ['an unknown context key', { context: { approvedBy: 'alice@example.com' } }, 'context.approvedBy'],
    ['context as a string', { context: 'task=INC-1' }, 'context'],
    ['a blank reason', { reason: '   ' }, 'reason'],
    ['a reason of 2,001 characters', { reason: 'r'.repeat(2001) }, 'reason'],
    ['a duration of 59 s', { durationSeconds: 59 }, 'durationSeconds'],
    ['a duration of 43,201 s', { durationSeconds: 43_201 }, 'durationSeconds'],
    ['a fractional duration', { durationSeconds: 900.5 }, 'durationSeconds'],
    ['a duration as a string', { durationSeconds: '900' }, 'durationSeconds'],
  ];

  it.each(invalidFields)(
    'refuses %s: 400 naming the field, nothing stored, no workflow',
    async (_what, override, field) => {
      const started = executions();
      const answer = await sendJson({ ...valid, ...override });
      await expectRefusedAndNothingStored(answer, 400, 'ValidationError', field);
      expect(executions()).toBe(started);
    },
  );

  // [what, raw body, status, code, field named in details]
  const invalidBodies: Array<[string, () => string, number, string, string?]> = [
    ['an empty body', () => '', 400, 'ValidationError', 'body'],
    [
      'not JSON',
      () => 'resource=arn:aws:dynamodb:us-east-1:111122223333:table/orders',
      400,
      'ValidationError',
      'body',
    ],
    ['truncated JSON', () => JSON.stringify(valid).slice(0, -3), 400, 'ValidationError', 'body'],
    [
      'JSON with a comment',
      () => `{/* hi */${JSON.stringify(valid).slice(1)}`,
      400,
      'ValidationError',
      'body',
    ],
    ['a JSON array', () => JSON.stringify([valid]), 400, 'ValidationError', 'body'],
    ['a JSON string', () => JSON.stringify(JSON.stringify(valid)), 400, 'ValidationError', 'body'],
    ['a JSON number', () => '42', 400, 'ValidationError', 'body'],
    ['JSON null', () => 'null', 400, 'ValidationError', 'body'],
    [
      'duplicate actions keys',
      () =>
        `{"resource":"${ORDERS}","actions":["dynamodb:GetItem"],"actions":["dynamodb:DeleteTable"],"reason":"x y"}`,
      400,
      'ValidationError',
      'body',
    ],
    [
      'duplicate keys spelled differently',
      () =>
        `{"resource":"${ORDERS}","actions":["dynamodb:GetItem"],"\\u0061ctions":["dynamodb:PutItem"],"reason":"x y"}`,
      400,
      'ValidationError',
      'body',
    ],
    [
      'a __proto__ key',
      () => `{"__proto__":{"actions":["dynamodb:PutItem"]},"resource":"${ORDERS}","reason":"x y"}`,
      400,
      'ValidationError',
      '__proto__',
    ],
    [
      'JSON nested 1,000 deep',
      () => `${'['.repeat(1000)}${']'.repeat(1000)}`,
      400,
      'ValidationError',
      'body',
    ],
    [
      'a lone surrogate in the reason',
      () => JSON.stringify(valid).replace('Read order', 'Read \\ud800 order'),
      400,
      'ValidationError',
      'reason',
    ],
    [
      'a body just over 64 KB',
      () => JSON.stringify({ ...valid, reason: 'r'.repeat(70_000) }),
      413,
      'PayloadTooLarge',
    ],
    [
      'a 1 MB body',
      () => JSON.stringify({ ...valid, reason: 'r'.repeat(1_000_000) }),
      413,
      'PayloadTooLarge',
    ],
    [
      'a 2 MB body',
      () => JSON.stringify({ ...valid, reason: 'r'.repeat(2_000_000) }),
      413,
      'PayloadTooLarge',
    ],
    [
      'a 60 KB array of actions',
      () => JSON.stringify({ ...valid, actions: Array(30_000).fill(0) }),
      400,
      'ValidationError',
      'actions',
    ],
  ];

  it.each(invalidBodies)(
    'refuses %s with the contract error, nothing stored',
    async (_what, body, status, code, field) => {
      const answer = await send(body());
      await expectRefusedAndNothingStored(answer, status, code, field);
    },
  );

  it('refuses a body that is not application/json (415), and a malformed Idempotency-Key (400)', async () => {
    await expectRefusedAndNothingStored(
      await send(JSON.stringify(valid), { 'content-type': 'text/plain' }),
      415,
      'UnsupportedMediaType',
    );
    await expectRefusedAndNothingStored(
      await send(JSON.stringify(valid), { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'UnsupportedMediaType',
    );
    await expectRefusedAndNothingStored(
      await send(JSON.stringify(valid), { 'idempotency-key': 'key with spaces' }),
      400,
      'ValidationError',
      'Idempotency-Key',
    );
  });

  it('a valid ARN of a partition the deployment has no role in is not granted', async () => {
    // The account has a target role, but in the aws partition: a grant could only name a resource
    // that role can never reach. Fail closed: recorded, DENIED, no grant.
    const other = await stack.agentToken('partition-bot');
    const answer = await stack.request(other, {
      ...valid,
      resource: 'arn:aws-cn:dynamodb:cn-north-1:111122223333:table/orders',
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ status: 'DENIED' });
    expect(answer.body.grant).toBeUndefined();
    const claim = await stack.call('POST', `/v1/requests/${answer.body.id}/credentials`, { token: other });
    expectContractError(claim, 409, 'NotApproved');
  });

  it('escapes nothing into a grant: an accepted request grants exactly what was asked', async () => {
    const answer = await stack.request(await stack.agentToken('exact-bot'), {
      ...valid,
      actions: ['dynamodb:getitem'],
    });
    expect(answer.status).toBe(201);
    // Canonical casing from the catalog, one action, the exact ARN.
    expect(answer.body).toMatchObject({
      actions: ['dynamodb:GetItem'],
      grant: { actions: ['dynamodb:GetItem'], resource: ORDERS },
    });
    const statement = (answer.body.grant as { sessionPolicy: { Statement: Array<Record<string, unknown>> } })
      .sessionPolicy.Statement;
    expect(statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem'],
        Resource: [ORDERS],
        Condition: { DateLessThan: { 'aws:CurrentTime': expect.any(String) } },
      },
    ]);
  });

  it('no signing secret or bot token appears in any log line of these flows', () => {
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});

describe('requests: an agent that asks too often', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  const LIMIT = 5;

  beforeAll(async () => {
    const config = loadConfigFile(TEST_CONFIG_PATH);
    stack = await TestStack.start({
      config: { ...config, limits: { ...config.limits, requestsPerMinutePerAgent: LIMIT } },
    });
    ddb = tableClient(stack);
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  it('is refused with 429 RateLimited past its per-minute limit, stores nothing more, and slows no one else', async () => {
    // The counter is per calendar minute: start well inside one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));
    const greedy = await stack.agentToken('greedy-bot');
    const body = {
      resource: TABLE('orders'),
      actions: ['dynamodb:GetItem'],
      reason: 'Poll order 8812 again',
    };
    const answers = [];
    for (let i = 0; i < LIMIT + 3; i++) answers.push(await stack.request(greedy, body));
    expect(answers.slice(0, LIMIT).map((a) => a.status)).toEqual(Array(LIMIT).fill(201));
    for (const refused of answers.slice(LIMIT)) expectContractError(refused, 429, 'RateLimited');
    expect(await storedRequestIds(stack, ddb, 'greedy-bot')).toHaveLength(LIMIT);
    const polite = await stack.request(await stack.agentToken('polite-bot'), body);
    expect(polite.status).toBe(201);
  });
});
