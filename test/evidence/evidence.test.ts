import { describe, expect, it } from 'vitest';
import { sumActivity } from '../../lambdas/core/activity.js';
import {
  assessFacts,
  buildEvidenceRecord,
  buildEvidenceSummary,
  type FactName,
  type FactState,
  type FindingType,
} from '../../lambdas/core/evidence.js';
import { appendHistory } from '../../lambdas/core/history.js';
import type { AccessRequest, Decision, LinkedEvent, MintedSession } from '../../lambdas/core/model.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import { ISSUER, ROLE_ARN, TABLE_ARN } from './support.js';

const CREATED = '2025-03-10T09:00:00.000Z';
const NOW = new Date('2025-03-10T12:00:00.000Z');
const ID = 'req_AbCdEfGhIjKlMnOpQrSt';

/** A request as the lifecycle leaves it, with a valid history chain over its final state. */
function request(overrides: Partial<AccessRequest> = {}): AccessRequest {
  const base: AccessRequest = {
    id: ID,
    status: 'EXPIRED',
    requester: { sub: 'deploy-bot', issuer: ISSUER, groups: ['agents'] },
    resource: TABLE_ARN('orders'),
    actions: ['dynamodb:PutItem'],
    reason: 'Backfill order 8812 (INC-2291)',
    context: { task: 'INC-2291' },
    durationSeconds: 900,
    createdAt: CREATED,
    updatedAt: CREATED,
    policy: {
      rule: 'writes',
      effect: 'approve',
      accessLevels: ['Write'],
      quorum: 1,
      approvers: ['alice@example.com'],
      minReviewSeconds: 5,
      minReviewMode: 'flag',
    },
    decisions: [approval()],
    grant: {
      resource: TABLE_ARN('orders'),
      actions: ['dynamodb:PutItem'],
      roleArn: ROLE_ARN,
      notAfter: '2025-03-10T09:15:30.000Z',
      durationSeconds: 900,
      grantedAt: '2025-03-10T09:00:30.000Z',
      sessionPolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: [TABLE_ARN('orders')] }],
      },
    },
    outcome: { reason: 'Approved.', by: 'alice@example.com', at: '2025-03-10T09:00:30.000Z' },
    version: 3,
    ...overrides,
  };
  return { ...base, history: appendHistory([], base, 'test', base.updatedAt) };
}

function approval(overrides: Partial<Decision> = {}): Decision {
  return {
    approver: 'alice@example.com',
    decision: 'approve',
    channel: 'slack',
    at: '2025-03-10T09:00:30.000Z',
    reviewSeconds: 30,
    ...overrides,
  };
}

function event(overrides: Partial<LinkedEvent> = {}): LinkedEvent {
  return {
    requestId: ID,
    eventId: `e-${Math.random().toString(36).slice(2)}`,
    eventTime: '2025-03-10T09:05:00.000Z',
    eventName: 'PutItem',
    eventSource: 'dynamodb.amazonaws.com',
    resources: [TABLE_ARN('orders')],
    accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
    linkedBy: 'accessKeyId',
    minted: true,
    ...overrides,
  };
}

const session: MintedSession = {
  requestId: ID,
  accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
  assumedRoleId: `AROAEXAMPLE:${ID}`,
  roleArn: ROLE_ARN,
  sourceIdentity: 'deploy-bot',
  issuedAt: '2025-03-10T09:01:00.000Z',
  expiresAt: '2025-03-10T09:16:00.000Z',
};

const typesOf = (findings: Array<{ type: string }>) => findings.map((f) => f.type).sort();

describe('findings', () => {
  const cases: Array<{
    name: string;
    request: AccessRequest;
    events: LinkedEvent[];
    expected: FindingType[];
  }> = [
    { name: 'a clean, used grant has none', request: request(), events: [event()], expected: [] },
    {
      name: 'an approval flagged as too fast is a rubber stamp',
      request: request({ decisions: [approval({ reviewSeconds: 1.2, rubberStamp: true })] }),
      events: [event()],
      expected: ['RUBBER_STAMP'],
    },
    {
      name: 'an approval under minReviewSeconds is a rubber stamp even without the flag',
      request: request({ decisions: [approval({ reviewSeconds: 2 })] }),
      events: [event()],
      expected: ['RUBBER_STAMP'],
    },
    {
      name: 'a fast deny is not a rubber stamp',
      request: request({
        status: 'DENIED',
        grant: undefined,
        decisions: [approval({ decision: 'deny', reviewSeconds: 0.5 })],
        outcome: { reason: 'Denied.', by: 'alice@example.com', at: CREATED },
      }),
      events: [],
      expected: [],
    },
    {
      name: 'a policy approval is not a rubber stamp',
      request: request({
        policy: { rule: 'reads', effect: 'allow', accessLevels: ['Read'] },
        decisions: [{ approver: 'policy:reads', decision: 'approve', channel: 'policy', at: CREATED }],
      }),
      events: [event()],
      expected: [],
    },
    {
      name: 'an expired grant with no call is unused',
      request: request(),
      events: [],
      expected: ['UNUSED_GRANT'],
    },
    {
      name: 'an expired grant whose only event is its AssumeRole is unused',
      request: request(),
      events: [
        event({ eventName: 'AssumeRole', eventSource: 'sts.amazonaws.com', linkedBy: 'roleSessionName' }),
      ],
      expected: ['UNUSED_GRANT'],
    },
    {
      name: 'a grant still running is not unused yet',
      request: request({
        status: 'APPROVED',
        grant: { ...request().grant!, notAfter: '2025-03-10T13:00:00.000Z' },
      }),
      events: [],
      expected: [],
    },
    {
      name: 'a revoked grant is not an unused one',
      request: request({ status: 'REVOKED', outcome: { reason: 'Revoked.', by: 'deploy-bot', at: CREATED } }),
      events: [],
      expected: [],
    },
    {
      name: 'a call with an error code is access denied',
      request: request(),
      events: [event(), event({ eventName: 'DeleteTable', errorCode: 'AccessDenied' })],
      expected: ['ACCESS_DENIED'],
    },
    {
      name: 'a refused self-approval is recorded',
      request: request({
        refusals: [{ approver: 'deploy-bot', code: 'SelfApproval', channel: 'api', at: CREATED }],
      }),
      events: [event()],
      expected: ['SELF_APPROVAL_ATTEMPT'],
    },
    {
      name: 'a refused too-fast approval is not a self-approval',
      request: request({
        refusals: [{ approver: 'bob@example.com', code: 'TooFast', channel: 'api', at: CREATED }],
      }),
      events: [event()],
      expected: [],
    },
    {
      name: 'activity with a key Countersign never minted is unlinked',
      request: request(),
      events: [
        event(),
        event({
          accessKeyId: fakeAccessKeyId('STRANGER00000001'),
          linkedBy: 'sourceIdentity',
          minted: false,
        }),
      ],
      expected: ['UNLINKED_ACTIVITY'],
    },
    {
      name: 'a failed AssumeRole (nothing minted) is not unlinked',
      request: request(),
      events: [
        event(),
        event({
          eventName: 'AssumeRole',
          eventSource: 'sts.amazonaws.com',
          linkedBy: 'roleSessionName',
          errorCode: 'AccessDenied',
          accessKeyId: undefined,
          minted: undefined,
        }),
      ],
      expected: [],
    },
    {
      name: 'everything at once (a denied call is still use of the grant)',
      request: request({
        decisions: [approval({ reviewSeconds: 1, rubberStamp: true })],
        refusals: [{ approver: 'deploy-bot', code: 'SelfApproval', channel: 'slack', at: CREATED }],
      }),
      events: [event({ errorCode: 'AccessDenied', minted: false, linkedBy: 'roleSessionName' })],
      expected: ['ACCESS_DENIED', 'RUBBER_STAMP', 'SELF_APPROVAL_ATTEMPT', 'UNLINKED_ACTIVITY'],
    },
  ];

  it.each(cases)('$name', ({ request: r, events, expected }) => {
    // Act
    const record = buildEvidenceRecord({ request: r, sessions: [session], events, now: NOW });
    const summary = buildEvidenceSummary(r, sumActivity(events), NOW);

    // Assess: the full record and the listing's summary (from counters) agree.
    expect(typesOf(record.findings)).toEqual([...expected].sort());
    expect(typesOf(summary.findings)).toEqual([...expected].sort());
    expect(record.integrity).toEqual({ valid: true });
  });

  it('says what was denied, how often, and names the unlinked key', () => {
    const record = buildEvidenceRecord({
      request: request(),
      sessions: [session],
      events: [
        event({ eventName: 'DeleteTable', errorCode: 'AccessDenied' }),
        event({ eventName: 'DeleteTable', errorCode: 'AccessDenied' }),
        event({
          eventName: 'GetItem',
          accessKeyId: fakeAccessKeyId('STRANGER00000001'),
          minted: false,
          linkedBy: 'sourceIdentity',
        }),
      ],
      now: NOW,
    });

    const detail = Object.fromEntries(record.findings.map((f) => [f.type, f.detail]));
    expect(detail.ACCESS_DENIED).toContain('DeleteTable → AccessDenied ×2');
    expect(detail.UNLINKED_ACTIVITY).toContain(fakeAccessKeyId('STRANGER00000001'));
  });
});

describe('completeness', () => {
  const granted = request();
  const cases: Array<{
    name: string;
    request: AccessRequest;
    complete: boolean;
    facts: Partial<Record<FactName, FactState>>;
  }> = [
    {
      name: 'an expired grant with everything on record',
      request: granted,
      complete: true,
      facts: { requester: 'present', decision: 'present', grant: 'present', activity: 'present' },
    },
    {
      name: 'a request denied by policy: facts 5 and 6 do not apply',
      request: request({
        status: 'DENIED',
        policy: { rule: 'deny-destructive', effect: 'deny', accessLevels: ['Write'] },
        decisions: [],
        grant: undefined,
        outcome: { reason: 'Denied by policy rule deny-destructive.', at: CREATED },
      }),
      complete: true,
      facts: { decision: 'present', grant: 'not-applicable', activity: 'not-applicable' },
    },
    {
      name: 'a request that timed out, as the workflow recorded it',
      request: request({
        status: 'TIMED_OUT',
        decisions: [],
        grant: undefined,
        outcome: { reason: 'No decision within 600 s.', at: CREATED },
      }),
      complete: true,
      facts: { decision: 'present', grant: 'not-applicable' },
    },
    {
      name: 'a request that timed out only by the clock (its workflow was lost)',
      request: request({ status: 'PENDING', decisions: [], grant: undefined, outcome: undefined }),
      complete: false,
      facts: { decision: 'missing' },
    },
    {
      name: 'a request still waiting for approvers',
      request: request({
        status: 'PENDING',
        createdAt: '2025-03-10T11:59:00.000Z',
        decisions: [],
        grant: undefined,
        outcome: undefined,
      }),
      complete: false,
      facts: { decision: 'pending', grant: 'not-applicable', activity: 'not-applicable' },
    },
    {
      name: 'a grant still running: what happens next is not written yet',
      request: request({
        status: 'APPROVED',
        grant: { ...granted.grant!, notAfter: '2025-03-10T13:00:00.000Z' },
      }),
      complete: false,
      facts: { grant: 'present', activity: 'pending' },
    },
    {
      name: 'an approved request that lost its grant',
      request: request({ grant: undefined }),
      complete: false,
      facts: { grant: 'missing', activity: 'missing' },
    },
    {
      name: 'an approval short of its quorum',
      request: request({ policy: { ...granted.policy, quorum: 2 } }),
      complete: false,
      facts: { decision: 'missing' },
    },
    {
      name: 'a request without a reason',
      request: request({ reason: '' }),
      complete: false,
      facts: { justification: 'missing' },
    },
    {
      name: 'revoked before anyone decided',
      request: request({
        status: 'REVOKED',
        decisions: [],
        grant: undefined,
        outcome: { reason: 'Revoked.', by: 'deploy-bot', at: CREATED },
      }),
      complete: true,
      facts: { grant: 'not-applicable', activity: 'not-applicable' },
    },
  ];

  it.each(cases)('$name', ({ request: r, complete, facts }) => {
    const record = buildEvidenceRecord({ request: r, sessions: [], events: [], now: NOW });

    expect(record.complete).toBe(complete);
    expect(record.facts).toMatchObject(facts);
    expect(assessFacts(r, NOW)).toEqual(record.facts);
  });
});

describe('the evidence record', () => {
  it('carries the six facts in the shape reviewers read', () => {
    const mint = event({
      eventName: 'AssumeRole',
      eventSource: 'sts.amazonaws.com',
      linkedBy: 'roleSessionName',
      eventTime: '2025-03-10T09:01:00.000Z',
    });
    const call = event({ eventTime: '2025-03-10T09:05:00.000Z' });

    const record = buildEvidenceRecord({
      request: request(),
      sessions: [session],
      events: [call, mint],
      now: NOW,
    });

    expect(record.request).toMatchObject({ id: ID, status: 'EXPIRED' });
    expect(record.request).not.toHaveProperty('history');
    expect(record.evidence.requester).toEqual({ sub: 'deploy-bot', issuer: ISSUER, groups: ['agents'] });
    expect(record.evidence.requested).toMatchObject({
      resource: TABLE_ARN('orders'),
      actions: ['dynamodb:PutItem'],
    });
    expect(record.evidence.justification.reason).toContain('INC-2291');
    expect(record.evidence.decision.decisions).toHaveLength(1);
    expect(record.evidence.grant?.sessionPolicy.Statement).toHaveLength(1);
    expect(record.evidence.sessions).toEqual([
      expect.objectContaining({ accessKeyId: session.accessKeyId, cloudTrailConfirmed: true }),
    ]);
    expect(record.evidence.activity.map((e) => e.eventName)).toEqual(['AssumeRole', 'PutItem']);
    expect(record.evidence.activityTotals).toMatchObject({
      calls: 1,
      denied: 0,
      resources: [TABLE_ARN('orders')],
    });
    expect(record.complete).toBe(true);
  });

  it('reports a broken history as an integrity failure', () => {
    const r = request();
    const edited = { ...r, history: r.history!.map((h) => ({ ...h, event: 'edited' })) };

    const record = buildEvidenceRecord({ request: edited, sessions: [], events: [event()], now: NOW });

    expect(record.integrity.valid).toBe(false);
    expect(record.integrity.problem).toContain('entry 1');
    expect(typesOf(record.findings)).toContain('INTEGRITY_FAILURE');
  });
});
