import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE, TestStack } from '../support/local-stack.js';

/** Issue "Foundation": the request-access path through the real local stack, over HTTP only. */
describe('POST /v1/requests and GET /v1/requests/{id} on the local stack', () => {
  let stack: TestStack;
  let agent: string;

  beforeAll(async () => {
    stack = await TestStack.start();
    agent = await stack.agentToken('deploy-bot');
  }, 60_000);
  afterAll(() => stack?.stop());

  it('answers /healthz once every part is up', async () => {
    const answer = await stack.call('GET', '/healthz');
    expect(answer).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('approves a read by policy: 201 APPROVED with a grant for exactly that action and table', async () => {
    const answer = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      status: 'APPROVED',
      requester: { sub: 'deploy-bot', issuer: stack.url },
      resource: TABLE('orders'),
      actions: ['dynamodb:GetItem'],
      policy: { rule: 'reads', effect: 'allow', accessLevels: ['Read'] },
      decisions: [{ approver: 'policy:reads', decision: 'approve', channel: 'policy' }],
      grant: {
        resource: TABLE('orders'),
        actions: ['dynamodb:GetItem'],
        roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
      },
    });
    expect(String(answer.body.id)).toMatch(/^req_[A-Za-z0-9]{20}$/);
  });

  it('denies a destructive action by policy and still records it: 201 DENIED', async () => {
    const answer = await stack.request(agent, {
      resource: TABLE('orders'),
      actions: ['dynamodb:DeleteTable'],
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      status: 'DENIED',
      policy: { rule: 'deny-destructive', effect: 'deny' },
    });
    const stored = await stack.call('GET', `/v1/requests/${answer.body.id}`, { token: agent });
    expect(stored.body).toMatchObject({ status: 'DENIED' });
  });

  it('stores an approve-rule request as PENDING', async () => {
    const answer = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:PutItem'] });
    expect(answer).toMatchObject({
      status: 201,
      body: { status: 'PENDING', policy: { rule: 'writes', quorum: 1 } },
    });
  });

  it.each([
    [{ actions: ['dynamodb:*'] }, 'actions[0]'],
    [{ resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/*' }, 'resource'],
    [
      {
        actions: ['dynamodb:GetItem'],
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
        resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/${aws:username}',
      },
      'resource',
    ],
    [{ reason: '' }, 'reason'],
    [{ NotAction: ['iam:*'] }, 'NotAction'],
  ])('refuses %j with 400 ValidationError naming %s', async (override, field) => {
    const answer = await stack.request(agent, {
      resource: TABLE('orders'),
      actions: ['dynamodb:GetItem'],
      ...override,
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'ValidationError', details: { field } } });
  });

  it('refuses a caller without a token with 401', async () => {
    const answer = await stack.call('POST', '/v1/requests', {
      body: { resource: TABLE('orders'), actions: ['dynamodb:GetItem'], reason: 'x' },
    });
    expect(answer).toMatchObject({ status: 401, body: { error: { code: 'Unauthorized' } } });
  });

  it('refuses a verified caller who is not an agent with 403', async () => {
    const auditor = await stack.token('auditor@example.com', ['auditors']);
    const answer = await stack.request(auditor, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    expect(answer).toMatchObject({ status: 403, body: { error: { code: 'Forbidden' } } });
  });

  it("hides another agent's request: 404, while approvers see it", async () => {
    const mine = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    const other = await stack.agentToken('other-bot');
    const answer = await stack.call('GET', `/v1/requests/${mine.body.id}`, { token: other });
    expect(answer).toMatchObject({ status: 404, body: { error: { code: 'NotFound' } } });
    const approver = await stack.token('alice@example.com', ['approvers']);
    expect((await stack.call('GET', `/v1/requests/${mine.body.id}`, { token: approver })).status).toBe(200);
  });

  it('returns the same request for a repeated Idempotency-Key, and 409 for the key with another body', async () => {
    const body = { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] };
    const first = await stack.request(agent, body, { 'idempotency-key': 'retry-1' });
    const again = await stack.request(agent, body, { 'idempotency-key': 'retry-1' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const conflict = await stack.request(
      agent,
      { ...body, actions: ['dynamodb:Query'] },
      { 'idempotency-key': 'retry-1' },
    );
    expect(conflict).toMatchObject({ status: 409, body: { error: { code: 'IdempotencyConflict' } } });
  });

  it('long-polls a PENDING request for waitSeconds and returns it still PENDING', async () => {
    const pending = await stack.request(agent, {
      resource: TABLE('orders'),
      actions: ['dynamodb:UpdateItem'],
    });
    const started = Date.now();
    const answer = await stack.call('GET', `/v1/requests/${pending.body.id}?waitSeconds=1`, { token: agent });
    expect(answer.body).toMatchObject({ status: 'PENDING' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('answers unknown routes and methods with the contract error body', async () => {
    expect(await stack.call('GET', '/v1/nothing')).toMatchObject({
      status: 404,
      body: { error: { code: 'NotFound' } },
    });
    // API Gateway answers a method a path does not serve as it answers an unknown path.
    expect(await stack.call('DELETE', '/v1/requests')).toMatchObject({
      status: 404,
      body: { error: { code: 'NotFound' } },
    });
  });
});
