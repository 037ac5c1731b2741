import { ConfigError } from '../../lambdas/core/errors.js';
import { CliError, EXIT, UsageError } from './exit-codes.js';
import { ApiError, NetworkError, type RequestView } from './http-client.js';

/** Where a command writes. Injected so every command writes through one place, and stdout stays clean. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal: progress then prints dots instead of one line per poll. */
  readonly errIsTTY: boolean;
}

export function processIo(): CliIo {
  return {
    env: process.env,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    errIsTTY: process.stderr.isTTY === true,
  };
}

// C0/C1 controls, line/paragraph separators and bidi overrides (which can make text read backwards).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Makes untrusted text (an agent's reason, an approver's comment, a server message) safe to print:
 * control characters would let that text move the cursor, rewrite earlier lines or retitle the
 * terminal, so each one is shown as a visible escape instead.
 */
export function sanitize(text: unknown, maxLength = 500, options: { keepNewlines?: boolean } = {}): string {
  const value = typeof text === 'string' ? text : String(text);
  const escaped = value.replace(UNPRINTABLE, (c) =>
    options.keepNewlines && c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return escaped.length > maxLength ? `${escaped.slice(0, maxLength)}…` : escaped;
}

/** Why a request ended where it did, from the fields the server gave. */
export function outcomeReason(request: RequestView): string {
  if (request.outcome?.reason) {
    const by = request.outcome.by ? ` (${sanitize(request.outcome.by, 200)})` : '';
    return `${sanitize(request.outcome.reason)}${by}`;
  }
  const deny = request.decisions?.find((d) => d.decision === 'deny');
  if (deny) {
    return `denied by ${sanitize(deny.approver, 200)}${deny.comment ? `: ${sanitize(deny.comment)}` : ''}`;
  }
  if (request.status === 'DENIED' && request.policy?.effect === 'deny') {
    return `policy rule "${sanitize(request.policy.rule, 100)}" denies it`;
  }
  switch (request.status) {
    case 'TIMED_OUT':
      return 'no decision before the approval timeout';
    case 'EXPIRED':
      return request.grant?.notAfter
        ? `the grant ended at ${sanitize(request.grant.notAfter)}`
        : 'the grant ended';
    case 'REVOKED':
      return 'access was revoked';
    default:
      return request.status;
  }
}

export function approvalsSoFar(request: RequestView): number {
  return new Set((request.decisions ?? []).filter((d) => d.decision === 'approve').map((d) => d.approver))
    .size;
}

/** A readable summary. The first line is always `<id> <STATUS>`, so `awk 'NR==1{print $1}'` gets the id. */
export function formatRequest(request: RequestView): string {
  const lines = [`${sanitize(request.id, 200)} ${request.status}`];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(9)} ${value}`);
  if (request.resource) row('resource', sanitize(request.resource, 2048));
  if (request.actions?.length) row('actions', request.actions.map((a) => sanitize(a, 200)).join(', '));
  if (request.reason) row('reason', sanitize(request.reason, 2000));
  if (request.requester?.sub) row('requester', sanitize(request.requester.sub, 200));
  if (request.policy) {
    const p = request.policy;
    const quorum =
      p.effect === 'approve' && p.quorum ? `, ${approvalsSoFar(request)}/${p.quorum} approvals` : '';
    row('rule', `${sanitize(p.rule, 100)} (${p.effect}${quorum})`);
  }
  for (const d of request.decisions ?? []) {
    const comment = d.comment ? ` — ${sanitize(d.comment)}` : '';
    row(
      'decision',
      `${d.decision} by ${sanitize(d.approver, 200)} via ${d.channel} at ${sanitize(d.at, 40)}${comment}`,
    );
  }
  if (request.grant) {
    row('grant', `until ${sanitize(request.grant.notAfter, 40)} as ${sanitize(request.grant.roleArn, 300)}`);
  }
  if (request.status !== 'PENDING' && request.status !== 'APPROVED') row('outcome', outcomeReason(request));
  return `${lines.join('\n')}\n`;
}

/**
 * The one line a failure is explained in (after `countersign: `), and its exit code. Anything
 * unexpected is reduced to its message: a stack trace helps no agent and may leak paths.
 */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof ApiError) {
    const field =
      typeof error.details?.field === 'string' ? ` (field: ${sanitize(error.details.field, 100)})` : '';
    const message = error.code
      ? `${error.status} ${sanitize(error.code, 60)} — ${sanitize(error.message)}${field}`
      : sanitize(error.message);
    return { message, exitCode: error.exitCode };
  }
  if (error instanceof NetworkError) return { message: sanitize(error.message), exitCode: error.exitCode };
  // Our own messages may span lines (usage, a configuration's problems): those print as lines.
  const lines = (text: string, max = 500) => sanitize(text, max, { keepNewlines: true });
  if (error instanceof UsageError) {
    const hint = `run: countersign ${error.command ? `${error.command} ` : ''}--help`;
    return { message: `${lines(error.message)} (${hint})`, exitCode: error.exitCode };
  }
  if (error instanceof ConfigError) {
    // A configuration's problems (ConfigInvalidError) say so; a bad flag or unreadable file names itself.
    const what = error.name === 'ConfigInvalidError' ? 'bad configuration: ' : '';
    return { message: `${what}${lines(error.message, 8000)}`, exitCode: EXIT.usage };
  }
  if (error instanceof CliError) return { message: sanitize(error.message), exitCode: error.exitCode };
  // node:util parseArgs errors from code that parses its own flags (the local stack).
  if (error instanceof Error && String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) {
    return { message: lines(error.message), exitCode: EXIT.usage };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `unexpected error: ${sanitize(message)}`, exitCode: EXIT.error };
}
