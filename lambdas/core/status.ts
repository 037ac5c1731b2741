import type { AccessRequest, RequestStatus } from './model.js';

/**
 * The status a caller sees. A grant ends at `notAfter` whether or not the workflow's Expire step has
 * run yet (and policy-allowed requests have no workflow at all), so an APPROVED request past its
 * `notAfter` is EXPIRED for every reader and every decision.
 */
export function effectiveStatus(request: AccessRequest, now: Date): RequestStatus {
  // Fail closed on a lost workflow: a PENDING request past its approval timeout (plus a grace period
  // for the workflow's own timeout step to run) can no longer be approved by anyone.
  if (request.status === 'PENDING') {
    const deadline =
      Date.parse(request.createdAt) + ((request.policy.approvalTimeoutSeconds ?? 3600) + 300) * 1000;
    return now.getTime() >= deadline ? 'TIMED_OUT' : 'PENDING';
  }
  if (request.status === 'APPROVED' && request.grant && now.getTime() >= Date.parse(request.grant.notAfter)) {
    return 'EXPIRED';
  }
  return request.status;
}

export function withEffectiveStatus(request: AccessRequest, now: Date): AccessRequest {
  const status = effectiveStatus(request, now);
  return status === request.status ? request : { ...request, status };
}
