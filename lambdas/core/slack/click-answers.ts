import {
  AlreadyDecidedError,
  DependencyError,
  NotAnApproverError,
  NotFoundError,
  SelfApprovalError,
  TimedOutError,
  TooFastError,
} from '../errors.js';
import type { RequestStatus } from '../model.js';
import { plural } from './blocks.js';

/** What happened to a click, as the clicker is told in an ephemeral message. */
export type ClickOutcome =
  | { kind: 'approved'; approvals: number; quorum: number }
  | { kind: 'denied' }
  | { kind: 'self-approval' }
  | { kind: 'not-an-approver' }
  | { kind: 'unknown-user' }
  | { kind: 'too-fast'; minReviewSeconds: number }
  | { kind: 'already-decided'; status?: RequestStatus }
  | { kind: 'timed-out' }
  | { kind: 'not-found' }
  /** The decision is stored and in force, but the workflow was not told yet: clicking again finishes it. */
  | { kind: 'recorded-unfinished'; status: RequestStatus }
  | { kind: 'failed' };

const STATUS_WORDS: Readonly<Record<RequestStatus, string>> = {
  PENDING: 'pending',
  APPROVED: 'approved',
  DENIED: 'denied',
  TIMED_OUT: 'timed out',
  EXPIRED: 'expired',
  REVOKED: 'revoked',
  EXECUTED: 'executed',
};

/** Short plain-text answers for the clicker (no markup: they contain nothing Slack would parse). */
export function buildClickAnswer(outcome: ClickOutcome): string {
  switch (outcome.kind) {
    case 'approved':
      return outcome.approvals >= outcome.quorum
        ? `Approved — ${outcome.approvals} of ${outcome.quorum} approvals. Access is granted.`
        : `Approved — ${outcome.approvals} of ${outcome.quorum} approvals`;
    case 'denied':
      return 'Denied. Nothing was granted.';
    case 'self-approval':
      return 'You cannot approve your own request';
    case 'not-an-approver':
      return 'You are not an approver for this request';
    case 'unknown-user':
      return 'Your Slack account is not mapped to a Countersign approver';
    case 'too-fast':
      return `Too fast: take at least ${plural(outcome.minReviewSeconds, 'second')} to review`;
    case 'already-decided':
      return outcome.status ? `Already decided: ${STATUS_WORDS[outcome.status]}` : 'Already decided';
    case 'timed-out':
      return 'Too late: this request timed out';
    case 'not-found':
      return 'This request no longer exists';
    case 'recorded-unfinished':
      return `Your decision was recorded (${STATUS_WORDS[outcome.status]}), but Countersign could not finish it yet. Click again to finish.`;
    case 'failed':
      return 'Something went wrong; nothing changed. Try again in a moment.';
  }
}

/** A status the decision path put in an error's details, if it is one. */
function statusIn(details: Record<string, unknown> | undefined): RequestStatus | undefined {
  const status = details?.status;
  return typeof status === 'string' && Object.hasOwn(STATUS_WORDS, status)
    ? (status as RequestStatus)
    : undefined;
}

/**
 * Maps what the decision path threw to a click answer, by the error's class (lambdas/core/errors.ts),
 * so the Slack handler and the decisions endpoint share one set of rules. Anything else — an object
 * that merely carries a `code`, an SDK failure, a bug — is `failed`: nothing is claimed that the
 * decision path did not say.
 */
export function clickOutcomeFromError(error: unknown): ClickOutcome {
  if (error instanceof SelfApprovalError) return { kind: 'self-approval' };
  if (error instanceof NotAnApproverError) return { kind: 'not-an-approver' };
  if (error instanceof TooFastError) {
    const seconds = Number(error.details?.minReviewSeconds);
    return { kind: 'too-fast', minReviewSeconds: Number.isFinite(seconds) && seconds > 0 ? seconds : 1 };
  }
  if (error instanceof AlreadyDecidedError) {
    const status = statusIn(error.details);
    return status ? { kind: 'already-decided', status } : { kind: 'already-decided' };
  }
  if (error instanceof TimedOutError) return { kind: 'timed-out' };
  if (error instanceof NotFoundError) return { kind: 'not-found' };
  if (error instanceof DependencyError) {
    // Only a failure after the decision was written says `recorded`; any other changed nothing.
    const status = statusIn(error.details);
    return error.details?.recorded === true && status
      ? { kind: 'recorded-unfinished', status }
      : { kind: 'failed' };
  }
  return { kind: 'failed' };
}
