import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The API Gateway REST API of the template, played on one machine: routes (method + resource path
 * → function) and the gateway responses the template customizes, turned into the Lambda proxy
 * events API Gateway sends and back. Nothing here knows what a route does; the template says it.
 */

export interface ApiRouteSpec {
  readonly method: string;
  /** Resource path as API Gateway spells it: `/v1/requests/{id}`. */
  readonly path: string;
  /** Name of the function behind the route (a key of the runner's functions). */
  readonly functionName: string;
  /** Headers the method's request validator requires (`method.request.header.X: true`). */
  readonly requiredHeaders: readonly string[];
}

/** A gateway response of the template: `AWS::ApiGateway::GatewayResponse`. */
export interface GatewayResponseSpec {
  readonly type: string;
  readonly statusCode?: string;
  readonly template?: string;
}

export interface ApiAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** API Gateway's own default statuses for the responses the front door can produce. */
const DEFAULT_STATUS: Record<string, number> = {
  MISSING_AUTHENTICATION_TOKEN: 403,
  BAD_REQUEST_PARAMETERS: 400,
  REQUEST_TOO_LARGE: 413,
  DEFAULT_4XX: 400,
  DEFAULT_5XX: 500,
  INTEGRATION_FAILURE: 504,
  INTEGRATION_TIMEOUT: 504,
};
/** What each response type falls back to when the template does not customize it (as API Gateway does). */
const FALLBACK: Record<string, string> = {
  MISSING_AUTHENTICATION_TOKEN: 'DEFAULT_4XX',
  BAD_REQUEST_PARAMETERS: 'DEFAULT_4XX',
  REQUEST_TOO_LARGE: 'DEFAULT_4XX',
  INTEGRATION_FAILURE: 'DEFAULT_5XX',
  INTEGRATION_TIMEOUT: 'DEFAULT_5XX',
};
const DEFAULT_MESSAGE: Record<string, string> = {
  MISSING_AUTHENTICATION_TOKEN: 'Missing Authentication Token',
  BAD_REQUEST_PARAMETERS: 'Missing required request parameters',
  REQUEST_TOO_LARGE: 'Request Too Large',
  DEFAULT_5XX: 'Internal server error',
  INTEGRATION_FAILURE: 'Internal server error',
  INTEGRATION_TIMEOUT: 'Endpoint request timed out',
};

/** API Gateway REST's payload limit (10 MB). */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** API Gateway REST's integration timeout (29 s). */
export const API_GATEWAY_TIMEOUT_MS = 29_000;

export interface MatchedRoute {
  readonly route: ApiRouteSpec;
  readonly pathParameters: Record<string, string>;
}

export class ApiGateway {
  private readonly compiled: Array<{ route: ApiRouteSpec; pattern: RegExp }>;

  constructor(
    routes: readonly ApiRouteSpec[],
    private readonly responses: readonly GatewayResponseSpec[],
  ) {
    this.compiled = routes.map((route) => ({
      route,
      pattern: new RegExp(`^${route.path.replace(/\{(\w+)\+?\}/g, '(?<$1>[^/]+)')}/?$`),
    }));
  }

  get routes(): ApiRouteSpec[] {
    return this.compiled.map((c) => c.route);
  }

  /** The route for a method and path, or the gateway response API Gateway would give instead. */
  match(method: string, path: string): MatchedRoute | ApiAnswer {
    // API Gateway answers an unknown method on a known path the same as an unknown path.
    for (const { route, pattern } of this.compiled) {
      if (route.method !== method) continue;
      const found = pattern.exec(path);
      if (!found) continue;
      const pathParameters: Record<string, string> = {};
      for (const [name, value] of Object.entries(found.groups ?? {})) pathParameters[name] = decode(value);
      return { route, pathParameters };
    }
    return this.gatewayResponse('MISSING_AUTHENTICATION_TOKEN');
  }

  /** Checks what the method's request validator checks; undefined when the request passes. */
  validate(route: ApiRouteSpec, headers: Record<string, string>): ApiAnswer | undefined {
    for (const name of route.requiredHeaders) {
      if (!headers[name.toLowerCase()]) return this.gatewayResponse('BAD_REQUEST_PARAMETERS');
    }
    return undefined;
  }

  /** A gateway response as the template customizes it (status code and `application/json` template). */
  gatewayResponse(type: string, message?: string): ApiAnswer {
    let spec = this.responses.find((r) => r.type === type);
    let effective = type;
    if (!spec && FALLBACK[type]) {
      effective = FALLBACK[type]!;
      spec = this.responses.find((r) => r.type === effective);
    }
    const status = Number(spec?.statusCode ?? DEFAULT_STATUS[type] ?? DEFAULT_STATUS[effective] ?? 500);
    const text = message ?? DEFAULT_MESSAGE[type] ?? DEFAULT_MESSAGE[effective] ?? 'Error';
    const body = spec?.template
      ? spec.template.replaceAll('$context.error.messageString', JSON.stringify(text))
      : JSON.stringify({ message: text });
    return { statusCode: status, headers: { 'content-type': 'application/json' }, body };
  }

  /** The Lambda proxy integration event (REST API, payload format 1.0) for one HTTP request. */
  event(req: IncomingMessage, matched: MatchedRoute, body: Buffer, stage = 'prod'): Record<string, unknown> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      const values = Array.isArray(value) ? value : [value];
      headers[name] = values.join(',');
      multiValueHeaders[name] = values;
    }
    const query: Record<string, string> = {};
    const multiQuery: Record<string, string[]> = {};
    for (const [name, value] of url.searchParams) {
      query[name] = value;
      multiQuery[name] = [...(multiQuery[name] ?? []), value];
    }
    const hasQuery = Object.keys(query).length > 0;
    const hasParams = Object.keys(matched.pathParameters).length > 0;
    const requestId = randomUUID();
    const sourceIp = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
    return {
      resource: matched.route.path,
      path: url.pathname,
      httpMethod: req.method ?? 'GET',
      headers,
      multiValueHeaders,
      queryStringParameters: hasQuery ? query : null,
      multiValueQueryStringParameters: hasQuery ? multiQuery : null,
      pathParameters: hasParams ? matched.pathParameters : null,
      stageVariables: null,
      requestContext: {
        resourcePath: matched.route.path,
        httpMethod: req.method ?? 'GET',
        path: `/${stage}${url.pathname}`,
        stage,
        requestId,
        extendedRequestId: requestId,
        requestTimeEpoch: Date.now(),
        protocol: 'HTTP/1.1',
        identity: { sourceIp, userAgent: headers['user-agent'] ?? null },
      },
      body: body.length > 0 ? body.toString('utf8') : null,
      isBase64Encoded: false,
    };
  }

  /**
   * The proxy integration's answer as API Gateway passes it on; a function error or a malformed
   * answer is the 502 API Gateway gives (through the DEFAULT_5XX response the template customizes).
   */
  answer(payload: unknown): ApiAnswer {
    const result = payload as { statusCode?: unknown; headers?: unknown; body?: unknown } | null;
    if (!result || typeof result !== 'object' || typeof result.statusCode !== 'number') {
      return { ...this.gatewayResponse('DEFAULT_5XX', 'Internal server error'), statusCode: 502 };
    }
    const headers: Record<string, string> = {};
    if (result.headers && typeof result.headers === 'object') {
      for (const [k, v] of Object.entries(result.headers as Record<string, unknown>)) headers[k] = String(v);
    }
    return {
      statusCode: result.statusCode,
      headers,
      body: typeof result.body === 'string' ? result.body : '',
    };
  }
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
