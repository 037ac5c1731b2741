import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from './errors.js';

/**
 * Slack request signing (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
 * "v0:{X-Slack-Request-Timestamp}:{raw body}")>`. The HMAC covers the body's exact bytes, so
 * verification must run on the body as received — never on a body parsed and re-encoded.
 */

/** Slack's own guidance: refuse requests more than five minutes old; we also refuse the future. */
export const SLACK_SIGNATURE_TOLERANCE_SECONDS = 300;

const SIGNATURE = /^v0=([0-9a-fA-F]{64})$/;
// Unix seconds as Slack sends them: digits only, no sign, no fraction, no exponent.
const TIMESTAMP = /^[0-9]{1,12}$/;

export interface VerifySlackSignatureInput {
  signingSecret: string;
  /** `X-Slack-Request-Timestamp` header value. */
  timestamp: string | undefined;
  /** `X-Slack-Signature` header value. */
  signature: string | undefined;
  /** The body exactly as Slack sent it: the bytes, or the string those UTF-8 bytes decode to. */
  rawBody: string | Uint8Array;
  now: Date;
  toleranceSeconds?: number;
}

function refuse(reason: string): never {
  // A short reason helps whoever configures the Slack app; it says nothing about the secret.
  throw new UnauthorizedError(`Slack request not verified: ${reason}`);
}

function digest(secret: string, timestamp: string, rawBody: string | Uint8Array): Buffer {
  return createHmac('sha256', secret)
    .update(`v0:${timestamp}:`, 'utf8')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest();
}

/**
 * Throws UnauthorizedError unless `signature` is Slack's v0 signature of `rawBody` at `timestamp`
 * and `timestamp` lies within `toleranceSeconds` of `now`, before or after.
 */
export function verifySlackSignature(input: VerifySlackSignatureInput): void {
  const tolerance = input.toleranceSeconds ?? SLACK_SIGNATURE_TOLERANCE_SECONDS;
  // A missing secret is a deployment fault, not a bad request: fail closed with a 500, not a 401.
  if (!input.signingSecret) throw new Error('Slack signing secret is not configured');
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new Error('toleranceSeconds must be >= 0');

  const { timestamp, signature } = input;
  if (!timestamp || !signature) refuse('missing signature headers');
  const match = SIGNATURE.exec(signature);
  if (!match?.[1]) refuse('malformed signature');
  if (!TIMESTAMP.test(timestamp)) refuse('malformed timestamp');

  const nowSeconds = Math.floor(input.now.getTime() / 1000);
  if (!Number.isFinite(nowSeconds)) throw new Error('now is not a valid date');
  // Both directions: a timestamp from the future would otherwise extend a captured request's life.
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) refuse('timestamp outside the allowed window');

  const expected = digest(input.signingSecret, timestamp, input.rawBody);
  const given = Buffer.from(match[1], 'hex');
  // Both are 32 bytes by construction; the length check keeps timingSafeEqual from throwing.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) refuse('signature mismatch');
}

/** `v0=<hex>` for a body: what Slack puts in `X-Slack-Signature`. Used by tests and local tooling. */
export function signSlackRequest(
  signingSecret: string,
  timestamp: number | string,
  rawBody: string | Uint8Array,
): string {
  return `v0=${digest(signingSecret, String(timestamp), rawBody).toString('hex')}`;
}

/**
 * The two signature headers, found case-insensitively (API Gateway keeps the client's casing). The
 * same header twice with different values is treated as absent, so verification refuses it.
 */
export function slackSignatureHeaders(
  headers: Readonly<Record<string, string | undefined>> | null | undefined,
): {
  timestamp: string | undefined;
  signature: string | undefined;
} {
  const found: Record<string, Set<string | undefined>> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'x-slack-request-timestamp' || lower === 'x-slack-signature') {
      found[lower] ??= new Set();
      found[lower].add(value);
    }
  }
  const only = (name: string) => {
    const values = found[name];
    return values?.size === 1 ? [...values][0] : undefined;
  };
  return { timestamp: only('x-slack-request-timestamp'), signature: only('x-slack-signature') };
}
