import { describe, expect, it } from 'vitest';
import { type ApiEvent, apiHandler } from '../../lambdas/adapters/http.js';
import { createLogger } from '../../lambdas/adapters/logger.js';
import {
  CountersignError,
  DependencyError,
  FailClosedError,
  UnauthorizedError,
  ValidationError,
} from '../../lambdas/core/errors.js';

/**
 * A 5xx that does not say its message is written for clients: what a new internal error class would
 * be. It names itself literally, as every error class must (bundles are minified without keepNames).
 */
class InternalStateError extends CountersignError {
  override name = 'InternalStateError';
  readonly status = 500;
  readonly code = 'InternalState';
}

const event = (authorization?: string): ApiEvent => ({
  httpMethod: 'POST',
  path: '/v1/requests',
  headers: authorization ? { Authorization: authorization } : {},
  queryStringParameters: null,
  pathParameters: null,
  body: null,
});

/** The error middleware answering `error`, and the log lines it wrote. */
async function answer(error: unknown, authorization?: string) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ fn: 'test' }, (line) => lines.push(JSON.parse(line)));
  const result = await apiHandler(logger, async () => {
    throw error;
  })(event(authorization));
  return { result, body: JSON.parse(result.body) as { error: Record<string, unknown> }, lines };
}

describe('the error middleware', () => {
  it('exposes a 4xx (what the caller got wrong) and only a 5xx that says its message is written for clients', () => {
    expect(new ValidationError('reason', 'reason is required').expose).toBe(true);
    expect(new UnauthorizedError('no').expose).toBe(true);
    expect(new DependencyError('STS is unavailable; retry.').expose).toBe(true);
    expect(new FailClosedError('policy too large').expose).toBe(true);
    expect(new InternalStateError('table row 7 has version -1').expose).toBe(false);
  });

  it('answers an unexposed error with its status and code but a generic message, and logs the real one', async () => {
    const error = new InternalStateError('table row 7 has version -1', { details: { row: 7 } });
    const { result, body, lines } = await answer(error);
    expect(result.statusCode).toBe(500);
    expect(body).toEqual({
      error: { code: 'InternalState', message: 'Something went wrong; nothing was granted. Retry later.' },
    });
    expect(result.body).not.toContain('row');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        code: 'InternalState',
        error: { name: 'InternalStateError', message: 'table row 7 has version -1' },
      }),
    ]);
  });

  it('answers an exposed 5xx as written, and logs it at error with its cause', async () => {
    const cause = new Error('ThrottlingException: Rate exceeded');
    const { result, body, lines } = await answer(
      new DependencyError('STS is unavailable. Retry.', { cause }),
    );
    expect(result.statusCode).toBe(503);
    expect(body.error).toEqual({ code: 'DependencyUnavailable', message: 'STS is unavailable. Retry.' });
    expect(result.body).not.toContain('Throttling');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'error', code: 'DependencyUnavailable', cause: expect.anything() }),
    ]);
  });

  it('logs a 401 at info with its code and cause, and never the bearer token', async () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib3QiLCJhdWQiOiJvdGhlciJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
    const cause = new Error('Audience not allowed: other. Expected: countersign');
    const { result, lines } = await answer(
      new UnauthorizedError('The bearer token is not valid.', { cause }),
      `Bearer ${token}`,
    );
    expect(result.statusCode).toBe(401);
    expect(lines).toEqual([
      {
        level: 'info',
        time: expect.any(String),
        message: 'request refused',
        fn: 'test',
        status: 401,
        code: 'Unauthorized',
        path: '/v1/requests',
        cause: { name: 'Error', message: 'Audience not allowed: other. Expected: countersign' },
      },
    ]);
    expect(JSON.stringify(lines)).not.toContain(token.split('.')[2]);
  });

  it('answers anything that is not a CountersignError as a generic 500', async () => {
    const { result, body, lines } = await answer(
      new TypeError("Cannot read properties of undefined (reading 'x')"),
    );
    expect(result.statusCode).toBe(500);
    expect(body.error).toEqual({
      code: 'InternalError',
      message: 'Something went wrong; nothing was granted. Retry later.',
    });
    expect(lines).toEqual([expect.objectContaining({ level: 'error', message: 'unhandled error' })]);
  });
});
