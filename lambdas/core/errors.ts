/**
 * Every error Countersign answers with. Each class carries the HTTP status and the contract's
 * `code` (DESIGN.md §4); `expose` says whether its message may reach a client. Anything that is
 * not a CountersignError — an SDK failure, a bug — is answered as a generic 500 by the error
 * middleware, so no stack trace or SDK text ever leaves the service.
 */
export type ErrorDetails = Record<string, unknown>;

export abstract class CountersignError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly expose: boolean = true;
  readonly details?: ErrorDetails;

  constructor(message: string, options?: { details?: ErrorDetails; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.details) this.details = options.details;
  }
}

/** 400: the request body, path or query is not what the contract accepts. `details.field` names it. */
export class ValidationError extends CountersignError {
  readonly status = 400;
  readonly code = 'ValidationError';
  constructor(field: string, message: string, details?: ErrorDetails) {
    super(message, { details: { field, ...details } });
  }
  get field(): string {
    return String(this.details?.field);
  }
}

/** 401: no identity, or one that does not verify. The message never says which check failed in detail. */
export class UnauthorizedError extends CountersignError {
  readonly status = 401;
  readonly code = 'Unauthorized';
}

/** 403: a verified caller who may not do this. */
export class ForbiddenError extends CountersignError {
  readonly status = 403;
  readonly code: string = 'Forbidden';
}

export class SelfApprovalError extends ForbiddenError {
  override readonly code = 'SelfApproval';
}

export class NotAnApproverError extends ForbiddenError {
  override readonly code = 'NotAnApprover';
}

/** 404: not there — or there, but not the caller's to see (never reveal which). */
export class NotFoundError extends CountersignError {
  readonly status = 404;
  readonly code = 'NotFound';
}

/** 409: the request's state does not allow this. Subclasses name the state. */
export class ConflictError extends CountersignError {
  readonly status = 409;
  readonly code: string = 'Conflict';
}

export class IdempotencyConflictError extends ConflictError {
  override readonly code = 'IdempotencyConflict';
}
export class AlreadyDecidedError extends ConflictError {
  override readonly code = 'AlreadyDecided';
}
export class TimedOutError extends ConflictError {
  override readonly code = 'TimedOut';
}
export class NotApprovedError extends ConflictError {
  override readonly code = 'NotApproved';
}
export class GrantExpiredError extends ConflictError {
  override readonly code = 'GrantExpired';
}
export class RevokedError extends ConflictError {
  override readonly code = 'Revoked';
}
/** 409: too little of the grant is left for a session that ends with it (STS's 900-second floor). */
export class GrantEndingSoonError extends ConflictError {
  override readonly code = 'GrantEndingSoon';
}

/** 413: the body is larger than the API accepts. */
export class PayloadTooLargeError extends CountersignError {
  readonly status = 413;
  readonly code = 'PayloadTooLarge';
}

/** 415: not JSON (or not the form encoding Slack uses). */
export class UnsupportedMediaTypeError extends CountersignError {
  readonly status = 415;
  readonly code = 'UnsupportedMediaType';
}

/** 422: well-formed but refused by a review rule — an approval faster than `minReviewSeconds`. */
export class TooFastError extends CountersignError {
  readonly status = 422;
  readonly code = 'TooFast';
}

/** 429: one agent asked too often. */
export class RateLimitedError extends CountersignError {
  readonly status = 429;
  readonly code = 'RateLimited';
  /** When to try again; answered as `Retry-After` and `details.retryAfterSeconds`. */
  readonly retryAfterSeconds: number;
  constructor(message: string, options: { retryAfterSeconds?: number; details?: ErrorDetails } = {}) {
    const retryAfterSeconds = Math.max(1, Math.ceil(options.retryAfterSeconds ?? 60));
    super(message, { details: { ...options.details, retryAfterSeconds } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * 500 whose message is safe to show: we refused to grant because something would have made the
 * grant broader or unverifiable (policy too large, no target role for the account). Fail closed.
 */
export class FailClosedError extends CountersignError {
  readonly status = 500;
  readonly code = 'FailedClosed';
}

/** 503: a dependency (database, workflow, STS) failed; nothing was granted. Safe to retry. */
export class DependencyError extends CountersignError {
  readonly status = 503;
  readonly code = 'DependencyUnavailable';
}

/** Thrown by adapters when a conditional write loses a race: the caller re-reads and decides. */
export class ConditionFailedError extends Error {
  constructor(message = 'condition failed', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConditionFailedError';
  }
}

/** A configuration file or environment that cannot be used. Start-up stops with this message. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'ConfigError';
  }
}
