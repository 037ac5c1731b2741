import { randomUUID } from 'node:crypto';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './exit-codes.js';
import { CountersignClient } from './http-client.js';
import type { CliIo } from './output.js';
import { resolveEndpoint, resolveTokenSource } from './settings.js';

/** Flags every command accepts. `--help` is answered before parsing, in bin/countersign.ts. */
const GLOBAL_OPTIONS = {
  endpoint: { type: 'string' },
  token: { type: 'string' },
} as const;

/** node:util parseArgs, strict, with its errors turned into usage errors that name the command. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: T,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...options },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), command);
  }
}

export function required<V>(command: string, flag: string, value: V | undefined): V {
  if (
    value === undefined ||
    (typeof value === 'string' && value.trim() === '') ||
    (Array.isArray(value) && !value.length)
  ) {
    throw new UsageError(`--${flag} is required`, command);
  }
  return value;
}

/** Whole seconds, as the contract counts them; ranges are the server's to enforce (one source of truth). */
export function positiveSeconds(
  command: string,
  flag: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) <= 0) {
    throw new UsageError(`--${flag} must be a whole number of seconds, got "${value}"`, command);
  }
  return Number(value);
}

/** A request id goes into a URL path: refuse anything that could change which path is called. */
export function requestId(command: string, value: string | undefined): string {
  const id = required(command, 'request', value).trim();
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
    throw new UsageError(`--request "${id}" is not a request id (e.g. req_01J…)`, command);
  }
  return id;
}

/** `--context key=value` pairs into the request's context object; a key given twice is a mistake. */
export function contextPairs(
  command: string,
  pairs: string[] | undefined,
): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const context: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--context "${pair}" is not key=value`, command);
    const key = pair.slice(0, at);
    if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(key)) {
      throw new UsageError(
        `--context key "${key}" must be a name such as task, runId, toolCallId, model, onBehalfOf`,
        command,
      );
    }
    if (Object.hasOwn(context, key)) throw new UsageError(`--context ${key} is given twice`, command);
    context[key] = pair.slice(at + 1);
  }
  return context;
}

/**
 * One key per invocation unless the caller brings its own: retries of this invocation's POST then
 * land on the same request, while running the command again asks again.
 */
export function idempotencyKey(given: string | undefined): string {
  return given?.trim() || `cli-${randomUUID()}`;
}

export function clientFor(
  values: { endpoint?: string | undefined; token?: string | undefined },
  io: CliIo,
  options: { auth?: boolean } = {},
): CountersignClient {
  const endpoint = resolveEndpoint(values.endpoint, io.env);
  const token = options.auth === false ? undefined : resolveTokenSource(values.token, io.env);
  return new CountersignClient({ endpoint, ...(token ? { token } : {}), userAgent: 'countersign-cli' });
}
