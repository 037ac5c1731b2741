import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambdas/core/config.js';
import { Decisions } from '../../lambdas/core/decisions.js';
import { ConditionFailedError, TimedOutError } from '../../lambdas/core/errors.js';
import type { AccessRequest } from '../../lambdas/core/model.js';
import type { ApprovalWorkflow, RequestStore } from '../../lambdas/core/ports.js';
import { effectiveStatus } from '../../lambdas/core/status.js';

/**
 * A request past its approval timeout is never approved, whether or not its workflow recorded the
 * timeout yet (issue 13: one was approvable for ~5 more minutes, the readers' grace period). The
 * store is in memory so the clock can sit exactly around the deadline.
 */
const config = parseConfig({
  identity: { audience: 'countersign' },
  roles: { agents: ['agents'], approvers: ['approvers'], auditors: ['auditors'] },
  slack: { channel: 'C0123456789', teamId: 'T0123456789', appId: 'A0123456789', users: {} },
  targets: [{ account: '111122223333', roleArn: 'arn:aws:iam::111122223333:role/target' }],
  rules: [
    { name: 'writes', effect: 'approve', approvers: ['alice@example.com'], approvalTimeoutSeconds: 60 },
  ],
  default: 'deny',
});

const CREATED = Date.parse('2026-11-30T06:00:00.000Z');

const pending = (): AccessRequest => ({
  id: 'req_AAAAAAAAAAAAAAAAAAAA',
  status: 'PENDING',
  requester: { sub: 'bot', issuer: 'https://issuer', groups: ['agents'] },
  resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
  actions: ['dynamodb:PutItem'],
  reason: 'test',
  context: {},
  durationSeconds: 900,
  createdAt: new Date(CREATED).toISOString(),
  updatedAt: new Date(CREATED).toISOString(),
  policy: {
    rule: 'writes',
    effect: 'approve',
    accessLevels: ['Write'],
    quorum: 1,
    approvers: ['alice@example.com'],
    approvalTimeoutSeconds: 60,
  },
  decisions: [],
  version: 1,
});

function decideAt(secondsAfterCreation: number, decision: 'approve' | 'deny' = 'approve') {
  let request = pending();
  const store = {
    get: async () => structuredClone(request),
    getTaskToken: async () => undefined,
    replace: async (next: AccessRequest, condition: { expectedVersion: number }) => {
      if (request.version !== condition.expectedVersion) throw new ConditionFailedError();
      request = structuredClone(next);
    },
  };
  const workflow: ApprovalWorkflow = {
    start: async () => undefined,
    stop: async () => undefined,
    succeed: async () => 'gone',
    fail: async () => 'gone',
  };
  const now = new Date(CREATED + secondsAfterCreation * 1000);
  const decisions = new Decisions({
    store: store as unknown as RequestStore,
    workflow,
    clock: { now: () => now },
    config,
  });
  return {
    result: decisions.decide({
      requestId: request.id,
      approver: 'alice@example.com',
      decision,
      channel: 'slack',
    }),
    stored: () => request,
  };
}

describe('the approval deadline', () => {
  it('approves a request one second before its approval timeout', async () => {
    const { result, stored } = decideAt(59);
    await expect(result).resolves.toMatchObject({ outcome: 'approved' });
    expect(stored().status).toBe('APPROVED');
  });

  it.each([60, 61, 120, 359])(
    'refuses an approval %i s after creation (timeout 60 s) although readers still see PENDING',
    async (seconds) => {
      const { result, stored } = decideAt(seconds);
      // Within the readers' grace: the old code judged by effectiveStatus alone and approved this.
      expect(effectiveStatus(pending(), new Date(CREATED + seconds * 1000))).toBe('PENDING');
      await expect(result).rejects.toBeInstanceOf(TimedOutError);
      expect(stored().status).toBe('PENDING');
      expect(stored().grant).toBeUndefined();
    },
  );

  it('refuses a deny past the deadline too: the timeout is the outcome', async () => {
    const { result } = decideAt(90, 'deny');
    await expect(result).rejects.toBeInstanceOf(TimedOutError);
  });
});
