import type { AccessRequest, RequestStatus } from './model.js';
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS } from './policy.js';

/**
 * When the request stops being decidable: its approval timeout, counted from its creation (the
 * workflow's timer starts a moment later, so no decision lands after the workflow timed out).
 */
export function approvalDeadline(request: Pick<AccessRequest, 'createdAt' | 'policy'>): number {
  return (
    Date.parse(request.createdAt) +
    (request.policy.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS) * 1000
  );
}

/**
 * The status a caller sees. A grant ends at `notAfter` whether or not the workflow's Expire step has
 * run yet (and policy-allowed requests have no workflow at all), so an APPROVED request past its
 * `notAfter` is EXPIRED for every reader and every decision.
 */
export function effectiveStatus(request: AccessRequest, now: Date): RequestStatus {
  // Fail closed on a lost workflow: readers see a PENDING request past its approval timeout (plus a
  // grace period for the workflow's own timeout step to record the outcome) as TIMED_OUT. Decisions
  // are refused from the deadline itself, without the grace (decisions.ts).
  if (request.status === 'PENDING') {
    return now.getTime() >= approvalDeadline(request) + 300_000 ? 'TIMED_OUT' : 'PENDING';
  }
  if (request.status === 'APPROVED' && request.grant && now.getTime() >= Date.parse(request.grant.notAfter)) {
    return 'EXPIRED';
  }
  return request.status;
}
