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

/**
 * The decision rules themselves (DESIGN.md §1): nobody approves their own request, a quorum counts
 * distinct people, one vote per approver, and no approval before the minimum review time. Each case
 * names the rule of `Decisions.judge` it holds in place: breaking that line makes it fail.
 */
describe('decision rules', () => {
  const T0 = Date.parse('2025-06-02T10:00:00.000Z');

  function rules(policy: Partial<AccessRequest['policy']>, request: Partial<AccessRequest> = {}) {
    const store = new MemoryStore();
    store.request = {
      ...pendingRequest(),
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
      shownAt: new Date(T0).toISOString(),
      ...request,
      policy: {
        ...pendingRequest().policy,
        approvers: ['alice@example.com', 'bob@example.com', 'carol@example.com'],
        ...policy,
      },
    };
    let now = T0 + 60_000;
    const decisions = new Decisions({
      store: store as unknown as RequestStore,
      workflow: new RecordingWorkflow(),
      clock: { now: () => new Date(now) },
      config,
    });
    const decide = (approver: string, decision: 'approve' | 'deny' = 'approve') =>
      decisions.decide({ requestId: store.request.id, approver, decision, channel: 'slack' });
    return {
      store,
      decide,
      /** The decision's error (its code), or its outcome. */
      attempt: (approver: string, decision: 'approve' | 'deny' = 'approve') =>
        decide(approver, decision).then(
          (result) => result.outcome,
          (error: { code?: string }) => error.code ?? String(error),
        ),
      at: (secondsAfterShown: number) => {
        now = T0 + secondsAfterShown * 1000;
      },
    };
  }

  describe('self-approval', () => {
    it.each([
      ['the requester', 'alice@example.com', {}],
      ['the requester, in another case and width', 'ＡＬＩＣＥ@example.com', {}],
      ['a look-alike of the requester (Cyrillic а)', '\u0430lice@example.com', {}],
    ])('refuses %s as approver, records the refusal, and leaves the request PENDING', async (_, approver) => {
      const { store, attempt } = rules(
        {},
        { requester: { sub: 'alice@example.com', issuer: 'i', groups: [] } },
      );

      expect(await attempt(approver)).toBe('SelfApproval');
      expect(store.request.status).toBe('PENDING');
      expect(store.request.decisions).toEqual([]);
      expect(store.request.refusals).toEqual([
        expect.objectContaining({ code: 'SelfApproval', channel: 'slack' }),
      ]);
    });

    it('refuses the person the request was made on behalf of, and lets another approver decide', async () => {
      const { store, attempt } = rules({}, { context: { onBehalfOf: 'bob@example.com' } });

      expect(await attempt('bob@example.com')).toBe('SelfApproval');
      expect(await attempt('bob@example.com', 'deny')).toBe('SelfApproval');
      expect(await attempt('alice@example.com')).toBe('approved');
      expect(store.request.decisions.map((d) => d.approver)).toEqual(['alice@example.com']);
    });

    it('refuses someone the rule does not name', async () => {
      const { store, attempt } = rules({ approvers: ['alice@example.com', 'group:approvers'] });

      expect(await attempt('mallory@example.com')).toBe('NotAnApprover');
      expect(store.request.status).toBe('PENDING');
    });
  });

  describe('quorum', () => {
    it('stays PENDING until quorum distinct approvers approved, then approves with a grant', async () => {
      const { store, decide } = rules({ quorum: 2 });

      const first = await decide('alice@example.com');
      expect(first).toMatchObject({ outcome: 'recorded', approvals: 1, quorum: 2 });
      expect(store.request.status).toBe('PENDING');
      expect(store.request.grant).toBeUndefined();

      const second = await decide('bob@example.com');
      expect(second).toMatchObject({ outcome: 'approved', approvals: 2, quorum: 2 });
      expect(store.request.status).toBe('APPROVED');
      expect(store.request.grant?.resource).toBe(store.request.resource);
    });

    it('lets one deny settle the request whatever the quorum', async () => {
      const { store, decide } = rules({ quorum: 3 });

      await decide('alice@example.com');
      const denied = await decide('bob@example.com', 'deny');

      expect(denied.outcome).toBe('denied');
      expect(store.request.status).toBe('DENIED');
      expect(store.request.grant).toBeUndefined();
    });
  });

  describe('one vote per approver', () => {
    it('refuses a second decision by the same approver, in any spelling of the same identity', async () => {
      const { store, attempt } = rules({ quorum: 2 });

      expect(await attempt('alice@example.com')).toBe('recorded');
      expect(await attempt('alice@example.com')).toBe('AlreadyDecided');
      expect(await attempt('Alice@Example.COM')).toBe('AlreadyDecided');
      expect(await attempt('alice@example.com', 'deny')).toBe('AlreadyDecided');

      expect(store.request.status).toBe('PENDING');
      expect(store.request.decisions).toHaveLength(1);
    });

    it('counts approvals by person: two stored votes of one identity are one toward the quorum', async () => {
      // Two votes by one person in two spellings (as a record written before normal forms could hold).
      const vote = (approver: string) => ({
        approver,
        decision: 'approve' as const,
        channel: 'slack' as const,
        at: new Date(T0).toISOString(),
        reviewSeconds: 30,
      });
      const { store, decide } = rules(
        { quorum: 3 },
        { decisions: [vote('alice@example.com'), vote('ALICE@EXAMPLE.COM')] },
      );

      const result = await decide('bob@example.com');

      expect(result).toMatchObject({ outcome: 'recorded', approvals: 2, quorum: 3 });
      expect(store.request.status).toBe('PENDING');
    });
  });

  describe('too fast (minReviewSeconds)', () => {
    it('refuses an approval before minReviewSeconds in refuse mode, records it, and accepts one after', async () => {
      const { store, decide, at } = rules({ minReviewSeconds: 5, minReviewMode: 'refuse' });

      at(2);
      await expect(decide('alice@example.com')).rejects.toMatchObject({
        code: 'TooFast',
        details: { minReviewSeconds: 5, reviewSeconds: 2 },
      });
      expect(store.request.status).toBe('PENDING');
      expect(store.request.refusals).toEqual([expect.objectContaining({ code: 'TooFast' })]);

      at(5);
      expect((await decide('alice@example.com')).outcome).toBe('approved');
      expect(store.request.decisions[0]).toMatchObject({ reviewSeconds: 5 });
      expect(store.request.decisions[0]?.rubberStamp).toBeUndefined();
    });

    it('counts review time from when the request was shown, not created', async () => {
      const { decide, at } = rules(
        { minReviewSeconds: 5 },
        { createdAt: new Date(T0 - 60_000).toISOString(), shownAt: new Date(T0).toISOString() },
      );

      at(3);
      await expect(decide('alice@example.com')).rejects.toMatchObject({ code: 'TooFast' });
    });

    it('never refuses a deny for speed', async () => {
      const { store, decide, at } = rules({ minReviewSeconds: 5, minReviewMode: 'refuse' });

      at(1);
      expect((await decide('alice@example.com', 'deny')).outcome).toBe('denied');
      expect(store.request.status).toBe('DENIED');
    });

    it('in flag mode accepts the fast approval and marks it a rubber stamp', async () => {
      const { store, decide, at } = rules({ minReviewSeconds: 5, minReviewMode: 'flag' });

      at(1);
      expect((await decide('alice@example.com')).outcome).toBe('approved');
      expect(store.request.decisions[0]).toMatchObject({ rubberStamp: true, reviewSeconds: 1 });
    });
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
