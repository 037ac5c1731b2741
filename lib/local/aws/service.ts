import type { RequestContext } from './iam-policy.js';
import type { Principal } from './principals.js';

/**
 * What every emulated service tells the endpoint: which operation a request is, which IAM
 * action(s) on which resource(s) it needs, how to serve it, and how its protocol spells errors.
 * The endpoint (index.ts) does the rest — SigV4, the caller, IAM evaluation, CloudTrail — the same
 * way for every service.
 */

export type Protocol = 'json' | 'query' | 'rest-xml';

/** One HTTP request, read whole. */
export interface AwsRequest {
  readonly method: string;
  /** The raw path, still percent-encoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** From the credential scope. */
  readonly region: string;
}

/** One IAM authorization a call needs. Every one must be allowed. */
export interface Authorization {
  readonly action: string;
  readonly resource: string;
  /** Request-specific condition keys (lower case), e.g. `s3:prefix`. */
  readonly context?: ReadonlyMap<string, readonly string[]>;
}

/** A request understood by its service: what it is, what it needs, how it is recorded. */
export interface ParsedCall {
  readonly operation: string;
  readonly authorizations: readonly Authorization[];
  /** CloudTrail `requestParameters`: names and keys, never item values or secrets. */
  readonly requestParameters: Record<string, unknown> | null;
  readonly readOnly: boolean;
  /** Data events (DynamoDB items, S3 objects) are not management events. */
  readonly managementEvent: boolean;
  /** CloudTrail `resources`. */
  readonly resources?: ReadonlyArray<{ readonly type: string; readonly ARN: string }>;
  /** Whatever the service needs to serve the call. */
  readonly input: unknown;
}

export interface ServiceAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
  /** CloudTrail `responseElements` (management events only). */
  readonly responseElements?: Record<string, unknown> | null;
  /** Set when `status` is an error answer the service produced itself (or DynamoDB Local did). */
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export interface CallContext {
  readonly caller: Principal;
  readonly now: Date;
  readonly requestId: string;
  /** Evaluation context of the caller (aws:userid, aws:CurrentTime, …). */
  readonly context: RequestContext;
}

/** An error a service answers with; the protocol decides how it is spelled. */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AwsError';
  }
}

export interface AwsService {
  /** The SigV4 signing name (credential scope service): `dynamodb`, `sts`, `s3`, … */
  readonly signingName: string;
  /** CloudTrail `eventSource`. */
  readonly eventSource: string;
  readonly protocol: Protocol;
  /** The operation's name from the raw request, for records of calls refused before parsing. */
  operationName(request: AwsRequest): string;
  /** Understands the request; throws AwsError for a malformed or unknown one. */
  parse(request: AwsRequest, ctx: CallContext): ParsedCall;
  serve(call: ParsedCall, ctx: CallContext): Promise<ServiceAnswer>;
  /** AWS's own region for the service's events (IAM: us-east-1), when not the request's. */
  readonly globalRegion?: string;
  /** How the protocol's errors are spelled: JSON version, Query namespace. */
  readonly errorOptions?: { readonly jsonVersion?: '1.0' | '1.1'; readonly xmlns?: string };
}

/** Failures the endpoint itself raises, spelled per protocol as AWS does. */
export type CommonFailure =
  | 'AccessDenied'
  | 'UnknownKey'
  | 'BadSignature'
  | 'IncompleteSignature'
  | 'Expired'
  | 'MissingAuth';

const COMMON: Record<Protocol, Record<CommonFailure, [code: string, status: number]>> = {
  json: {
    AccessDenied: ['AccessDeniedException', 400],
    UnknownKey: ['UnrecognizedClientException', 400],
    BadSignature: ['InvalidSignatureException', 400],
    IncompleteSignature: ['IncompleteSignatureException', 400],
    Expired: ['ExpiredTokenException', 400],
    MissingAuth: ['MissingAuthenticationTokenException', 400],
  },
  query: {
    AccessDenied: ['AccessDenied', 403],
    UnknownKey: ['InvalidClientTokenId', 403],
    BadSignature: ['SignatureDoesNotMatch', 403],
    IncompleteSignature: ['IncompleteSignature', 400],
    Expired: ['ExpiredToken', 403],
    MissingAuth: ['MissingAuthenticationToken', 403],
  },
  'rest-xml': {
    AccessDenied: ['AccessDenied', 403],
    UnknownKey: ['InvalidAccessKeyId', 403],
    BadSignature: ['SignatureDoesNotMatch', 403],
    IncompleteSignature: ['AuthorizationHeaderMalformed', 400],
    Expired: ['ExpiredToken', 400],
    MissingAuth: ['AccessDenied', 403],
  },
};

export function commonError(protocol: Protocol, failure: CommonFailure, message: string): AwsError {
  const [code, status] = COMMON[protocol][failure];
  return new AwsError(code, status, message);
}

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

function xmlText(value: string): string {
  return value.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] as string);
}

export function el(name: string, value: string): string {
  return `<${name}>${xmlText(value)}</${name}>`;
}

/** The error answer of `protocol` (`jsonVersion` 1.0 or 1.1; `xmlns` for the Query protocol). */
export function errorAnswer(
  protocol: Protocol,
  error: AwsError,
  requestId: string,
  options: { jsonVersion?: '1.0' | '1.1'; xmlns?: string } = {},
): ServiceAnswer {
  const base = { errorCode: error.code, errorMessage: error.message, responseElements: null };
  if (protocol === 'json') {
    return {
      ...base,
      status: error.status,
      headers: {
        'content-type': `application/x-amz-json-${options.jsonVersion ?? '1.0'}`,
        'x-amzn-errortype': error.code,
        'x-amzn-requestid': requestId,
      },
      body: JSON.stringify({ __type: error.code, message: error.message, Message: error.message }),
    };
  }
  if (protocol === 'query') {
    const xmlns = options.xmlns ?? 'https://sts.amazonaws.com/doc/2011-06-15/';
    return {
      ...base,
      status: error.status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${xmlns}"><Error><Type>${error.status >= 500 ? 'Receiver' : 'Sender'}</Type>${el('Code', error.code)}${el('Message', error.message)}</Error>${el('RequestId', requestId)}</ErrorResponse>`,
    };
  }
  return {
    ...base,
    status: error.status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${el('Code', error.code)}${el('Message', error.message)}${el('RequestId', requestId)}</Error>`,
  };
}

/** Parses a JSON-protocol body into an object, or throws SerializationException. */
export function jsonBody(request: AwsRequest): Record<string, unknown> {
  let body: unknown;
  try {
    body = request.body.length === 0 ? {} : JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new AwsError('SerializationException', 400, 'Start of structure or map found where not expected.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AwsError('SerializationException', 400, 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

/** The operation of a JSON-protocol request (`X-Amz-Target: Prefix.Operation`), or ''. */
export function targetOperation(request: AwsRequest, prefix: string): string {
  const target = String(request.headers['x-amz-target'] ?? '');
  return target.startsWith(`${prefix}.`) ? target.slice(prefix.length + 1) : '';
}

/** What every JSON-protocol service says the same way: its names, its error spelling, its operation. */
export function jsonProtocol(
  signingName: string,
  targetPrefix: string,
  jsonVersion: '1.0' | '1.1',
): Pick<AwsService, 'signingName' | 'eventSource' | 'protocol' | 'errorOptions' | 'operationName'> {
  return {
    signingName,
    eventSource: `${signingName}.amazonaws.com`,
    protocol: 'json',
    errorOptions: { jsonVersion },
    operationName: (request) => targetOperation(request, targetPrefix) || 'Unknown',
  };
}

/** What every Query-protocol service says the same way: its names, its error spelling, its Action. */
export function queryProtocol(
  signingName: string,
  xmlns: string,
): Pick<AwsService, 'signingName' | 'eventSource' | 'protocol' | 'errorOptions' | 'operationName'> {
  return {
    signingName,
    eventSource: `${signingName}.amazonaws.com`,
    protocol: 'query',
    errorOptions: { xmlns },
    operationName(request) {
      try {
        return queryParams(request).get('Action') ?? 'Unknown';
      } catch {
        return 'Unknown';
      }
    },
  };
}

/** A JSON-protocol operation the service does not emulate. */
export function unknownOperation(operation: string): AwsError {
  return new AwsError('UnknownOperationException', 400, `Unknown operation ${operation || '(none)'}`);
}

export function jsonAnswer(
  body: unknown,
  version: '1.0' | '1.1',
  requestId: string,
  responseElements: Record<string, unknown> | null = null,
): ServiceAnswer {
  return {
    status: 200,
    headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-requestid': requestId },
    body: JSON.stringify(body),
    responseElements,
  };
}

export function stringField(
  body: Record<string, unknown>,
  name: string,
  required = true,
): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    if (!required) return undefined;
    throw new AwsError(
      'ValidationException',
      400,
      `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (typeof value !== 'string')
    throw new AwsError('SerializationException', 400, `${name} must be a string`);
  return value;
}

/** A Query-protocol request's parameters (form body; the query string for GET). */
export function queryParams(request: AwsRequest): URLSearchParams {
  if (request.method === 'GET') return request.query;
  const type = String(request.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new AwsError('InvalidAction', 400, 'The body must be application/x-www-form-urlencoded');
  }
  return new URLSearchParams(request.body.toString('utf8'));
}

export function requiredParam(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null || value === '') {
    throw new AwsError(
      'ValidationError',
      400,
      `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

/** `Prefix.member.N.Field` lists, in N order. */
export function queryMembers(params: URLSearchParams, prefix: string, field: string): string[] {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const value = params.get(`${prefix}.member.${i}.${field}`);
    if (value === null) return out;
    out.push(value);
  }
}

export function queryAnswer(
  operation: string,
  xmlns: string,
  result: string,
  requestId: string,
  responseElements: Record<string, unknown> | null = null,
): ServiceAnswer {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${xmlns}">${result}<ResponseMetadata>${el('RequestId', requestId)}</ResponseMetadata></${operation}Response>`,
    responseElements,
  };
}

/** What every service factory is given. */
export interface ServiceEnvironment {
  readonly account: string;
  readonly region: string;
  readonly principals: import('./principals.js').Principals;
  readonly log: (line: string) => void;
  /** Where state is persisted; undefined keeps it in memory. */
  readonly dataDir?: string;
}
