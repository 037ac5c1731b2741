import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TABLE, TestStack } from '../support/local-stack.js';
import { blockActionsPayload, encodeInteractionBody, signedSlackBody } from '../support/slack.js';

type Req = {
  id: string;
  status: string;
  decisions: Array<Record<string, unknown>>;
  grant?: { notAfter: string };
};

/** Issue "Approval workflow": the real ASL file in the local Step Functions, decided through signed Slack clicks. */
describe('approval workflow with Slack on the local stack', () => {
  let stack: TestStack;
  let agent: string;
  let approver: string;

  beforeAll(async () => {
    stack = await TestStack.start();
    agent = await stack.agentToken('deploy-bot');
    approver = await stack.token('alice@example.com', ['approvers']);
  }, 60_000);
  afterAll(() => stack?.stop());

  // Returns once the workflow has posted the message and recorded when it was shown.
  const pending = async (table: string, extra: Record<string, unknown> = {}) => ({
    id: await stack.pendingRequest(agent, table, extra),
  });
  const read = async (id: string) =>
    (await stack.call('GET', `/v1/requests/${id}`, { token: approver })).body as Req & { shownAt?: string };

  it('posts an approval message with approve/deny buttons carrying only the request id', async () => {
    const request = await pending('orders');
    const message = stack.approvalMessage(request.id)!;
    const text = JSON.stringify(message);
    expect(text).toContain('dynamodb:PutItem');
    expect(text).toContain(TABLE('orders'));
    const buttons = JSON.stringify(message.blocks).match(/"action_id":"(approve|deny)"/g);
    expect(buttons).toEqual(['"action_id":"approve"', '"action_id":"deny"']);
    // The task token stays in DynamoDB: nothing token-like is in the message.
    expect(text).not.toMatch(/taskToken|AAAA[A-Za-z0-9+/]{200,}/);
  });

  it('shows a hostile reason as inert text within Block Kit limits', async () => {
    const hostile = '<!channel> <@U0ALICE> *URGENT* <https://evil.example|click to approve> @here `rm -rf` \n'
      .repeat(40)
      .slice(0, 2000);
    const request = await pending('orders', {
      reason: hostile,
      context: { task: '<!everyone> INC-1', model: '*m*' },
    });
    const text = JSON.stringify(stack.approvalMessage(request.id));
    // The local Slack sink refuses messages Slack would refuse (block count, text sizes), so posting succeeded within limits.
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<!everyone>');
    expect(text).not.toContain('<@U0ALICE>');
    expect(text).not.toContain('<https://evil.example');
  });

  it('a signed click by a mapped approver approves, and a long-poll sees it within 1 s', async () => {
    const request = await pending('orders');
    const poll = stack.call('GET', `/v1/requests/${request.id}?waitSeconds=10`, { token: agent });
    await new Promise((r) => setTimeout(r, 300));
    const clickedAt = Date.now();
    const click = await stack.click({ requestId: request.id, userId: 'U0ALICE' });
    expect(click).toMatchObject({ status: 200, body: { ok: true, outcome: 'approved' } });
    const seen = await poll;
    expect(seen.body).toMatchObject({
      status: 'APPROVED',
      decisions: [{ approver: 'alice@example.com', decision: 'approve', channel: 'slack' }],
    });
    expect(Date.now() - clickedAt).toBeLessThan(1000);
    // The workflow moved on to the grant and rewrote the message without buttons.
    await eventually(() => stack.settledInSlack(request.id));
    const ephemeral = stack.slackMessages().find((m) => m.ephemeral && m.user === 'U0ALICE');
    expect(ephemeral).toBeDefined();
  });

  it('refuses a forged signature, a stale or future timestamp, and changes nothing', async () => {
    const request = await pending('orders');
    const body = encodeInteractionBody(blockActionsPayload({ requestId: request.id, userId: 'U0ALICE' }));
    const forged = signedSlackBody('not-the-signing-secret-0000000000', body);
    expect(
      (await stack.call('POST', '/v1/slack/interactions', { rawBody: body, headers: forged.headers })).status,
    ).toBe(401);
    for (const skew of [-301_000, 301_000]) {
      const signed = signedSlackBody(stack.stack.slackSigningSecret, body, new Date(Date.now() + skew));
      const answer = await stack.call('POST', '/v1/slack/interactions', {
        rawBody: body,
        headers: signed.headers,
      });
      expect(answer).toMatchObject({ status: 401, body: { error: { code: 'Unauthorized' } } });
    }
    expect((await read(request.id)).status).toBe('PENDING');
  });

  it('refuses an unmapped Slack user, another team, and the human the agent acts for', async () => {
    const request = await pending('orders', { context: { onBehalfOf: 'bob@example.com' } });
    const unmapped = await stack.click({ requestId: request.id, userId: 'U0MALLORY' });
    expect(unmapped).toMatchObject({ status: 200, body: { ok: false, code: 'NotAnApprover' } });
    const otherTeam = await stack.click({ requestId: request.id, userId: 'U0ALICE', teamId: 'T0OTHER0000' });
    expect(otherTeam.status).toBe(401);
    const self = await stack.click({ requestId: request.id, userId: 'U0BOB' });
    expect(self).toMatchObject({ status: 200, body: { ok: false, code: 'SelfApproval' } });
    const after = await read(request.id);
    expect(after).toMatchObject({ status: 'PENDING', decisions: [] });
  });

  it('refuses an approval faster than minReviewSeconds with TooFast, then accepts it after', async () => {
    const request = await pending('audited-ledger');
    const tooFast = await stack.click({ requestId: request.id, userId: 'U0ALICE' });
    expect(tooFast).toMatchObject({ status: 200, body: { ok: false, code: 'TooFast' } });
    const viaApi = await stack.call('POST', `/v1/requests/${request.id}/decisions`, {
      token: approver,
      body: { decision: 'approve' },
    });
    expect(viaApi).toMatchObject({ status: 422, body: { error: { code: 'TooFast' } } });
    expect((await read(request.id)).status).toBe('PENDING');
    await new Promise((r) => setTimeout(r, 3_100));
    const later = await stack.click({ requestId: request.id, userId: 'U0ALICE' });
    expect(later.body).toMatchObject({ ok: true, outcome: 'approved' });
  });

  it('needs two different approvers under quorum 2; a double click counts once', async () => {
    const request = await pending('payments');
    expect((await stack.click({ requestId: request.id, userId: 'U0ALICE' })).body).toMatchObject({
      ok: true,
    });
    const twice = await stack.click({ requestId: request.id, userId: 'U0ALICE' });
    expect(twice.body).toMatchObject({ ok: false, code: 'AlreadyDecided' });
    expect((await read(request.id)).status).toBe('PENDING');
    expect((await stack.click({ requestId: request.id, userId: 'U0CAROL' })).body).toMatchObject({
      ok: true,
      outcome: 'approved',
    });
    const done = await read(request.id);
    expect(done.status).toBe('APPROVED');
    expect(done.decisions.map((d) => d.approver)).toEqual(['alice@example.com', 'carol@example.com']);
  });

  it('a deny ends the request DENIED and the workflow ends', async () => {
    const request = await pending('orders');
    const deny = await stack.click({ requestId: request.id, userId: 'U0BOB', actionId: 'deny' });
    expect(deny.body).toMatchObject({ ok: true, outcome: 'denied' });
    expect((await read(request.id)).status).toBe('DENIED');
    const execution = await eventually(() =>
      stack.stack.sfn.executions().find((e) => e.name === request.id && e.status !== 'RUNNING'),
    );
    expect(execution.status).toBe('SUCCEEDED');
  });

  it('an approve racing a deny yields exactly one outcome and one workflow resumption', async () => {
    const request = await pending('orders');
    const [a, b] = await Promise.all([
      stack.click({ requestId: request.id, userId: 'U0ALICE' }),
      stack.click({ requestId: request.id, userId: 'U0BOB', actionId: 'deny' }),
    ]);
    const winners = [a, b].filter((x) => x.body.ok === true);
    expect(winners).toHaveLength(1);
    const final = await read(request.id);
    expect(['APPROVED', 'DENIED']).toContain(final.status);
    expect(final.decisions).toHaveLength(1);
    const execution = await eventually(() => {
      const e = stack.stack.sfn.executions().find((x) => x.name === request.id);
      // An approved request waits for notAfter; a denied one ends.
      return e && (e.status !== 'RUNNING' || final.status === 'APPROVED') ? e : undefined;
    });
    expect(execution.status === 'SUCCEEDED' || final.status === 'APPROVED').toBe(true);
  });

  it('the API channel decides through the same rules', async () => {
    const request = await pending('orders');
    const agentTries = await stack.call('POST', `/v1/requests/${request.id}/decisions`, {
      token: agent,
      body: { decision: 'approve' },
    });
    expect(agentTries.status).toBe(403);
    const dave = await stack.token('dave@example.com', ['approvers']);
    // dave is an approver by group (`group:approvers` in the rule).
    const answer = await stack.call('POST', `/v1/requests/${request.id}/decisions`, {
      token: dave,
      body: { decision: 'approve', comment: 'ok' },
    });
    expect(answer).toMatchObject({
      status: 200,
      body: {
        status: 'APPROVED',
        decisions: [{ approver: 'dave@example.com', channel: 'api', comment: 'ok' }],
      },
    });
    const again = await stack.call('POST', `/v1/requests/${request.id}/decisions`, {
      token: approver,
      body: { decision: 'deny' },
    });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'AlreadyDecided' } } });
  });
});

describe('approval timeout', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await TestStack.start();
  }, 60_000);
  afterAll(() => stack?.stop());

  it('a request nobody answers becomes TIMED_OUT at the rule timeout, and a late click is refused', async () => {
    const agent = await stack.agentToken();
    const answer = await stack.request(agent, {
      resource: TABLE('ephemeral-cache'),
      actions: ['dynamodb:PutItem'],
    });
    const id = String(answer.body.id);
    const timedOut = await eventually(async () => {
      const r = await stack.call('GET', `/v1/requests/${id}?waitSeconds=5`, { token: agent });
      return r.body.status === 'TIMED_OUT' ? r : undefined;
    }, 25_000);
    expect(timedOut.body).toMatchObject({
      status: 'TIMED_OUT',
      outcome: { reason: expect.stringContaining('10 s') },
    });
    const late = await stack.click({ requestId: id, userId: 'U0ALICE' });
    expect(late.body).toMatchObject({ ok: false });
    expect(['TimedOut', 'AlreadyDecided']).toContain(late.body.code);
  }, 40_000);
});
