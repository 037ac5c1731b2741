import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambdas/core/config.js';
import { type DecisionInput, Decisions, parseDecisionBody } from '../../lambdas/core/decisions.js';
import {
  AlreadyDecidedError,
  ConditionFailedError,
  ForbiddenError,
  ValidationError,
} from '../../lambdas/core/errors.js';
import type { AccessRequest, Caller, RequestStatus, Role } from '../../lambdas/core/model.js';
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

const apiCaller = (sub: string, ...roles: Role[]): Caller => ({
  sub,
  issuer: 'https://issuer',
  groups: [],
  roles: new Set(roles),
});

class MemoryStore implements Partial<RequestStore> {
  request = pendingRequest();
  token: string | undefined;
  reads = 0;
  /** Runs once, right after the first token read: where a concurrent notify step would land. */
  afterTokenRead: (() => void) | undefined;
  async get() {
    this.reads++;
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
  /** Fails every send, as Step Functions does while it is unreachable. */
  unreachable = false;
  async start() {}
  async stop() {}
  async succeed(token: string) {
    if (this.unreachable) throw new Error('Step Functions unreachable');
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
  const warnings: Array<{ message: string; fields?: Record<string, unknown> }> = [];
  const decisions = new Decisions({
    store: store as unknown as RequestStore,
    workflow,
    clock: { now: () => new Date() },
    config,
    log: { warn: (message, fields) => warnings.push({ message, ...(fields ? { fields } : {}) }) },
  });
  const approve = () =>
    decisions.decide({
      requestId: store.request.id,
      caller: apiCaller('alice@example.com', 'approver'),
      decision: 'approve',
      channel: 'api',
    });
  return { store, workflow, decisions, warnings, approve };
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

describe('who may decide', () => {
  it('refuses an API caller without the approver role before reading the request, even one the rule names', async () => {
    const { store, decisions } = setup();
    const attempt = decisions.decide({
      requestId: store.request.id,
      caller: apiCaller('alice@example.com', 'agent', 'auditor'),
      decision: 'approve',
      channel: 'api',
    });
    await expect(attempt).rejects.toBeInstanceOf(ForbiddenError);
    expect(store.reads).toBe(0);
    expect(store.request.status).toBe('PENDING');
  });

  it('takes a Slack approver from the mapping, without roles', async () => {
    const { store, decisions } = setup();
    const result = await decisions.decide({
      requestId: store.request.id,
      approver: 'alice@example.com',
      decision: 'approve',
      channel: 'slack',
    });
    expect(result.outcome).toBe('approved');
    expect(store.request.decisions).toMatchObject([{ approver: 'alice@example.com', channel: 'slack' }]);
  });
});

describe('parseDecisionBody', () => {
  it('accepts a decision with or without a comment', () => {
    expect(parseDecisionBody('{"decision":"deny","comment":"not now"}')).toEqual({
      decision: 'deny',
      comment: 'not now',
    });
    expect(parseDecisionBody('{"decision":"approve"}')).toEqual({ decision: 'approve' });
  });

  it.each([
    ['an unknown field', '{"decision":"approve","approver":"mallory"}', 'approver'],
    ['another decision', '{"decision":"maybe"}', 'decision'],
    ['no decision', '{}', 'decision'],
    ['a comment that is not text', '{"decision":"deny","comment":42}', 'comment'],
    ['not an object', '["approve"]', 'body'],
  ])('refuses %s, naming the field', (_name, raw, field) => {
    let error: unknown;
    try {
      parseDecisionBody(raw);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });
});

/**
 * A repeated decision on a settled request is the natural retry after a resume that failed: on
 * either channel it re-drives the workflow, and the decider is answered AlreadyDecided whatever the
 * re-drive does; a failed re-drive is reported once, the same way for both channels.
 */
describe('a repeated decision re-drives the workflow', () => {
  const repeat = (decisions: Decisions, channel: 'api' | 'slack', requestId: string) => {
    const input: DecisionInput =
      channel === 'api'
        ? { requestId, caller: apiCaller('alice@example.com', 'approver'), decision: 'approve', channel }
        : { requestId, approver: 'alice@example.com', decision: 'approve', channel };
    return decisions.decide(input);
  };

  for (const channel of ['api', 'slack'] as const) {
    it(`through ${channel}: tells a workflow that was never told, and answers AlreadyDecided`, async () => {
      const { store, workflow, decisions, warnings, approve } = setup();
      store.token = 'token-1';
      workflow.live.add('token-1');
      workflow.unreachable = true;
      await expect(approve()).rejects.toMatchObject({ code: 'DependencyUnavailable' });
      expect(store.request.status).toBe('APPROVED');
      workflow.unreachable = false;

      await expect(repeat(decisions, channel, store.request.id)).rejects.toBeInstanceOf(AlreadyDecidedError);
      expect(workflow.sent).toEqual(['token-1']);
      expect(workflow.live.size).toBe(0);
      expect(warnings).toEqual([]);
    });

    it(`through ${channel}: a failed re-drive is reported and the answer is still AlreadyDecided`, async () => {
      const { store, workflow, decisions, warnings, approve } = setup();
      store.token = 'token-1';
      workflow.live.add('token-1');
      workflow.unreachable = true;
      await expect(approve()).rejects.toMatchObject({ code: 'DependencyUnavailable' });

      await expect(repeat(decisions, channel, store.request.id)).rejects.toBeInstanceOf(AlreadyDecidedError);
      expect(warnings).toEqual([
        {
          message: 'workflow not re-driven after a repeated decision',
          fields: {
            requestId: store.request.id,
            status: 'APPROVED',
            error: { name: 'Error', message: 'Step Functions unreachable' },
          },
        },
      ]);
    });
  }

  it('does not touch the workflow when the repeat is an approver voting twice on a pending request', async () => {
    const { store, workflow, decisions } = setup();
    store.request.policy.quorum = 2;
    store.request.policy.approvers = ['alice@example.com', 'bob@example.com'];
    store.token = 'token-1';
    workflow.live.add('token-1');
    await approve(decisions);
    await expect(approve(decisions)).rejects.toBeInstanceOf(AlreadyDecidedError);
    expect(store.request.status).toBe('PENDING');
    expect(workflow.sent).toEqual([]);
  });
});

const approve = (decisions: Decisions) =>
  decisions.decide({
    requestId: 'req_AAAAAAAAAAAAAAAAAAAA',
    caller: apiCaller('alice@example.com', 'approver'),
    decision: 'approve',
    channel: 'api',
  });
