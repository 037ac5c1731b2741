/**
 * Every error Countersign answers with, and the few it only throws internally (the last ones
 * here). Each CountersignError carries the HTTP status and the contract's `code` (DESIGN.md §4);
 * `expose` says whether its message and details may reach a client. Anything that is not a
 * CountersignError — an SDK failure, a bug — is answered as a generic 500 by the error middleware,
 * so no stack trace or SDK text ever leaves the service. Callers branch with `instanceof`.
 */
export type ErrorDetails = Record<string, unknown>;

export abstract class CountersignError extends Error {
  /**
   * Every class spells its name literally (`override name = '…'`): Lambda reports `error.name` as the
   * error type the workflow's Retry matches, and the bundles are minified without keepNames
   * (lib/bundling.ts), so a name taken from the class would be `ye`. test/infra/error-names.test.ts
   * checks every exported error class in a bundle.
   */
  override name = 'CountersignError';
  abstract readonly status: number;
  abstract readonly code: string;
  readonly details?: ErrorDetails;

  /**
   * Whether the message and details are written for the client. A 4xx says what the caller got
   * wrong, so it is; a 5xx by default is not (the middleware answers its status and code with a
   * generic message). The 5xx classes whose messages are written for the client say so.
   */
  get expose(): boolean {
    return this.status < 500;
  }

  constructor(message: string, options?: { details?: ErrorDetails; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.details) this.details = options.details;
  }
}

/** 400: the request body, path or query is not what the contract accepts. `details.field` names it. */
export class ValidationError extends CountersignError {
  override name = 'ValidationError';
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
  override name = 'UnauthorizedError';
  readonly status = 401;
  readonly code = 'Unauthorized';
}

/** 403: a verified caller who may not do this. */
export class ForbiddenError extends CountersignError {
  override name = 'ForbiddenError';
  readonly status = 403;
  readonly code: string = 'Forbidden';
}

export class SelfApprovalError extends ForbiddenError {
  override name = 'SelfApprovalError';
  override readonly code = 'SelfApproval';
}

export class NotAnApproverError extends ForbiddenError {
  override name = 'NotAnApproverError';
  override readonly code = 'NotAnApprover';
}

/** 404: not there — or there, but not the caller's to see (never reveal which). */
export class NotFoundError extends CountersignError {
  override name = 'NotFoundError';
  readonly status = 404;
  readonly code = 'NotFound';
}

/** 409: the request's state does not allow this. Subclasses name the state. */
export class ConflictError extends CountersignError {
  override name = 'ConflictError';
  readonly status = 409;
  readonly code: string = 'Conflict';
}

export class IdempotencyConflictError extends ConflictError {
  override name = 'IdempotencyConflictError';
  override readonly code = 'IdempotencyConflict';
}
export class AlreadyDecidedError extends ConflictError {
  override name = 'AlreadyDecidedError';
  override readonly code = 'AlreadyDecided';
}
export class TimedOutError extends ConflictError {
  override name = 'TimedOutError';
  override readonly code = 'TimedOut';
}
export class NotApprovedError extends ConflictError {
  override name = 'NotApprovedError';
  override readonly code = 'NotApproved';
}
export class GrantExpiredError extends ConflictError {
  override name = 'GrantExpiredError';
  override readonly code = 'GrantExpired';
}
export class RevokedError extends ConflictError {
  override name = 'RevokedError';
  override readonly code = 'Revoked';
}
/** An exact call runs once; a second execute (or one racing the first) gets this. */
export class AlreadyExecutedError extends ConflictError {
  override name = 'AlreadyExecutedError';
  override readonly code = 'AlreadyExecuted';
}
/** A call-mode request never hands out credentials: the call is made by Countersign. */
export class CallOnlyError extends ConflictError {
  override name = 'CallOnlyError';
  override readonly code = 'CallOnly';
}
/** `execute` on a request that asked for a session, not for one exact call. */
export class NotACallError extends ConflictError {
  override name = 'NotACallError';
  override readonly code = 'NotACall';
}
/** 409: too little of the grant is left for a session that ends with it (STS's 900-second floor). */
export class GrantEndingSoonError extends ConflictError {
  override name = 'GrantEndingSoonError';
  override readonly code = 'GrantEndingSoon';
}

/** A review range holding more requests than a report reads (ReportReader.reviewRows): ask for less. */
export class TooManyRequestsInRangeError extends ValidationError {
  override name = 'TooManyRequestsInRangeError';
  constructor(max: number) {
    super('from', `More than ${max} requests in this range; ask for a shorter one.`, { max });
  }
}

/** 413: the body is larger than the API accepts. */
export class PayloadTooLargeError extends CountersignError {
  override name = 'PayloadTooLargeError';
  readonly status = 413;
  readonly code = 'PayloadTooLarge';
}

/** 415: not JSON (or not the form encoding Slack uses). */
export class UnsupportedMediaTypeError extends CountersignError {
  override name = 'UnsupportedMediaTypeError';
  readonly status = 415;
  readonly code = 'UnsupportedMediaType';
}

/** 422: well-formed but refused by a review rule — an approval faster than `minReviewSeconds`. */
export class TooFastError extends CountersignError {
  override name = 'TooFastError';
  readonly status = 422;
  readonly code = 'TooFast';
}

/** 429: one agent asked too often. */
export class RateLimitedError extends CountersignError {
  override name = 'RateLimitedError';
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
  override name = 'FailClosedError';
  readonly status = 500;
  readonly code = 'FailedClosed';
  /** Its messages are ours (the rule refused, the operator's fix), never a dependency's text. */
  override get expose(): boolean {
    return true;
  }
}

/** Validation accepts exact calls this version cannot make yet: refused before anything runs. */
export class CallNotSupportedError extends FailClosedError {
  override name = 'CallNotSupportedError';
  constructor(operation: string) {
    super(`Exact calls of ${operation} are validated but not yet executed by this version of Countersign.`);
  }
}

/**
 * 503: a dependency (database, workflow, STS, IAM, Slack) failed; say what was and was not done,
 * and whether to retry. Adapters translate SDK failures into this, with the SDK error as `cause`
 * (logged, never answered), so the message is always ours and may be shown.
 */
export class DependencyError extends CountersignError {
  override name = 'DependencyError';
  readonly status = 503;
  readonly code = 'DependencyUnavailable';
  override get expose(): boolean {
    return true;
  }
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

/** One problem of a configuration: the key it is at, and what is wrong there. */
export interface ConfigIssue {
  key: string;
  message: string;
}

/** Every problem of a configuration at once, one `key: message` a line, so one edit fixes them all. */
export class ConfigInvalidError extends ConfigError {
  constructor(
    readonly issues: readonly ConfigIssue[],
    source?: string,
  ) {
    const first = issues[0] ?? { key: '(root)', message: 'invalid' };
    super(source ? `${source}: ${first.key}` : first.key, first.message);
    this.name = 'ConfigInvalidError';
    const prefix = source ? `${source}: ` : '';
    // An issue without a key (the YAML itself) is its message alone.
    const line = (i: ConfigIssue) => `${i.key ? `${i.key}: ` : ''}${indent(i.message)}`;
    this.message =
      issues.length === 1
        ? `${prefix}${line(first)}`
        : `${prefix}${issues.length} problems:\n${issues.map((i) => `  ${line(i)}`).join('\n')}`;
  }

  /** The same problems, reported against a file. */
  in(source: string): ConfigInvalidError {
    return new ConfigInvalidError(this.issues, source);
  }
}

const indent = (text: string) => text.replace(/\n/g, '\n    ');

/** Thrown when the workflow runs ahead of the request's write; the ASL retries it. */
export class RequestNotReadyError extends DependencyError {
  override name = 'RequestNotReadyError';
  constructor(requestId: string) {
    super(`Request ${requestId} is not readable yet.`);
  }
}

/**
 * The Grant step found the request no longer APPROVED (revoked between the approval and this step;
 * the revoke also stops the execution). Its `name` is the error the ASL catches to end quietly.
 */
export class NotGrantedError extends Error {
  constructor(requestId: string, status: string) {
    super(`Request ${requestId} is ${status}, not APPROVED.`);
    this.name = 'Countersign.NotGranted';
  }
}

/** An error as a log field: its name and message (cut short), never the whole (SDK) object. */
export function describeError(error: unknown): { name: string; message: string } | undefined {
  if (!error) return undefined;
  if (error instanceof Error) return { name: error.name, message: error.message.slice(0, 500) };
  return { name: 'non-error', message: String(error).slice(0, 200) };
}
