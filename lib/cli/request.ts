import { clientFor, contextPairs, idempotencyKey, parseFlags, positiveSeconds, required } from './args.js';
import { EXIT, exitCodeForStatus, UsageError } from './exit-codes.js';
import type { CountersignClient, CreateRequestBody, RequestView } from './http-client.js';
import { type CliIo, formatRequest, outcomeReason, sanitize } from './output.js';
import { waitForDecision } from './wait.js';

/** The flags that describe what is asked for; `exec` shares them. */
export const REQUEST_OPTIONS = {
  resource: { type: 'string' },
  action: { type: 'string', multiple: true },
  reason: { type: 'string' },
  duration: { type: 'string' },
  context: { type: 'string', multiple: true },
  'idempotency-key': { type: 'string' },
  timeout: { type: 'string' },
} as const;

export interface RequestFlags {
  resource?: string | undefined;
  action?: string[] | undefined;
  reason?: string | undefined;
  duration?: string | undefined;
  context?: string[] | undefined;
}

export function requestBody(command: string, flags: RequestFlags): CreateRequestBody {
  const body: CreateRequestBody = {
    resource: required(command, 'resource', flags.resource),
    actions: required(command, 'action', flags.action),
    reason: required(command, 'reason', flags.reason),
  };
  const duration = positiveSeconds(command, 'duration', flags.duration);
  if (duration !== undefined) body.durationSeconds = duration;
  const context = contextPairs(command, flags.context);
  if (context) body.context = context;
  return body;
}

/** One line on stderr saying why a request did not end APPROVED, and the exit code that says it too. */
export function reportOutcome(
  request: RequestView,
  io: CliIo,
  gaveUp: boolean,
  timeoutSeconds?: number,
): number {
  const id = sanitize(request.id, 200);
  if (gaveUp) {
    io.err(
      `countersign: ${id} is still PENDING after ${timeoutSeconds}s; it stays open (resume: countersign status --request ${id} --wait)\n`,
    );
    return EXIT.stillPending;
  }
  const code = exitCodeForStatus(request.status);
  if (code !== EXIT.ok) io.err(`countersign: ${id} ${request.status} — ${outcomeReason(request)}\n`);
  return code;
}

/**
 * Creates the request (under the caller's idempotency key, or one of this invocation's) and, when
 * asked, waits for it to be decided. Shared by `request --wait` and `exec`.
 */
export async function submitAndWait(
  client: CountersignClient,
  body: CreateRequestBody,
  givenKey: string | undefined,
  io: CliIo,
  wait: { enabled: boolean; timeoutSeconds: number | undefined },
): Promise<{ request: RequestView; gaveUp: boolean }> {
  const created = await client.createRequest(body, idempotencyKey(givenKey));
  if (!wait.enabled) return { request: created, gaveUp: false };
  return waitForDecision(
    client,
    created,
    io,
    wait.timeoutSeconds === undefined ? {} : { timeoutSeconds: wait.timeoutSeconds },
  );
}

export async function runRequest(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('request', argv, {
    ...REQUEST_OPTIONS,
    wait: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const body = requestBody('request', flags);
  const timeoutSeconds = positiveSeconds('request', 'timeout', flags.timeout);
  if (timeoutSeconds !== undefined && !flags.wait)
    throw new UsageError('--timeout only applies with --wait', 'request');
  const client = clientFor(flags, io);

  const { request, gaveUp } = await submitAndWait(client, body, flags['idempotency-key'], io, {
    enabled: flags.wait === true,
    timeoutSeconds,
  });
  io.out(flags.json ? `${JSON.stringify(request, null, 2)}\n` : formatRequest(request));
  return reportOutcome(request, io, gaveUp, timeoutSeconds);
}
