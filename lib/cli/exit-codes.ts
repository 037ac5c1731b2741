import type { RequestStatus } from '../../lambdas/core/model.js';

/**
 * The CLI's exit codes, documented in `countersign --help` and docs/cli.md. Agents branch on them,
 * so a code never changes meaning. `exec` passes its command's own exit code through once the command
 * runs, so the codes below only apply to what happens before that; 126/127 follow the shell's
 * convention for "found but not runnable" and "not found".
 */
export const EXIT = {
  ok: 0,
  /** The service refused or failed (any contract error other than 401), or its answer was unusable. */
  error: 1,
  /** Bad arguments (unknown flag, missing value) or a bad configuration file. Nothing was sent. */
  usage: 2,
  /** The endpoint could not be reached (connection refused, DNS, timeout) after retries. */
  unreachable: 3,
  /** No token was given, or the service answered 401 Unauthorized. */
  unauthenticated: 4,
  denied: 10,
  timedOut: 11,
  revoked: 12,
  expired: 13,
  /** `--wait --timeout` ran out while the request was still PENDING; the request stays open. */
  stillPending: 14,
  /** exec: the command exists but could not be started (permissions). */
  cannotRun: 126,
  /** exec: the command was not found. */
  commandNotFound: 127,
  /** Interrupted (Ctrl-C) while waiting: 128 + SIGINT. */
  interrupted: 130,
} as const;

/** The exit code a request ending in `status` yields; APPROVED and PENDING are not failures. */
export function exitCodeForStatus(status: RequestStatus): number {
  switch (status) {
    case 'DENIED':
      return EXIT.denied;
    case 'TIMED_OUT':
      return EXIT.timedOut;
    case 'REVOKED':
      return EXIT.revoked;
    case 'EXPIRED':
      return EXIT.expired;
    default:
      return EXIT.ok;
  }
}

/**
 * A failure the CLI explains in one line and turns into an exit code. Everything the user sees on
 * failure goes through this (or ApiError/NetworkError), so no stack trace is ever printed.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad arguments. `command` lets the message point at the right `--help`. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}
