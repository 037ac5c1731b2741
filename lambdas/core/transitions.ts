import { ConditionFailedError, DependencyError, NotFoundError } from './errors.js';
import { appendHistory } from './history.js';
import type { AccessRequest } from './model.js';
import type { Clock, RequestStore } from './ports.js';

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
 */
export async function changeRequest(
  deps: { store: RequestStore; clock: Clock },
  requestId: string,
  decide: (current: AccessRequest, now: Date) => Change | undefined,
  options: { maxAttempts?: number } = {},
): Promise<{ request: AccessRequest; changed: boolean }> {
  const maxAttempts = options.maxAttempts ?? 8;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const current = await deps.store.get(requestId, { consistent: true });
    if (!current) throw new NotFoundError(`No request ${requestId}.`);
    const now = deps.clock.now();
    const change = decide(current, now);
    if (!change) return { request: current, changed: false };
    const at = now.toISOString();
    const draft: AccessRequest = { ...current, ...change.patch, updatedAt: at, version: current.version + 1 };
    const next: AccessRequest = {
      ...draft,
      history: appendHistory(current.history ?? [], draft, change.event, at),
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
