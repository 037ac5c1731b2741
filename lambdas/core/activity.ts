import type { LinkedEvent } from './model.js';

/**
 * What a request's sessions did (fact 6), computed once for every reader: the linker's counters on
 * the REQUEST item (dynamodb-events.ts), the evidence record and its listing (evidence.ts), and the
 * approver's end-of-grant summary in Slack (workflow-steps.ts). They all count with `activityOf` and
 * group with `groupCalls`, so the Slack summary and the report cannot disagree on what a call is or
 * which calls were denied.
 */

/**
 * What the linker counted on the REQUEST item (attributes `activityCalls`, `activityDenied`,
 * `activityUnlinked`, `activityResources`, `activityLastAt`), so a listing needs no extra read.
 */
export interface ActivityCounters {
  /** API calls made under the request's sessions (the AssumeRole that minted them not counted). */
  calls: number;
  /** Of those, calls that failed with an error code. */
  denied: number;
  /** Events made with an access key Countersign never recorded as minted for this request. */
  unlinked: number;
  /** Resources named by calls that succeeded. */
  resources: string[];
  /** Time of the latest call. */
  lastAt?: string;
  /** The linker's keyed MAC over the counters (history.ts `countersMacInput`), when keyed. */
  mac?: string;
}

export const NO_ACTIVITY: ActivityCounters = { calls: 0, denied: 0, unlinked: 0, resources: [] };

export const isAssumeRole = (event: Pick<LinkedEvent, 'eventName' | 'eventSource'>) =>
  event.eventName === 'AssumeRole' && event.eventSource === 'sts.amazonaws.com';

/**
 * CloudTrail's record of Countersign minting one of the request's sessions: not a call made under
 * the grant. An AssumeRole the grant's session made itself (role chaining, probing) is a call, and
 * a failed one is denied activity. Events stored before the linker recorded `minting` were minting
 * records exactly when joined by their role session name.
 */
export const isMintingRecord = (
  event: Pick<LinkedEvent, 'eventName' | 'eventSource' | 'linkedBy' | 'minting'>,
) => isAssumeRole(event) && (event.minting ?? event.linkedBy === 'roleSessionName');

/** A call that failed: CloudTrail gave it an error code (AccessDenied and the like). */
const failed = (event: Pick<LinkedEvent, 'errorCode'>) => event.errorCode !== undefined;

/**
 * What one linked event adds to the counters. The linker's adapter adds exactly this to the REQUEST
 * item, and the evidence record sums it over the events, so the listing and the record agree.
 */
export function activityOf(event: LinkedEvent): ActivityCounters {
  const call = !isMintingRecord(event);
  return {
    calls: call ? 1 : 0,
    denied: call && failed(event) ? 1 : 0,
    unlinked: event.minted === false ? 1 : 0,
    // A denied call touched nothing; the event list still shows what it tried.
    resources: call && !failed(event) ? [...event.resources] : [],
    ...(call ? { lastAt: event.eventTime } : {}),
  };
}

export function sumActivity(events: readonly LinkedEvent[]): ActivityCounters {
  let total: ActivityCounters = { ...NO_ACTIVITY, resources: [] };
  for (const event of events) {
    const one = activityOf(event);
    const resources = new Set([...total.resources, ...one.resources]);
    const lastAt = [total.lastAt, one.lastAt]
      .filter((t): t is string => t !== undefined)
      .sort()
      .at(-1);
    total = {
      calls: total.calls + one.calls,
      denied: total.denied + one.denied,
      unlinked: total.unlinked + one.unlinked,
      resources: [...resources].sort(),
      ...(lastAt ? { lastAt } : {}),
    };
  }
  return total;
}

/** Calls of one kind: the same event name, and the same error code (none when they succeeded). */
export interface CallGroup {
  eventName: string;
  errorCode?: string;
  count: number;
}

/**
 * The calls, grouped by event name and error code: the calls `activityOf` counts (minting records
 * left out), so the groups' counts add up to `calls` and those with an error code to `denied`.
 * Most frequent first, then by event name, a kind's successes before its failures.
 */
export function groupCalls(
  events: ReadonlyArray<
    Pick<LinkedEvent, 'eventName' | 'eventSource' | 'linkedBy' | 'minting' | 'errorCode'>
  >,
): CallGroup[] {
  const groups = new Map<string, CallGroup>();
  for (const event of events) {
    if (isMintingRecord(event)) continue;
    const key = `${event.eventName}\u0000${event.errorCode ?? ''}`;
    const group = groups.get(key) ?? {
      eventName: event.eventName,
      ...(failed(event) ? { errorCode: event.errorCode } : {}),
      count: 0,
    };
    group.count += 1;
    groups.set(key, group);
  }
  return [...groups.values()].sort(
    (a, b) =>
      b.count - a.count || compare(a.eventName, b.eventName) || compare(a.errorCode ?? '', b.errorCode ?? ''),
  );
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A request's recorded activity as read back: its events, and the linker's counters when known. */
export interface RecordedActivity {
  events: readonly LinkedEvent[];
  /** The linker's counters, which saw every event even when `events` holds only the first ones. */
  counters?: ActivityCounters;
  /** True when more events exist than `events` holds. */
  truncated?: boolean;
}

/** What a grant's sessions did, as the end-of-grant summary and the evidence record state it. */
export interface ActivitySummary {
  totals: ActivityCounters;
  calls: CallGroup[];
  /** The calls were grouped from the first events only (`totals` are then the linker's counters). */
  truncated: boolean;
}

/**
 * Totals and kinds of call. With every event at hand their sum is exact; when the read was cut
 * short the linker's counters know more (the evidence record states its totals by the same rule).
 */
export function summarizeActivity(activity: RecordedActivity): ActivitySummary {
  const truncated = activity.truncated === true;
  return {
    totals: truncated && activity.counters ? activity.counters : sumActivity(activity.events),
    calls: groupCalls(activity.events),
    truncated,
  };
}
