import { canSeeAll, isRequester } from './access.js';
import { NotFoundError } from './errors.js';
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
    private readonly deps: { store: RequestStore; clock: Clock; sleep?: (ms: number) => Promise<void> },
  ) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Reads a request the caller may see; long-polls up to `waitSeconds` while it is PENDING. */
  async get(caller: Caller, id: string, waitSeconds = 0): Promise<AccessRequest> {
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
      // Polls tighten around a click (first checks 100 ms apart) and settle at 500 ms, so a decision
      // is seen within half a second while a 20 s wait costs about 40 reads.
      delay = Math.min(500, Math.round(delay * 1.5));
    }
  }
}
