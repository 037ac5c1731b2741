import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupCalls, sumActivity, summarizeActivity } from '../../lambdas/core/activity.js';
import { buildEvidenceRecord } from '../../lambdas/core/evidence.js';
import type { LinkedEvent } from '../../lambdas/core/model.js';

const REQUEST_ID = 'req_activity000000000000';

let n = 0;
function event(over: Partial<LinkedEvent> & { eventName: string }): LinkedEvent {
  n += 1;
  return {
    requestId: REQUEST_ID,
    eventId: `event-${n}`,
    eventTime: `2025-03-10T09:${String(Math.floor(n / 60) % 60).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}Z`,
    eventSource: 'dynamodb.amazonaws.com',
    resources: ['arn:aws:dynamodb:us-east-1:111122223333:table/orders'],
    linkedBy: 'accessKeyId',
    minted: true,
    ...over,
  };
}

const sts = { eventName: 'AssumeRole', eventSource: 'sts.amazonaws.com' } as const;
/** CloudTrail's record of Countersign minting the session, as the linker stores it. */
const minting = () => event({ ...sts, linkedBy: 'roleSessionName', minting: true });
/** The session's own AssumeRole (role chaining). */
const chaining = (errorCode?: string) =>
  event({ ...sts, minting: false, ...(errorCode ? { errorCode } : {}) });

describe('groupCalls', () => {
  it('groups the calls by name and error, most frequent first, leaving the minting out', () => {
    // Prepare
    const events = [
      minting(),
      event({ eventName: 'PutItem' }),
      event({ eventName: 'PutItem' }),
      chaining(),
      chaining('AccessDenied'),
      event({ eventName: 'DeleteTable', errorCode: 'AccessDenied' }),
    ];
    // Act
    const groups = groupCalls(events);
    // Assess
    expect(groups).toEqual([
      { eventName: 'PutItem', count: 2 },
      { eventName: 'AssumeRole', count: 1 },
      { eventName: 'AssumeRole', errorCode: 'AccessDenied', count: 1 },
      { eventName: 'DeleteTable', errorCode: 'AccessDenied', count: 1 },
    ]);
  });

  it('leaves out an AssumeRole stored before `minting` was recorded only when joined by session name', () => {
    const legacyMinting = event({ ...sts, linkedBy: 'roleSessionName' });
    const legacyChaining = event({ ...sts, linkedBy: 'accessKeyId' });
    expect(groupCalls([legacyMinting, legacyChaining])).toEqual([{ eventName: 'AssumeRole', count: 1 }]);
  });

  it('adds up to the counters for any events: calls, and denied for the groups with an error', () => {
    const anyEvent = fc
      .record({
        kind: fc.constantFrom('call', 'minting', 'chaining', 'legacy-minting'),
        eventName: fc.constantFrom('PutItem', 'GetItem', 'DeleteTable'),
        errorCode: fc.option(fc.constantFrom('AccessDenied', 'ThrottlingException'), { nil: undefined }),
        minted: fc.boolean(),
      })
      .map(({ kind, eventName, errorCode, minted }) => {
        const error = errorCode ? { errorCode } : {};
        if (kind === 'minting')
          return event({ ...sts, linkedBy: 'roleSessionName', minting: true, ...error });
        if (kind === 'legacy-minting') return event({ ...sts, linkedBy: 'roleSessionName', ...error });
        if (kind === 'chaining') return event({ ...sts, minting: false, minted, ...error });
        return event({ eventName, minted, ...error });
      });
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 40 }), (events) => {
        const totals = sumActivity(events);
        const groups = groupCalls(events);
        const count = (gs: typeof groups) => gs.reduce((sum, g) => sum + g.count, 0);
        expect(count(groups)).toBe(totals.calls);
        expect(count(groups.filter((g) => g.errorCode !== undefined))).toBe(totals.denied);
      }),
    );
  });
});

describe('summarizeActivity', () => {
  it('sums the events it has, and takes the linker’s counters only when the events were cut short', () => {
    const events = [event({ eventName: 'PutItem' }), chaining('AccessDenied')];
    const counters = { calls: 900, denied: 4, unlinked: 0, resources: [] };
    expect(summarizeActivity({ events, counters }).totals).toMatchObject({ calls: 2, denied: 1 });
    expect(summarizeActivity({ events, counters, truncated: true })).toMatchObject({
      totals: counters,
      truncated: true,
    });
  });

  it('gives the evidence record its totals and its ACCESS_DENIED kinds', () => {
    // Prepare: an expired grant whose session chained twice, once refused
    const events = [minting(), event({ eventName: 'PutItem' }), chaining(), chaining('AccessDenied')];
    const request = {
      id: REQUEST_ID,
      status: 'EXPIRED',
      requester: { sub: 'chain-bot', issuer: 'https://issuer.example.com' },
      resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
      actions: ['dynamodb:PutItem'],
      reason: 'unit test',
      durationSeconds: 900,
      createdAt: '2025-03-10T09:00:00Z',
      updatedAt: '2025-03-10T09:30:00Z',
      policy: { rule: 'writes', effect: 'approve', accessLevels: ['Write'] },
      decisions: [],
      version: 1,
    } as never;
    // Act
    const record = buildEvidenceRecord({ request, sessions: [], events, now: new Date('2025-03-11') });
    const summary = summarizeActivity({ events });
    // Assess
    expect(record.evidence.activityTotals).toEqual(summary.totals);
    expect(summary.totals).toMatchObject({ calls: 3, denied: 1 });
    const denied = record.findings.find((f) => f.type === 'ACCESS_DENIED');
    for (const group of summary.calls.filter((g) => g.errorCode)) {
      expect(denied?.detail).toContain(`${group.eventName} → ${group.errorCode} ×${group.count}`);
    }
  });
});
