import middy, { type MiddlewareObj } from '@middy/core';
import { CountersignError, NotFoundError, PayloadTooLargeError, RateLimitedError } from '../core/errors.js';
import { REQUEST_ID } from '../core/ids.js';
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

/** Bodies larger than this are refused before anything parses them (API Gateway allows 10 MB). */
export const MAX_BODY_BYTES = 64 * 1024;

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

/** Lower-cases header names (API Gateway keeps the client's casing) and decodes the body. */
export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

export function rawBody(event: ApiEvent): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/**
 * The one error middleware: a CountersignError becomes the contract's error body with its status;
 * anything else is logged (never returned) and answered as a generic 500, so no stack trace, SDK
 * message or secret reaches a client. Oversized bodies are refused before the handler runs.
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
      if (error instanceof CountersignError && error.expose) {
        if (error.status >= 500) {
          logger.error('request failed', {
            code: error.code,
            path: request.event.path,
            cause: describe(error.cause),
          });
        }
        request.response = json(
          error.status,
          errorBody(error),
          error instanceof RateLimitedError ? { 'retry-after': String(error.retryAfterSeconds) } : {},
        );
        return;
      }
      logger.error('unhandled error', { path: request.event.path, error: describe(error) });
      request.response = json(500, {
        error: { code: 'InternalError', message: 'Something went wrong; nothing was granted. Retry later.' },
      });
    },
  };
}

/** An error as a loggable summary: name and message only, never the SDK's whole object. */
export function describe(error: unknown): { name: string; message: string } | undefined {
  if (!error) return undefined;
  if (error instanceof Error) return { name: error.name, message: error.message.slice(0, 500) };
  return { name: 'non-error', message: String(error).slice(0, 200) };
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

/** The `{id}` path parameter; anything that is not a request id is simply not found. */
export function pathId(event: ApiEvent): string {
  const id = event.pathParameters?.id ?? '';
  if (!REQUEST_ID.test(id)) throw new NotFoundError('No such request.');
  return id;
}
