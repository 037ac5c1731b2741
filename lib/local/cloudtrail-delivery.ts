import { randomUUID } from 'node:crypto';

/**
 * CloudTrail → EventBridge → rules → targets, on one machine. Every call through the local AWS
 * becomes a CloudTrail record; CloudTrail hands it to EventBridge as an "AWS API Call via
 * CloudTrail" event a little later (`delayMs`, CloudTrail is never instant), and each rule of the
 * template whose pattern matches — and whose State lets it see that kind of event — invokes its
 * targets asynchronously, as EventBridge does.
 */

export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

export interface DeliveryRule {
  readonly name: string;
  /** Does this rule (pattern and State) receive the event? */
  readonly receives: (event: EventBridgeEvent) => boolean;
  /** Invokes one target with the event; rejects when the target failed. */
  readonly targets: ReadonlyArray<(event: EventBridgeEvent) => Promise<void>>;
}

export interface EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** The EventBridge event CloudTrail delivers for one record. */
export function cloudTrailEvent(
  record: Record<string, unknown>,
  account: string,
  region: string,
): EventBridgeEvent {
  const eventSource = String(record.eventSource ?? 'unknown.amazonaws.com');
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': CLOUDTRAIL_DETAIL_TYPE,
    source: `aws.${eventSource.replace(/\.amazonaws\.com$/, '')}`,
    account: String(record.recipientAccountId ?? account),
    time: String(record.eventTime ?? new Date().toISOString()).replace(/\.\d{3}Z$/, 'Z'),
    region: String(record.awsRegion ?? region),
    resources: [],
    detail: record,
  };
}

export interface Delivery {
  /** Hands one CloudTrail record to EventBridge after the delay. */
  record(record: Record<string, unknown>): void;
  /** Delivers an event now (the `/local/cloudtrail` door and tests). */
  deliver(event: EventBridgeEvent): Promise<number>;
  /** Resolves when every record handed in so far has been delivered and its targets have run. */
  idle(): Promise<void>;
  stop(): void;
}

export function createDelivery(options: {
  rules: readonly DeliveryRule[];
  account: string;
  region: string;
  delayMs: number;
  /** EventBridge retries a failed target; the local one retries this many times. @default 2 */
  retries?: number;
  log: (line: string) => void;
}): Delivery {
  const pending = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const retries = options.retries ?? 2;

  async function invoke(
    rule: DeliveryRule,
    target: DeliveryRule['targets'][number],
    event: EventBridgeEvent,
  ) {
    for (let attempt = 0; ; attempt++) {
      try {
        await target(event);
        return;
      } catch (error) {
        if (attempt >= retries || stopped) {
          options.log(
            `EventBridge: rule ${rule.name} gave up on event ${event.id} after ${attempt + 1} attempts: ${(error as Error).message}`,
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  async function deliver(event: EventBridgeEvent): Promise<number> {
    let matched = 0;
    const runs: Promise<void>[] = [];
    for (const rule of options.rules) {
      if (!rule.receives(event)) continue;
      matched += 1;
      for (const target of rule.targets) runs.push(invoke(rule, target, event));
    }
    await Promise.all(runs);
    return matched;
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  return {
    record(record) {
      if (stopped) return;
      const event = cloudTrailEvent(record, options.account, options.region);
      let release!: () => void;
      const waiting = track(new Promise<void>((resolve) => (release = resolve)));
      const timer = setTimeout(() => {
        timers.delete(timer);
        track(deliver(event).catch(() => 0)).finally(release);
      }, options.delayMs);
      timers.add(timer);
      void waiting;
    },
    deliver: (event) => track(deliver(event)),
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
