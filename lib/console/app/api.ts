import { currentSession } from './auth.js';
import { sentenceFor } from './sentences.js';

/** A refused or failed API call, with the contract's code and the sentence to show for it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(sentenceFor(code, details));
    this.name = 'ApiError';
  }
}

let base = '';
export const setApiBase = (url: string) => {
  base = url;
};

async function send(method: string, path: string, options: { body?: unknown; accept?: string } = {}) {
  const session = currentSession();
  if (!session) throw new ApiError(401, 'Unauthorized');
  const headers: Record<string, string> = {
    authorization: `Bearer ${session.token}`,
    accept: options.accept ?? 'application/json',
  };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers,
      // Never a cookie: the bearer token is the only credential.
      credentials: 'omit',
      cache: 'no-store',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'NetworkError');
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as {
      error?: { code?: unknown; details?: Record<string, unknown> };
    };
    const code = typeof body.error?.code === 'string' ? body.error.code : statusCode(response.status);
    throw new ApiError(response.status, code, body.error?.details);
  }
  return response;
}

const statusCode = (status: number) =>
  status === 404
    ? 'NotFound'
    : status === 405
      ? 'MethodNotAllowed'
      : status >= 500
        ? 'InternalError'
        : 'Error';

export async function getJson<T>(path: string): Promise<T> {
  return (await (await send('GET', path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return (await (await send('POST', path, { body })).json()) as T;
}

export async function getCsv(path: string): Promise<{ text: string; filename: string }> {
  const response = await send('GET', path, { accept: 'text/csv' });
  const disposition = response.headers.get('content-disposition') ?? '';
  const filename = /filename="([\w.-]+)"/.exec(disposition)?.[1] ?? 'access-review.csv';
  return { text: await response.text(), filename };
}

export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}
