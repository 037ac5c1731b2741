import middy, { type MiddlewareObj } from '@middy/core';
import {
  CountersignError,
  describeError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
} from '../core/errors.js';
import { REQUEST_ID } from '../core/ids.js';
import type { Caller } from '../core/model.js';
import { MAX_BODY_BYTES } from '../core/strict-json.js';
import type { JwtAuthenticator } from './jwt-authenticator.js';
import type { Logger } from './logger.js';

/** The API Gateway REST (v1) Lambda proxy event, as far as Countersign reads it. */
export interface ApiEvent {
  httpMethod: string;
  path: string;
  resource?: string;
  headers: Record<string, string | undefined> | null;
  queryStringParameters: Record<string, string | undefined> | null;
  pathParameters: Record<string, string | undefined> | null;
  body: string | null;
  isBase64Encoded?: boolean;
  requestContext?: { requestId?: string; identity?: { sourceIp?: string } };
}

export interface ApiResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const BASE_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult => ({
  statusCode,
  headers: { ...BASE_HEADERS, ...headers },
  body: JSON.stringify(body),
});

export function errorBody(error: CountersignError) {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details && Object.keys(error.details).length > 0 ? { details: error.details } : {}),
    },
  };
}

/** A request header by name, whatever its casing (API Gateway keeps the client's). */
export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** The body as text, decoded when API Gateway passed it base64-encoded. */
export function rawBody(event: ApiEvent): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

const INTERNAL_MESSAGE = 'Something went wrong; nothing was granted. Retry later.';

/**
 * The one error middleware: a CountersignError becomes the contract's error body with its status
 * (an unexposed one keeps its status and code, but its message and details are replaced by a
 * generic one); anything else is logged (never returned) and answered as a generic 500, so no stack
 * trace, SDK message or secret reaches a client. Oversized bodies are refused before the handler
 * runs. Every refusal is logged: a 4xx at info with its code and cause (a wrong `audience` must not
 * be a silent wall of 401s), a 5xx at error.
 */
export function httpApi(logger: Logger): MiddlewareObj<ApiEvent, ApiResult> {
  return {
    before: async (request) => {
      const size = Buffer.byteLength(
        request.event.body ?? '',
        request.event.isBase64Encoded ? 'base64' : 'utf8',
      );
      if (size > MAX_BODY_BYTES) {
        throw new PayloadTooLargeError(`The body is ${size} bytes; at most ${MAX_BODY_BYTES} are accepted.`);
      }
    },
    onError: async (request) => {
      const error = request.error;
      const path = request.event.path;
      if (!(error instanceof CountersignError)) {
        logger.error('unhandled error', { path, error: describeError(error) });
        request.response = json(500, { error: { code: 'InternalError', message: INTERNAL_MESSAGE } });
        return;
      }
      const fields = { status: error.status, code: error.code, path, cause: describeError(error.cause) };
      if (error.status >= 500) {
        logger.error('request failed', error.expose ? fields : { ...fields, error: describeError(error) });
      } else {
        logger.info('request refused', fields);
      }
      request.response = json(
        error.status,
        error.expose ? errorBody(error) : { error: { code: error.code, message: INTERNAL_MESSAGE } },
        error instanceof RateLimitedError ? { 'retry-after': String(error.retryAfterSeconds) } : {},
      );
    },
  };
}

/** Stands in for Lambda's context where there is none (the local server, tests). */
const NO_CONTEXT = { getRemainingTimeInMillis: () => 30_000 } as unknown as Parameters<
  ReturnType<typeof middy<ApiEvent, ApiResult>>
>[1];

/** A middy handler with the HTTP middleware attached, callable with or without a Lambda context. */
export function apiHandler(
  logger: Logger,
  fn: (event: ApiEvent) => Promise<ApiResult>,
): (event: ApiEvent, context?: unknown) => Promise<ApiResult> {
  const handler = middy<ApiEvent, ApiResult>().use(httpApi(logger)).handler(fn);
  return (event, context) => handler(event, (context ?? NO_CONTEXT) as typeof NO_CONTEXT);
}

/** What every authenticated route is built with. */
export interface RouteDeps {
  authenticator: Pick<JwtAuthenticator, 'authenticate'>;
  logger: Logger;
}

/**
 * An API route behind `Authorization: Bearer`: `fn` runs only for a verified caller (every failure
 * is a 401 before it), with the error middleware around both.
 */
export function authenticatedApi(
  deps: RouteDeps,
  fn: (caller: Caller, event: ApiEvent) => Promise<ApiResult>,
): (event: ApiEvent, context?: unknown) => Promise<ApiResult> {
  return apiHandler(deps.logger, async (event) =>
    fn(await deps.authenticator.authenticate(header(event, 'authorization')), event),
  );
}

/** The `{id}` path parameter; anything that is not a request id is simply not found. */
export function pathId(event: ApiEvent): string {
  const id = event.pathParameters?.id ?? '';
  if (!REQUEST_ID.test(id)) throw new NotFoundError('No such request.');
  return id;
}
