import { agentKey, canSeeAll, isRequester } from './access.js';
import { NotFoundError, RateLimitedError } from './errors.js';
import { newRequestId } from './ids.js';
import type { AccessRequest, Caller } from './model.js';
import type { Clock, RequestStore } from './ports.js';
import { effectiveStatus } from './status.js';

/**
 * Reading requests: `GET /v1/requests/{id}`. Kept apart from creation so the read path (and its
 * Lambda bundle) carries neither the IAM catalog nor the policy engine.
 */
export class RequestReader {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly deps: {
      store: RequestStore;
      clock: Clock;
      sleep?: (ms: number) => Promise<void>;
      /** `limits.concurrentWaitsPerCaller`: long-polls one caller may hold open; unlimited when absent. */
      concurrentWaitsPerCaller?: number;
    },
  ) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Reads a request the caller may see; long-polls up to `waitSeconds` while it is PENDING. */
  async get(caller: Caller, id: string, waitSeconds = 0): Promise<AccessRequest> {
    const limit = this.deps.concurrentWaitsPerCaller;
    if (waitSeconds <= 0 || limit === undefined) return this.poll(caller, id, waitSeconds);
    // Each open long-poll holds a Lambda and reads four times a second: one caller holds only a few.
    // A lease runs out by itself shortly after its wait, so a crashed poll frees its slot.
    const { store, clock } = this.deps;
    const name = `wait#${agentKey(caller)}`;
    // A fresh random id per poll: only this poll may release the slot it took.
    const holder = newRequestId();
    const now = clock.now().getTime();
    const slot = await store.acquireLease(name, limit, holder, now + (waitSeconds + 5) * 1000, now);
    if (slot === undefined) {
      throw new RateLimitedError(`More than ${limit} long-polls at once; wait for one to end.`, {
        retryAfterSeconds: waitSeconds,
      });
    }
    try {
      return await this.poll(caller, id, waitSeconds);
    } finally {
      // Not awaited: the answer does not wait for the release, and a release that never happens
      // (the function froze after answering) only holds the slot until the lease runs out.
      void store.releaseLease(name, slot, holder).catch(() => undefined);
    }
  }

  private async poll(caller: Caller, id: string, waitSeconds: number): Promise<AccessRequest> {
    const { store, clock } = this.deps;
    const deadline = clock.now().getTime() + Math.max(0, waitSeconds) * 1000;
    let delay = 100;
    for (;;) {
      const request = await store.get(id, { consistent: true });
      // Another agent's request is indistinguishable from a missing one.
      if (!request || (!canSeeAll(caller) && !isRequester(caller, request))) {
        throw new NotFoundError(`No request ${id}.`);
      }
      const now = clock.now();
      if (effectiveStatus(request, now) !== 'PENDING' || now.getTime() >= deadline) return request;
      await this.sleep(Math.min(delay, deadline - now.getTime()));
      // Polls tighten around a click (first checks 100 ms apart) and settle at 250 ms, so a decision
      // is seen within a quarter of a second (click → credentials, docs/benchmarks.md) while a 20 s
      // wait costs about 80 single-item reads; limits.concurrentWaitsPerCaller bounds how many run.
      delay = Math.min(250, Math.round(delay * 1.5));
    }
  }
}
