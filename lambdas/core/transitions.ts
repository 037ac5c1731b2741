import { ConditionFailedError, DependencyError, NotFoundError } from './errors.js';
import { appendHistory, sealHistory } from './history.js';
import type { AccessRequest } from './model.js';
import type { Clock, Mac, RequestStore } from './ports.js';

export interface Change {
  /** Fields to set. */
  patch: Partial<AccessRequest>;
  /** The history entry's event, e.g. `approved` or `decision:deny by bob@example.com`. */
  event: string;
}

/**
 * The one way a stored request changes: read it consistently, let `decide` look at it and either
 * return a change or nothing (no change needed), write the change conditioned on the version it
 * read, and start over if someone else changed it first. Every state machine rule therefore sees a
 * fresh, exact state, and two racing writers can never both win.
 *
 * `options.current`: the state the caller has just read consistently; the first attempt decides on
 * it instead of reading it again (the version condition still pins the write to it).
 * `options.mac`: seal the new history entry here rather than in the store, so the request returned
 * carries its keyed history and a change written on top of it never signs that entry again.
 */
export async function changeRequest(
  deps: { store: RequestStore; clock: Clock },
  requestId: string,
  decide: (current: AccessRequest, now: Date) => Change | undefined,
  options: { maxAttempts?: number; current?: AccessRequest; mac?: Mac } = {},
): Promise<{ request: AccessRequest; changed: boolean }> {
  const maxAttempts = options.maxAttempts ?? 8;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const current =
      attempt === 1 && options.current
        ? options.current
        : await deps.store.get(requestId, { consistent: true });
    if (!current) throw new NotFoundError(`No request ${requestId}.`);
    const now = deps.clock.now();
    const change = decide(current, now);
    if (!change) return { request: current, changed: false };
    const at = now.toISOString();
    const draft: AccessRequest = { ...current, ...change.patch, updatedAt: at, version: current.version + 1 };
    const history = appendHistory(current.history ?? [], draft, change.event, at);
    const next: AccessRequest = {
      ...draft,
      history: options.mac ? await sealHistory(requestId, history, options.mac) : history,
    };
    try {
      await deps.store.replace(next, { expectedVersion: current.version, from: [current.status] });
      return { request: next, changed: true };
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
  throw new DependencyError(`Request ${requestId} is changing too often to update; retry.`);
}
