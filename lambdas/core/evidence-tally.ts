import {
  type ActivityCounters,
  ActivityTally,
  activityOf,
  type CallGroup,
  isMintingRecord,
} from './activity.js';
import { eventMacInput, sessionMacInput } from './history.js';
import type { LinkedEvent, MintedSession } from './model.js';
import type { Mac } from './ports.js';

/**
 * The evidence record's two one-pass folds over a request's items (issue 12, item 7): what its
 * events add up to (EvidenceTally, for buildEvidenceRecord) and whether each session and event
 * carries the history key's MAC (KeyedItemsCheck, for verifyEvidenceIntegrity). Fed while streaming
 * through the request's partition, they cover every item while holding only what the record shows.
 * Both count with activity.ts, as the linker's counters and the Slack summary do.
 */

/** What all of a request's events add up to, for the record (EvidenceTally). */
export interface EvidenceActivity {
  totals: ActivityCounters;
  /** The kinds of call that failed (activity.ts call groups with an error code). */
  failures: Array<CallGroup & { errorCode: string }>;
  /** The earliest few events made with a key Countersign never minted for the request. */
  unlinkedEvents: Array<{ eventName: string; eventTime: string; accessKeyId?: string }>;
  /** Access keys whose minting CloudTrail recorded (of those asked about, or all). */
  confirmed: ReadonlySet<string>;
  /** Events made with the exact call's session, by time. */
  executionEvents: LinkedEvent[];
}

const UNLINKED_EXAMPLES = 5;
const eventOrder = (e: LinkedEvent) => `${e.eventTime}#${e.eventId}`;
const inOrder = (a: LinkedEvent, b: LinkedEvent) =>
  eventOrder(a) < eventOrder(b) ? -1 : eventOrder(a) > eventOrder(b) ? 1 : 0;

/**
 * Sums a request's events one at a time (activity.ts ActivityTally), and holds what else the record
 * shows of all of them: the first few unlinked events, which of the page's sessions CloudTrail
 * confirmed, and the exact call's events. The record's totals and findings so cover every event
 * although it lists one page.
 */
export class EvidenceTally {
  private readonly activity = new ActivityTally();
  private readonly unlinkedEvents: LinkedEvent[] = [];
  private readonly confirmed = new Set<string>();
  private readonly executionEvents: LinkedEvent[] = [];

  constructor(
    private readonly options: {
      /** Only these keys are remembered as confirmed (the page's sessions). @default every key */
      confirmedAmong?: ReadonlySet<string>;
      /** The exact call's session key, whose events make the execution fact. */
      executionKey?: string | undefined;
    } = {},
  ) {}

  static of(events: Iterable<LinkedEvent>, options: ConstructorParameters<typeof EvidenceTally>[0] = {}) {
    const tally = new EvidenceTally(options);
    for (const event of events) tally.add(event);
    return tally.summary();
  }

  add(event: LinkedEvent): void {
    this.activity.add(event);
    if (event.minted === false) {
      this.unlinkedEvents.push(event);
      this.unlinkedEvents.sort(inOrder);
      this.unlinkedEvents.length = Math.min(this.unlinkedEvents.length, UNLINKED_EXAMPLES);
    }
    const key = event.accessKeyId;
    if (key && isMintingRecord(event) && (this.options.confirmedAmong?.has(key) ?? true)) {
      this.confirmed.add(key);
    }
    // Bounded: the exact call's session is Countersign's own, used for that one call.
    if (key && key === this.options.executionKey) this.executionEvents.push(event);
  }

  summary(): EvidenceActivity {
    return {
      totals: this.activity.totals(),
      failures: this.activity
        .callGroups()
        .filter((g): g is CallGroup & { errorCode: string } => g.errorCode !== undefined),
      unlinkedEvents: this.unlinkedEvents.map((e) => ({
        eventName: e.eventName,
        eventTime: e.eventTime,
        ...(e.accessKeyId ? { accessKeyId: e.accessKeyId } : {}),
      })),
      confirmed: this.confirmed,
      executionEvents: [...this.executionEvents].sort(inOrder),
    };
  }
}

/** What KeyedItemsCheck found over a request's sessions and events. */
export interface ItemsVerdict {
  /** The first session or event (in the order given) that does not verify. */
  problem?: string;
  /** The events checked, and what they add up to (compared with the MAC'd counters). */
  events: number;
  summed: Pick<ActivityCounters, 'calls' | 'denied' | 'unlinked'>;
}

/** MAC checks in flight at once: KMS answers each in milliseconds, and a record can hold thousands. */
const VERIFY_BATCH = 16;

/**
 * The most sessions and events one read of a record checks against the history key. Every page
 * checks the whole record, and an agent decides how many events its grant leaves (denied calls are
 * cheap to make): without a bound it could make its own record unreadable (the reports function's
 * timeout) and spend the account's KMS request quota that claims and decisions need. Past the bound
 * the verdict is not valid — unproven, never assumed — and says why.
 */
export const MAX_KEYED_CHECKS = 10_000;

/**
 * Checks the MAC of every session and event it is given, a few at a time, holding none of them
 * after: fed while streaming through a request's partition, it covers all of them in one pass.
 */
export class KeyedItemsCheck {
  private readonly batch: Array<{ data: string; mac: string | undefined; problem: string }> = [];
  private problem: string | undefined;
  private events = 0;
  private readonly summed = { calls: 0, denied: 0, unlinked: 0 };

  private checks = 0;

  constructor(
    private readonly mac: Mac,
    private readonly maxChecks = MAX_KEYED_CHECKS,
  ) {}

  session(session: MintedSession): Promise<void> {
    return this.queue(
      sessionMacInput(session),
      session.mac,
      `session ${session.accessKeyId} does not verify with the history key`,
    );
  }

  event(event: LinkedEvent): Promise<void> {
    this.events += 1;
    const one = activityOf(event);
    this.summed.calls += one.calls;
    this.summed.denied += one.denied;
    this.summed.unlinked += one.unlinked;
    return this.queue(
      eventMacInput(event),
      event.mac,
      `event ${event.eventId} (${event.eventName}) does not verify with the history key`,
    );
  }

  async verdict(): Promise<ItemsVerdict> {
    await this.flush();
    return {
      ...(this.problem !== undefined ? { problem: this.problem } : {}),
      events: this.events,
      summed: { ...this.summed },
    };
  }

  private async queue(data: string, mac: string | undefined, problem: string): Promise<void> {
    if (this.problem !== undefined) return;
    if (++this.checks > this.maxChecks) {
      await this.flush();
      this.problem ??= `the record holds more than ${this.maxChecks} sessions and events: only the first ${this.maxChecks} were checked against the history key, so the rest is unproven (review it with the table's own tools)`;
      return;
    }
    this.batch.push({ data, mac, problem });
    if (this.batch.length >= VERIFY_BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    const batch = this.batch.splice(0);
    const valid = await Promise.all(
      batch.map((item) => (item.mac ? this.mac.verify(item.data, item.mac) : false)),
    );
    const first = valid.indexOf(false);
    if (first >= 0) this.problem ??= batch[first]!.problem;
  }
}
