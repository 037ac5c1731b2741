import { describe, expect, it } from 'vitest';
import { accessReviewCsv, buildAccessReview, parseReviewQuery } from '../../lambdas/core/access-review.js';
import { NO_ACTIVITY } from '../../lambdas/core/activity.js';
import { ValidationError } from '../../lambdas/core/errors.js';
import type { AccessRequest, Decision } from '../../lambdas/core/model.js';
import type { ReviewRow } from '../../lambdas/core/report-reader.js';

const NOW = new Date('2026-12-01T00:00:00.000Z');
const BUCKET = 'arn:aws:s3:::acme-prod-reports/q3.csv';
const TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
let n = 0;

function row(overrides: Partial<AccessRequest>): ReviewRow {
  n += 1;
  const request = {
    id: `req_${String(n).padStart(20, '0')}`,
    status: 'DENIED',
    requester: { sub: 'report-bot', issuer: 'https://issuer.example', groups: ['agents'] },
    resource: BUCKET,
    actions: ['s3:PutObject'],
    reason: 'Quarterly report',
    context: {},
    durationSeconds: 900,
    createdAt: '2026-08-01T10:00:00.000Z',
    updatedAt: '2026-08-01T10:00:00.000Z',
    policy: { rule: 'writes', effect: 'approve', accessLevels: ['Write'], minReviewSeconds: 5 },
    decisions: [],
    version: 1,
    ...overrides,
  } as AccessRequest;
  return { request, activity: NO_ACTIVITY };
}
const human = (approver: string, decision: 'approve' | 'deny', reviewSeconds: number): Decision => ({
  approver,
  decision,
  channel: 'slack',
  at: '2026-08-01T10:01:00.000Z',
  reviewSeconds,
});
const grant = (resource = BUCKET, actions = ['s3:PutObject']) => ({
  resource,
  actions,
  roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
  notAfter: '2026-08-01T10:16:00.000Z',
  durationSeconds: 900,
  grantedAt: '2026-08-01T10:01:00.000Z',
  sessionPolicy: { Version: '2012-10-17' as const, Statement: [] },
});

const rows = [
  row({ status: 'EXPIRED', decisions: [human('alice', 'approve', 30)], grant: grant() }),
  row({ status: 'REVOKED', decisions: [human('bob', 'approve', 2)], grant: grant(BUCKET, ['s3:GetObject']) }),
  row({
    status: 'APPROVED',
    policy: { rule: 'reads', effect: 'allow', accessLevels: ['Read'] },
    decisions: [
      { approver: 'policy:reads', decision: 'approve', channel: 'policy', at: '2026-08-01T10:00:00.000Z' },
    ],
    grant: grant(TABLE, ['dynamodb:GetItem']),
    resource: TABLE,
  }),
  row({ status: 'DENIED', decisions: [human('alice', 'deny', 60)] }),
  row({ status: 'DENIED', policy: { rule: 'deny-destructive', effect: 'deny', accessLevels: ['Write'] } }),
  row({
    status: 'DENIED',
    outcome: { reason: 'Refused: No target covers arn:aws:s3:::other', at: '2026-08-01T10:00:00.000Z' },
  }),
  row({ status: 'TIMED_OUT' }),
];

describe('access review', () => {
  const query = parseReviewQuery({ from: '2026-07-01', to: '2026-09-30' }, NOW);

  it('spans a calendar quarter with its last day included, and a year, but not more', () => {
    expect(query).toEqual({
      from: '2026-07-01T00:00:00.000Z',
      to: '2026-10-01T00:00:00.000Z',
      view: 'agents',
    });
    expect(parseReviewQuery({ from: '2024-01-01', to: '2024-12-31' }, NOW).to).toBe(
      '2025-01-01T00:00:00.000Z',
    );
    expect(() => parseReviewQuery({ from: '2024-01-01', to: '2025-01-01' }, NOW)).toThrow(ValidationError);
  });

  it('counts per agent so that the counts add up', () => {
    const [agent] = buildAccessReview(rows, query, NOW).agents;
    expect(agent).toMatchObject({
      requests: 7,
      statuses: { PENDING: 0, APPROVED: 0, DENIED: 3, TIMED_OUT: 1, EXPIRED: 2, REVOKED: 1 },
      approved: 3,
      approvedByHumans: 2,
      allowedByPolicy: 1,
      denied: 3,
      deniedByApprovers: 1,
      deniedByPolicy: 1,
      refused: 1,
      timedOut: 1,
      approvers: ['alice', 'bob'],
      granted: [
        { resource: TABLE, actions: ['dynamodb:GetItem'] },
        { resource: BUCKET, actions: ['s3:GetObject', 's3:PutObject'] },
      ],
      rubberStamps: 1,
    });
    const total = Object.values(agent!.statuses).reduce((a, b) => a + b, 0);
    expect(total).toBe(agent!.requests);
  });

  it('has a per-approver view without the policy', () => {
    expect(buildAccessReview(rows, query, NOW).approvers).toEqual([
      {
        approver: 'alice',
        decided: 2,
        approvals: 1,
        denials: 1,
        medianReviewSeconds: 45,
        rubberStamps: 0,
        agents: ['report-bot'],
      },
      {
        approver: 'bob',
        decided: 1,
        approvals: 1,
        denials: 0,
        medianReviewSeconds: 2,
        rubberStamps: 1,
        agents: ['report-bot'],
      },
    ]);
  });

  it('filters by resource pattern', () => {
    const review = buildAccessReview(rows, { ...query, resource: 'arn:aws:dynamodb:*' }, NOW);
    expect(review.agents.map((a) => a.requests)).toEqual([1]);
    expect(review.resource).toBe('arn:aws:dynamodb:*');
  });

  it('writes CSV with a header naming each column, for agents and for approvers', () => {
    const review = buildAccessReview(rows, query, NOW);
    const [header, first] = accessReviewCsv(review, 'agents').split('\r\n');
    expect(header).toContain(
      '"requests","PENDING","APPROVED","DENIED","TIMED_OUT","EXPIRED","REVOKED","EXECUTED","approvedByHumans"',
    );
    expect(first).toContain('"alice bob"');
    expect(accessReviewCsv(review, 'approvers').split('\r\n')[0]).toBe(
      '"approver","decided","approvals","denials","medianReviewSeconds","rubberStamps","agents"',
    );
  });
});
