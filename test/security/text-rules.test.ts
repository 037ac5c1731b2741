import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestStack } from '../support/local-stack.js';
import { expectContractError } from './support.js';

/**
 * Threat (issue 12 item 10): hostile text that a reviewer reads — a revoke's reason, an approver's
 * comment — carrying a bidi override (the line reads differently from what it is) or an ANSI escape
 * (it rewrites a terminal showing the evidence). Door: `POST …/revoke`, `POST …/decisions`. Guard:
 * validateText (lambdas/core/text-rules.ts), the same rules as a request's reason.
 */
const RLO = '\u202e';
const ANSI = '\u001b[2J\u001b[31m';

describe('text rules: the same for reasons, revoke reasons and comments', () => {
  let stack: TestStack;
  let agent: string;
  let approver: string;

  beforeAll(async () => {
    stack = await TestStack.start();
    agent = await stack.agentToken('texty-bot');
    approver = await stack.token('dave@example.com', ['approvers']);
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const status = async (id: string) =>
    (await stack.call('GET', `/v1/requests/${id}`, { token: agent })).body.status;

  it.each([
    ['a bidi override', `Done with it ${RLO}txt.exe`],
    ['an ANSI escape', `Done ${ANSI}all clear`],
    ['a line separator', 'Done\u2028Approved by security'],
  ])('refuses a revoke reason with %s, and revokes nothing', async (_label, reason) => {
    // Prepare
    const id = await stack.approvedRequest(agent, 'orders');

    // Act
    const answer = await stack.call('POST', `/v1/requests/${id}/revoke`, { token: agent, body: { reason } });

    // Assess
    expectContractError(answer, 400, 'ValidationError');
    expect((answer.body as { error: { details?: unknown } }).error.details).toMatchObject({
      field: 'reason',
    });
    expect(await status(id)).toBe('APPROVED');
  });

  it.each([
    ['a bidi override', `Looks fine ${RLO}deny`],
    ['an ANSI escape', `Looks fine ${ANSI}`],
    ['a NUL', 'Looks\u0000fine'],
  ])('refuses a decision comment with %s, and decides nothing', async (_label, comment) => {
    // Prepare
    const id = await stack.pendingRequest(agent, 'orders');

    // Act
    const answer = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: approver,
      body: { decision: 'approve', comment },
    });

    // Assess
    expectContractError(answer, 400, 'ValidationError');
    expect((answer.body as { error: { details?: unknown } }).error.details).toMatchObject({
      field: 'comment',
    });
    expect(await status(id)).toBe('PENDING');
  });

  it('accepts plain multi-line text in both (the refusals above are about the characters)', async () => {
    const id = await stack.pendingRequest(agent, 'orders');
    const decided = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: approver,
      body: { decision: 'approve', comment: 'Checked the ticket.\nINC-2291\tok' },
    });
    expect(decided.status).toBe(200);
    const revoked = await stack.call('POST', `/v1/requests/${id}/revoke`, {
      token: agent,
      body: { reason: 'Finished early.\nGiving it back.' },
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('REVOKED');
  });
});
