import { setTimeout as delay } from 'node:timers/promises';
import type { AccessRequest, ProcessCredentials } from '../../lambdas/core/model.js';
import { REQUEST_STATUSES } from '../../lambdas/core/model.js';
import { CliError, EXIT } from './exit-codes.js';
import type { TokenSource } from './settings.js';

/**
 * A client for the HTTP contract (DESIGN.md §4), as the CLI needs it. Retries follow one rule: only
 * calls that cannot do something twice are retried — GETs, and POST /v1/requests because it always
 * carries an Idempotency-Key. Minting credentials, revoking and deciding are never retried.
 */

/** The request object as the contract returns it: `id` and `status` always, the rest as the server sends. */
export type RequestView = Pick<AccessRequest, 'id' | 'status'> &
  Partial<Omit<AccessRequest, 'id' | 'status'>>;

export interface CreateRequestBody {
  resource: string;
  actions: string[];
  reason: string;
  durationSeconds?: number;
  context?: Record<string, string>;
  /** An exact call instead of a session (DESIGN.md §4 "Exact calls"). */
  call?: { input: Record<string, unknown>; operation?: string };
}

/** The service answered with an error status. `code` is the contract's error code when the body had one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly details: Record<string, unknown> | undefined,
    readonly target: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get exitCode(): number {
    return this.status === 401 ? EXIT.unauthenticated : EXIT.error;
  }
}

/** The endpoint could not be reached, or the connection broke before an answer arrived. */
export class NetworkError extends Error {
  readonly exitCode = EXIT.unreachable;
  constructor(
    readonly target: string,
    reason: string,
  ) {
    super(`cannot reach ${target}: ${reason}`);
    this.name = 'NetworkError';
  }
}

export interface RetryPolicy {
  /** Total attempts, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** About 4 s of patience in total: long enough for a Lambda cold start or a throttled burst. */
const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };

export interface ClientOptions {
  readonly endpoint: URL;
  /** Absent for the unauthenticated local endpoints (POST /local/token). */
  readonly token?: TokenSource;
  readonly retry?: RetryPolicy;
  /** Injected so tests of the retry arithmetic need not sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly userAgent?: string;
}

/** Statuses worth a second try: the server (or API Gateway in front of it) was briefly unable. */
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

/** The contract caps a long poll at 20 s; API Gateway's own limit is 29 s. */
export const MAX_WAIT_SECONDS = 20;

const CALL_TIMEOUT_MS = 30_000;

interface CallOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly retry: boolean;
  readonly timeoutMs?: number;
  readonly auth?: boolean;
}

export class CountersignClient {
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: ClientOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
  }

  /** POST /v1/requests. The key makes a retried POST land on the same request instead of a second one. */
  async createRequest(body: CreateRequestBody, idempotencyKey: string): Promise<RequestView> {
    const answer = await this.call('POST', '/v1/requests', {
      body,
      headers: { 'Idempotency-Key': idempotencyKey },
      retry: true,
    });
    return asRequest(answer, 'POST /v1/requests');
  }

  /** GET /v1/requests/{id}, long-polling up to `waitSeconds` (≤ 20) while the request is PENDING. */
  async getRequest(id: string, waitSeconds?: number): Promise<RequestView> {
    const wait =
      waitSeconds === undefined
        ? undefined
        : Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(waitSeconds)));
    const query = wait ? `?waitSeconds=${wait}` : '';
    const answer = await this.call('GET', `${requestPath(id)}${query}`, {
      retry: true,
      // The server holds the connection for up to `wait` seconds before answering.
      timeoutMs: CALL_TIMEOUT_MS + (wait ?? 0) * 1000,
    });
    return asRequest(answer, 'GET /v1/requests/{id}');
  }

  /** POST /v1/requests/{id}/credentials. Not retried: every call mints (and records) a new session. */
  async claimCredentials(id: string): Promise<ProcessCredentials> {
    const answer = await this.call('POST', `${requestPath(id)}/credentials`, { retry: false });
    return asCredentials(answer);
  }

  /**
   * POST /v1/requests/{id}/execute: the approved exact call, made once by Countersign. Never
   * retried: a second execute is 409 AlreadyExecuted, and a lost answer stays lost (the request
   * still shows the execution).
   */
  async execute(id: string): Promise<{ execution: Record<string, unknown> }> {
    const answer = (await this.call('POST', `${requestPath(id)}/execute`, { retry: false })) as {
      execution?: unknown;
    } | null;
    if (!answer?.execution || typeof answer.execution !== 'object') {
      throw new CliError('POST /v1/requests/{id}/execute answered without an execution', EXIT.error);
    }
    return { execution: answer.execution as Record<string, unknown> };
  }

  /** GET /v1/requests: the caller's view, newest first, one page. */
  async listRequests(query: {
    status?: string;
    limit?: number;
    cursor?: string;
  }): Promise<{ items: RequestView[]; nextCursor?: string }> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor) params.set('cursor', query.cursor);
    const search = params.size ? `?${params}` : '';
    const answer = (await this.call('GET', `/v1/requests${search}`, { retry: true })) as {
      items?: unknown;
      nextCursor?: unknown;
    } | null;
    if (!Array.isArray(answer?.items)) {
      throw new CliError('GET /v1/requests answered without items', EXIT.error);
    }
    return {
      items: answer.items.map((item) => asRequest(item, 'GET /v1/requests')),
      ...(typeof answer.nextCursor === 'string' ? { nextCursor: answer.nextCursor } : {}),
    };
  }

  async revoke(id: string): Promise<RequestView> {
    const answer = await this.call('POST', `${requestPath(id)}/revoke`, { retry: false });
    return asRequest(answer, 'POST /v1/requests/{id}/revoke');
  }

  async decide(id: string, decision: 'approve' | 'deny', comment?: string): Promise<RequestView> {
    const body = comment === undefined ? { decision } : { decision, comment };
    const answer = await this.call('POST', `${requestPath(id)}/decisions`, { body, retry: false });
    return asRequest(answer, 'POST /v1/requests/{id}/decisions');
  }

  /** POST /local/token: local mode only, unauthenticated by design (the embedded issuer is for development). */
  async localToken(sub: string, groups: string[]): Promise<string> {
    const answer = await this.call('POST', '/local/token', {
      body: { sub, groups },
      retry: false,
      auth: false,
    });
    const token = (answer as { token?: unknown } | null)?.token;
    if (typeof token !== 'string' || !token) {
      throw new CliError('POST /local/token answered without a token', EXIT.error);
    }
    return token;
  }

  private async call(method: 'GET' | 'POST', path: string, options: CallOptions): Promise<unknown> {
    const base = `${this.options.endpoint.origin}${this.options.endpoint.pathname.replace(/\/+$/, '')}`;
    const url = new URL(`${base}${path}`);
    const target = `${base} (${method} ${url.pathname})`;
    const attempts = options.retry ? Math.max(1, this.retry.attempts) : 1;

    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts;
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': this.options.userAgent ?? 'countersign-cli',
        ...options.headers,
      };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      if (options.auth !== false) {
        if (!this.options.token) throw new CliError('no token source configured', EXIT.unauthenticated);
        // Read per attempt: a token file may have been rotated since the previous call.
        headers.authorization = `Bearer ${await this.options.token()}`;
      }

      let response: Response;
      let text: string;
      // A referenced timer rather than AbortSignal.timeout (whose timer is unreferenced): Node 20's
      // fetch can leave a promise pending forever when a connection is dropped at once, and with
      // no referenced handle the process would then exit silently mid-call.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new TimeoutError()), options.timeoutMs ?? CALL_TIMEOUT_MS);
      try {
        response = await fetch(url, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          // The API never redirects; following one could carry the bearer token somewhere else.
          redirect: 'error',
          signal: abort.signal,
        });
        text = await response.text();
      } catch (error) {
        if (last)
          throw new NetworkError(target, describeNetworkError(error, options.timeoutMs ?? CALL_TIMEOUT_MS));
        await this.sleep(this.backoff(attempt));
        continue;
      } finally {
        clearTimeout(timer);
      }

      if (response.ok) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new CliError(
            `${target} answered ${response.status} with a body that is not JSON`,
            EXIT.error,
          );
        }
      }

      const error = toApiError(response.status, text, target);
      if (last || !RETRYABLE_STATUSES.has(response.status)) throw error;
      await this.sleep(Math.max(this.backoff(attempt), retryAfterMs(response.headers.get('retry-after'))));
    }
  }

  /** Exponential backoff with "equal jitter" (half fixed, half random), so agents retrying together spread out. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }
}

function requestPath(id: string): string {
  return `/v1/requests/${encodeURIComponent(id)}`;
}

/** Retry-After in seconds (the only form the API sends), capped so a bad header cannot stall us. */
function retryAfterMs(header: string | null): number {
  if (!header) return 0;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, MAX_WAIT_SECONDS) * 1000 : 0;
}

function toApiError(status: number, text: string, target: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const err = body?.error;
    if (err && typeof err.code === 'string') {
      const details =
        err.details && typeof err.details === 'object' ? (err.details as Record<string, unknown>) : undefined;
      return new ApiError(
        status,
        err.code,
        typeof err.message === 'string' ? err.message : '',
        details,
        target,
      );
    }
  } catch {
    // Not JSON: API Gateway, a proxy or a load balancer answered, not Countersign.
  }
  return new ApiError(
    status,
    undefined,
    `${target} answered ${status} without a Countersign error body`,
    undefined,
    target,
  );
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof TimeoutError || (error instanceof Error && error.name === 'AbortError')) {
    return `no answer within ${Math.round(timeoutMs / 1000)}s`;
  }
  const cause =
    error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return cause.message ? `${cause.code} (${cause.message})` : cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** Checks the fields the CLI acts on; an answer without them is refused rather than guessed at. */
function asRequest(answer: unknown, what: string): RequestView {
  const candidate = answer as Partial<RequestView> | null;
  if (
    !candidate ||
    typeof candidate !== 'object' ||
    typeof candidate.id !== 'string' ||
    !(REQUEST_STATUSES as readonly unknown[]).includes(candidate.status)
  ) {
    throw new CliError(`${what} answered with something that is not a request object`, EXIT.error);
  }
  if (candidate.decisions !== undefined && !Array.isArray(candidate.decisions)) {
    throw new CliError(`${what} answered with malformed decisions`, EXIT.error);
  }
  return candidate as RequestView;
}

/** Only the five credential_process fields are kept, so nothing else the server adds reaches stdout. */
function asCredentials(answer: unknown): ProcessCredentials {
  const c = answer as Partial<ProcessCredentials> | null;
  if (
    c?.Version !== 1 ||
    typeof c.AccessKeyId !== 'string' ||
    typeof c.SecretAccessKey !== 'string' ||
    typeof c.SessionToken !== 'string' ||
    typeof c.Expiration !== 'string' ||
    !c.AccessKeyId ||
    !c.SecretAccessKey ||
    !c.SessionToken ||
    Number.isNaN(Date.parse(c.Expiration))
  ) {
    throw new CliError('POST /v1/requests/{id}/credentials answered without valid credentials', EXIT.error);
  }
  return {
    Version: 1,
    AccessKeyId: c.AccessKeyId,
    SecretAccessKey: c.SecretAccessKey,
    SessionToken: c.SessionToken,
    Expiration: c.Expiration,
  };
}
