import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * AWS Signature Version 4, verified over the request exactly as received: the raw headers the
 * signer named, the raw path and query, and the payload hash — the `x-amz-content-sha256` header
 * when present (which must then be the body's hash), else the body's own hash. Signatures are compared in constant time and accepted 15 minutes either side of the clock.
 */

/** SigV4 signatures are accepted for 15 minutes either side of the server's clock. */
const SIGNATURE_SKEW_MS = 15 * 60 * 1000;

export interface ParsedAuthorization {
  readonly accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: string[];
  readonly signature: string;
}

/** A request whose signature cannot be accepted; `code` is what AWS answers. */
export class SignatureError extends Error {
  constructor(
    readonly code: 'SignatureDoesNotMatch' | 'IncompleteSignature' | 'MissingAuthenticationToken',
    message: string,
  ) {
    super(message);
    this.name = 'SignatureError';
  }
}

/** Reads the `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  if (!header?.startsWith('AWS4-HMAC-SHA256 ')) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const scope = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (scope?.length !== 5 || scope[4] !== 'aws4_request' || !signedHeaders || !signature) return undefined;
  const [accessKeyId, date, region, service] = scope as [string, string, string, string];
  if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId) || !/^\d{8}$/.test(date)) return undefined;
  if (!/^[a-z0-9-]{1,64}$/.test(region) || !/^[a-z0-9-]{1,64}$/.test(service)) return undefined;
  if (!/^[0-9a-f]{64}$/.test(signature)) return undefined;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** RFC 3986 escaping as the SDK's signer does it (encodeURIComponent plus `!'()*`). */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The canonical URI. S3 signs the path as sent (no normalisation, each segment escaped once);
 * every other service normalises `.`/`..`/empty segments and escapes twice — the SDK signer's
 * `uriEscapePath`/`normalizePath` options.
 */
function canonicalPath(rawPath: string, service: string): string {
  if (service === 's3') {
    return rawPath
      .split('/')
      .map((segment) => escapeUri(safeDecode(segment)))
      .join('/');
  }
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const path = `/${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return escapeUri(path).replace(/%2F/g, '/');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new SignatureError('SignatureDoesNotMatch', 'The request path is not valid percent-encoding');
  }
}

function canonicalQuery(rawQuery: string): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = safeDecode((eq === -1 ? part : part.slice(0, eq)).replace(/\+/g, '%20'));
    const value = eq === -1 ? '' : safeDecode(part.slice(eq + 1).replace(/\+/g, '%20'));
    if (key.toLowerCase() === 'x-amz-signature') continue;
    pairs.push([escapeUri(key), escapeUri(value)]);
  }
  pairs.sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** The SigV4 signing key for one day, region and service. */
function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return key;
}

/** The epoch milliseconds of an `X-Amz-Date` (`20260101T000000Z`), or undefined. */
function parseAmzDate(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

/**
 * Throws SignatureError unless `auth.signature` is the SigV4 signature of this request with `secret`.
 * `expectedService`, when given, is the service the credential scope must name.
 */
export function verifySignature(
  req: IncomingMessage,
  body: Buffer,
  auth: ParsedAuthorization,
  secret: string,
  now: Date,
  expectedService?: string,
): void {
  if (expectedService !== undefined && auth.service !== expectedService) {
    throw new SignatureError(
      'SignatureDoesNotMatch',
      `Credential should be scoped to correct service: '${expectedService}'.`,
    );
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) {
    throw new SignatureError(
      'IncompleteSignature',
      'Authorization header requires existence of a valid X-Amz-Date',
    );
  }
  if (Math.abs(now.getTime() - signedAt) > SIGNATURE_SKEW_MS) {
    throw new SignatureError(
      'SignatureDoesNotMatch',
      `Signature expired: ${amzDate} is now earlier or later than the allowed 15 minutes`,
    );
  }
  if (amzDate.slice(0, 8) !== auth.date) {
    throw new SignatureError('SignatureDoesNotMatch', 'Credential should be scoped to a valid date');
  }
  if (!auth.signedHeaders.includes('host')) {
    throw new SignatureError('SignatureDoesNotMatch', "'Host' must be a signed header");
  }
  // Raw headers, so repeated headers are joined exactly as the signer saw them.
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const list = headers.get(name) ?? [];
    list.push((req.rawHeaders[i + 1] as string).trim().replace(/\s+/g, ' '));
    headers.set(name, list);
  }
  // Every x-amz-* header the request carries must be signed, or it could be added in flight.
  for (const name of headers.keys()) {
    if (name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && !auth.signedHeaders.includes(name)) {
      if (name === 'x-amz-user-agent' || name === 'x-amz-trace-id') continue;
      throw new SignatureError('SignatureDoesNotMatch', `The header ${name} must be signed`);
    }
  }
  const canonicalHeaders = auth.signedHeaders
    .map((name) => {
      const values = headers.get(name);
      if (!values)
        throw new SignatureError(
          'SignatureDoesNotMatch',
          `Signed header ${name} is missing from the request`,
        );
      return `${name}:${values.join(',')}\n`;
    })
    .join('');
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const declared = req.headers['x-amz-content-sha256'];
  // The signer hashes the declared value when there is one; it must be the body's hash. An
  // UNSIGNED-PAYLOAD (which AWS takes over TLS) would leave the body unprotected on plain HTTP.
  if (declared !== undefined && declared !== bodyHash) {
    throw new SignatureError(
      'SignatureDoesNotMatch',
      'The provided x-amz-content-sha256 header does not match the body',
    );
  }
  const payloadHash = typeof declared === 'string' ? declared : bodyHash;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const canonicalRequest = [
    req.method ?? 'POST',
    canonicalPath(q === -1 ? url : url.slice(0, q), auth.service),
    canonicalQuery(q === -1 ? '' : url.slice(q + 1)),
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const expected = createHmac('sha256', signingKey(secret, auth.date, auth.region, auth.service))
    .update(stringToSign)
    .digest('hex');
  if (!constantTimeEqual(expected, auth.signature)) {
    throw new SignatureError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
}
