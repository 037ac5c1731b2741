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
  | { kind: 'already-voted' }
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
    case 'already-voted':
      return 'You already approved this request';
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

/**
 * Maps what the decision path threw to a click answer, by the error's contract `code`, so the Slack
 * handler and the decisions endpoint share one set of rules. Anything unknown is `failed`.
 */
export function clickOutcomeFromError(error: unknown): ClickOutcome {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const details =
    typeof error === 'object' && error !== null
      ? (error as { details?: Record<string, unknown> }).details
      : undefined;
  switch (code) {
    case 'SelfApproval':
      return { kind: 'self-approval' };
    case 'NotAnApprover':
      return { kind: 'not-an-approver' };
    case 'TooFast': {
      const seconds = Number(details?.minReviewSeconds);
      return { kind: 'too-fast', minReviewSeconds: Number.isFinite(seconds) && seconds > 0 ? seconds : 1 };
    }
    case 'AlreadyDecided': {
      const status = details?.status;
      return typeof status === 'string' && Object.hasOwn(STATUS_WORDS, status)
        ? { kind: 'already-decided', status: status as RequestStatus }
        : { kind: 'already-decided' };
    }
    case 'TimedOut':
      return { kind: 'timed-out' };
    case 'NotFound':
      return { kind: 'not-found' };
    case 'DependencyUnavailable': {
      // Only a failure after the decision was written says `recorded`; any other changed nothing.
      const status = details?.status;
      return details?.recorded === true && typeof status === 'string' && Object.hasOwn(STATUS_WORDS, status)
        ? { kind: 'recorded-unfinished', status: status as RequestStatus }
        : { kind: 'failed' };
    }
    default:
      return { kind: 'failed' };
  }
}
