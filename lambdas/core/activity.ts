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

/**
 * Counts events one at a time, the one way every reader counts them: the totals (`activityOf`
 * summed) and the calls grouped by event name and error code (minting records left out, so the
 * groups add up to `calls`, and those with an error code to `denied`). Holds only the counts, so
 * the evidence record can feed it every event of a request while streaming through its partition.
 */
export class ActivityTally {
  private calls = 0;
  private denied = 0;
  private unlinked = 0;
  private lastAt: string | undefined;
  private readonly resources = new Set<string>();
  private readonly groups = new Map<string, CallGroup>();

  static of(events: Iterable<LinkedEvent>): ActivityTally {
    const tally = new ActivityTally();
    for (const event of events) tally.add(event);
    return tally;
  }

  add(event: LinkedEvent): void {
    const one = activityOf(event);
    this.calls += one.calls;
    this.denied += one.denied;
    this.unlinked += one.unlinked;
    for (const resource of one.resources) this.resources.add(resource);
    if (one.lastAt !== undefined && (this.lastAt === undefined || one.lastAt > this.lastAt))
      this.lastAt = one.lastAt;
    if (isMintingRecord(event)) return;
    const key = `${event.eventName}\u0000${event.errorCode ?? ''}`;
    const group = this.groups.get(key) ?? {
      eventName: event.eventName,
      ...(failed(event) ? { errorCode: event.errorCode } : {}),
      count: 0,
    };
    group.count += 1;
    this.groups.set(key, group);
  }

  totals(): ActivityCounters {
    return {
      calls: this.calls,
      denied: this.denied,
      unlinked: this.unlinked,
      resources: [...this.resources].sort(),
      ...(this.lastAt !== undefined ? { lastAt: this.lastAt } : {}),
    };
  }

  /** Most frequent first, then by event name, a kind's successes before its failures. */
  callGroups(): CallGroup[] {
    return [...this.groups.values()]
      .map((g) => ({ ...g }))
      .sort(
        (a, b) =>
          b.count - a.count ||
          compare(a.eventName, b.eventName) ||
          compare(a.errorCode ?? '', b.errorCode ?? ''),
      );
  }
}

/** Calls of one kind: the same event name, and the same error code (none when they succeeded). */
export interface CallGroup {
  eventName: string;
  errorCode?: string;
  count: number;
}

export const sumActivity = (events: readonly LinkedEvent[]): ActivityCounters =>
  ActivityTally.of(events).totals();

/** The calls grouped by kind (ActivityTally.callGroups). */
export const groupCalls = (events: readonly LinkedEvent[]): CallGroup[] =>
  ActivityTally.of(events).callGroups();

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
  const tally = ActivityTally.of(activity.events);
  return {
    totals: truncated && activity.counters ? activity.counters : tally.totals(),
    calls: tally.callGroups(),
    truncated,
  };
}
