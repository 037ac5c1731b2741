import type { ApiEvent } from '../../lambdas/adapters/http.js';

/** An API Gateway REST proxy event, as API Gateway hands it to a Countersign handler. */
export function apiEvent(
  method: string,
  resource: string,
  options: {
    path?: string;
    token?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    query?: Record<string, string>;
    id?: string;
  } = {},
): ApiEvent {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | null = options.rawBody ?? null;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  return {
    httpMethod: method,
    path: options.path ?? resource.replace('{id}', options.id ?? ''),
    resource,
    headers,
    queryStringParameters: options.query ?? null,
    pathParameters: options.id ? { id: options.id } : null,
    body,
    isBase64Encoded: false,
    requestContext: { requestId: `bench-${Date.now()}`, identity: { sourceIp: '127.0.0.1' } },
  };
}
