import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * `req_` + 20 random base62 characters (~119 bits). Request ids are also the STS RoleSessionName
 * and the Step Functions execution name, so they stay inside both alphabets.
 */
export function newRequestId(): string {
  const bytes = randomBytes(40);
  let out = '';
  for (const byte of bytes) {
    // Rejection sampling keeps the distribution uniform (248 = 4 * 62).
    if (byte < 248) out += ALPHABET[byte % 62];
    if (out.length === 20) break;
  }
  return out.length === 20 ? `req_${out}` : newRequestId();
}

/** What every request id looks like (newRequestId): the one check for ids from a path or a Slack button. */
export const REQUEST_ID = /^req_[A-Za-z0-9]{20}$/;
