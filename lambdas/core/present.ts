import type { AccessRequest, Execution } from './model.js';
import { effectiveStatus } from './status.js';

/**
 * The request object of the HTTP contract (DESIGN.md §4). Bookkeeping (version, history, Slack
 * message ids, refusals) stays inside; the status is the effective one (an APPROVED grant past its
 * notAfter reads EXPIRED).
 */
export function presentRequest(request: AccessRequest, now: Date) {
  return {
    id: request.id,
    status: effectiveStatus(request, now),
    requester: { sub: request.requester.sub, issuer: request.requester.issuer },
    resource: request.resource,
    actions: request.actions,
    reason: request.reason,
    context: request.context,
    durationSeconds: request.durationSeconds,
    createdAt: request.createdAt,
    updatedAt: request.updatedAt,
    ...(request.shownAt ? { shownAt: request.shownAt } : {}),
    policy: {
      rule: request.policy.rule,
      effect: request.policy.effect,
      accessLevels: request.policy.accessLevels,
      ...(request.policy.reason ? { reason: request.policy.reason } : {}),
      ...(request.policy.effect === 'approve'
        ? {
            quorum: request.policy.quorum ?? 1,
            approvers: request.policy.approvers ?? [],
            approvalTimeoutSeconds: request.policy.approvalTimeoutSeconds,
            minReviewSeconds: request.policy.minReviewSeconds ?? 0,
          }
        : {}),
    },
    decisions: request.decisions.map((d) => ({
      approver: d.approver,
      decision: d.decision,
      channel: d.channel,
      at: d.at,
      ...(d.comment ? { comment: d.comment } : {}),
      ...(d.reviewSeconds !== undefined ? { reviewSeconds: d.reviewSeconds } : {}),
    })),
    ...(request.grant ? { grant: request.grant } : {}),
    ...(request.outcome ? { outcome: request.outcome } : {}),
    ...(request.call ? { call: request.call } : {}),
    ...(request.execution ? { execution: presentExecution(request.execution) } : {}),
  };
}

/** The execution as the contract shows it (DESIGN.md §4): the masked output, never more. */
export function presentExecution(execution: Execution) {
  return {
    status: execution.status,
    ...(execution.output !== undefined ? { output: execution.output } : {}),
    ...(execution.outputTruncated ? { outputTruncated: true } : {}),
    ...(execution.awsError ? { awsError: execution.awsError } : {}),
    masked: execution.masked,
    ...(execution.outputSha256 ? { outputSha256: execution.outputSha256 } : {}),
    ...(execution.accessKeyId ? { accessKeyId: execution.accessKeyId } : {}),
    startedAt: execution.startedAt,
    ...(execution.at ? { at: execution.at } : {}),
  };
}
