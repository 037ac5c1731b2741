import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambdas/core/config.js';
import { Decisions } from '../../lambdas/core/decisions.js';
import { ConditionFailedError } from '../../lambdas/core/errors.js';
import type { AccessRequest, RequestStatus } from '../../lambdas/core/model.js';
import type { ApprovalWorkflow, RequestStore } from '../../lambdas/core/ports.js';

/**
 * The decision path's hand-off to the workflow, where ordering matters. The store and workflow are
 * in memory so the test can interleave a notify step (storing or replacing the task token) with a
 * decision exactly where a real race would.
 */
const config = parseConfig({
  identity: { audience: 'countersign' },
  roles: { agents: ['agents'], approvers: ['approvers'], auditors: ['auditors'] },
  slack: { channel: 'C0123456789', teamId: 'T0123456789', appId: 'A0123456789', users: {} },
  targets: [{ account: '111122223333', roleArn: 'arn:aws:iam::111122223333:role/target' }],
  rules: [{ name: 'writes', effect: 'approve', approvers: ['alice@example.com'] }],
  default: 'deny',
});

const pendingRequest = (): AccessRequest => ({
  id: 'req_AAAAAAAAAAAAAAAAAAAA',
  status: 'PENDING',
  requester: { sub: 'bot', issuer: 'https://issuer', groups: ['agents'] },
  resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
  actions: ['dynamodb:PutItem'],
  reason: 'test',
  context: {},
  durationSeconds: 900,
  createdAt: new Date(Date.now() - 60_000).toISOString(),
  updatedAt: new Date().toISOString(),
  policy: {
    rule: 'writes',
    effect: 'approve',
    accessLevels: ['Write'],
    quorum: 1,
    approvers: ['alice@example.com'],
  },
  decisions: [],
  version: 1,
});

class MemoryStore implements Partial<RequestStore> {
  request = pendingRequest();
  token: string | undefined;
  /** Runs once, right after the first token read: where a concurrent notify step would land. */
  afterTokenRead: (() => void) | undefined;
  async get() {
    return structuredClone(this.request);
  }
  async getTaskToken() {
    const token = this.token;
    const hook = this.afterTokenRead;
    this.afterTokenRead = undefined;
    hook?.();
    return token;
  }
  async replace(next: AccessRequest, condition: { expectedVersion: number; from: readonly RequestStatus[] }) {
    if (this.request.version !== condition.expectedVersion) throw new ConditionFailedError();
    this.request = structuredClone(next);
  }
}

class RecordingWorkflow implements ApprovalWorkflow {
  readonly sent: string[] = [];
  live = new Set<string>();
  async start() {}
  async stop() {}
  async succeed(token: string) {
    this.sent.push(token);
    return this.live.delete(token) ? ('sent' as const) : ('gone' as const);
  }
  async fail(token: string) {
    return this.succeed(token);
  }
}

function setup() {
  const store = new MemoryStore();
  const workflow = new RecordingWorkflow();
  const decisions = new Decisions({
    store: store as unknown as RequestStore,
    workflow,
    clock: { now: () => new Date() },
    config,
  });
  const approve = () =>
    decisions.decide({
      requestId: store.request.id,
      approver: 'alice@example.com',
      decision: 'approve',
      channel: 'api',
    });
  return { store, workflow, approve };
}

describe('Decisions → workflow hand-off', () => {
  it('uses the task token read alongside the decision', async () => {
    const { store, workflow, approve } = setup();
    store.token = 'token-1';
    workflow.live.add('token-1');
    const result = await approve();
    expect(result.outcome).toBe('approved');
    expect(workflow.sent).toEqual(['token-1']);
  });

  it('reads the token again after the write when none was there before it (a notify step storing it meanwhile)', async () => {
    const { store, workflow, approve } = setup();
    store.afterTokenRead = () => {
      store.token = 'token-late';
      workflow.live.add('token-late');
    };
    await approve();
    expect(workflow.sent).toEqual(['token-late']);
  });

  it('tries the current token once when the one read early was replaced by a retried notify step', async () => {
    const { store, workflow, approve } = setup();
    store.token = 'token-old';
    store.afterTokenRead = () => {
      store.token = 'token-new';
      workflow.live.add('token-new');
    };
    await approve();
    expect(workflow.sent).toEqual(['token-old', 'token-new']);
    expect(workflow.live.size).toBe(0);
  });

  it('sends nothing when no notify step has stored a token yet (it will resume the workflow itself)', async () => {
    const { workflow, approve } = setup();
    const result = await approve();
    expect(result.request.status).toBe('APPROVED');
    expect(workflow.sent).toEqual([]);
  });
});
