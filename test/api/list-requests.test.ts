import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE, TestStack } from '../support/local-stack.js';

type Listing = {
  items: Array<{ id: string; status: string; requester: { sub: string } }>;
  nextCursor: string | null;
};

/** `GET /v1/requests`: the caller's view and the approvers' inbox, over HTTP on the local stack. */
describe('GET /v1/requests', () => {
  let stack: TestStack;
  let deployBot: string;
  let etlBot: string;
  let alice: string;
  let bob: string;
  let dave: string;
  let auditor: string;
  /** Ids by what they are, in creation order. */
  const made: Record<string, string> = {};

  const list = async (token: string, query: Record<string, string> = {}) => {
    const qs = new URLSearchParams(query).toString();
    return stack.call<Listing>('GET', `/v1/requests${qs ? `?${qs}` : ''}`, { token });
  };
  /** Every page, following nextCursor. */
  const listAll = async (token: string, query: Record<string, string> = {}) => {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const answer = await list(token, { ...query, ...(cursor ? { cursor } : {}) });
      expect(answer.status).toBe(200);
      ids.push(...answer.body.items.map((i) => i.id));
      cursor = answer.body.nextCursor;
      if (!cursor) return ids;
    }
    throw new Error('too many pages');
  };

  beforeAll(async () => {
    stack = await TestStack.start();
    deployBot = await stack.agentToken('deploy-bot');
    etlBot = await stack.agentToken('etl-bot');
    alice = await stack.token('alice@example.com', ['approvers']);
    bob = await stack.token('bob@example.com', ['approvers']);
    // dave is named by no rule except through `group:approvers` (the writes rule).
    dave = await stack.token('dave@example.com', ['approvers']);
    auditor = await stack.token('audra@example.com', ['auditors']);

    const created = async (token: string, body: Record<string, unknown>) => {
      const answer = await stack.request(token, body);
      expect(answer.status).toBe(201);
      return String(answer.body.id);
    };
    made.read = await created(deployBot, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    made.denied = await created(deployBot, { resource: TABLE('orders'), actions: ['dynamodb:DeleteTable'] });
    made.writes = await stack.pendingRequest(deployBot, 'orders');
    made.payments = await stack.pendingRequest(etlBot, 'payments');
    made.forDave = await stack.pendingRequest(etlBot, 'orders', {
      context: { onBehalfOf: 'dave@example.com' },
    });
    made.approved = await stack.approvedRequest(etlBot, 'orders');
    // alice approves the two-key payments request once: still PENDING, but no longer hers to decide.
    const first = await stack.call('POST', `/v1/requests/${made.payments}/decisions`, {
      token: alice,
      body: { decision: 'approve' },
    });
    expect(first.body).toMatchObject({ status: 'PENDING', approvals: 1, quorum: 2 });
  }, 120_000);
  afterAll(() => stack?.stop());

  it('shows an agent its own requests only, newest first', async () => {
    const answer = await list(deployBot);
    expect(answer.status).toBe(200);
    expect(answer.body.items.map((i) => i.id)).toEqual([made.writes, made.denied, made.read]);
    expect(answer.body.items.every((i) => i.requester.sub === 'deploy-bot')).toBe(true);
    expect(answer.body.nextCursor).toBeNull();

    const pending = await list(etlBot, { status: 'PENDING' });
    expect(pending.body.items.map((i) => i.id)).toEqual([made.forDave, made.payments]);
  });

  it("is each approver's inbox with status=PENDING: named by the rule, not their own, not yet decided by them", async () => {
    const ids = async (token: string) =>
      (await list(token, { status: 'PENDING' })).body.items.map((i) => i.id);

    // alice: named on writes and payments; she already approved payments.
    expect(await ids(alice)).toEqual([made.forDave, made.writes]);
    // bob: named on both, decided neither.
    expect(await ids(bob)).toEqual([made.forDave, made.payments, made.writes]);
    // dave: through group:approvers on writes only; the request on his behalf is not his to decide.
    expect(await ids(dave)).toEqual([made.writes]);
  });

  it('shows approvers what they may decide in every status, and auditors everything', async () => {
    const daveAll = await listAll(dave);
    expect(daveAll).toEqual([made.approved, made.writes]);

    const everything = await listAll(auditor, { limit: '2' });
    expect(everything).toEqual([
      made.approved,
      made.forDave,
      made.payments,
      made.writes,
      made.denied,
      made.read,
    ]);
    expect(await listAll(auditor, { status: 'APPROVED' })).toEqual([made.approved, made.read]);
    expect(await listAll(auditor, { status: 'DENIED', limit: '1' })).toEqual([made.denied]);
  });

  it('pages with an opaque cursor bound to the caller and the filter', async () => {
    const first = await list(auditor, { limit: '1' });
    expect(first.body.items).toHaveLength(1);
    const cursor = String(first.body.nextCursor);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);

    const other = await list(deployBot, { limit: '1', cursor });
    expect(other.status).toBe(400);
    expect(other.body).toMatchObject({ error: { code: 'ValidationError', details: { field: 'cursor' } } });
    const otherFilter = await list(auditor, { limit: '1', status: 'PENDING', cursor });
    expect(otherFilter.status).toBe(400);
    const tampered = await list(auditor, { limit: '1', cursor: `${cursor.slice(0, -2)}zz` });
    expect(tampered.status).toBe(400);
  });

  it('refuses bad parameters with 400, a caller without a role with 403, no token with 401', async () => {
    expect((await list(auditor, { status: 'OPEN' })).status).toBe(400);
    expect((await list(auditor, { limit: '0' })).status).toBe(400);
    expect((await list(auditor, { limit: '101' })).status).toBe(400);
    const unknown = await list(auditor, { agent: 'deploy-bot' });
    expect(unknown).toMatchObject({ status: 400, body: { error: { details: { field: 'agent' } } } });

    const nobody = await stack.token('mallory', ['visitors']);
    expect((await list(nobody)).status).toBe(403);
    expect((await stack.call('GET', '/v1/requests')).status).toBe(401);
  });
});
