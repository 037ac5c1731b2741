import { ValidationError } from './errors.js';
import { parseStrictJson } from './strict-json.js';
import { validateText } from './text-rules.js';

/** The longest revoke reason: reviewers read it beside the request's own reason. */
export const MAX_REVOKE_REASON_CHARS = 1_000;

/**
 * `POST /v1/requests/{id}/revoke`'s body: nothing at all, or `{"reason"?}` and nothing else. The
 * reason follows the same text rules as a request's reason (text-rules.ts). Returns the reason, if
 * one was given, for Revocations.revoke.
 */
export function parseRevokeBody(raw: string): string | undefined {
  if (raw.trim() === '') return undefined;
  const body = parseStrictJson(raw);
  for (const key of Object.keys(body)) {
    if (key !== 'reason') throw new ValidationError(key, `unknown field ${key}`);
  }
  return body.reason === undefined ? undefined : validateText('reason', body.reason, MAX_REVOKE_REASON_CHARS);
}
