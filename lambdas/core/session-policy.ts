import { createHash } from 'node:crypto';
import { parseArn, wildcardProblem } from './arn.js';
import { FailClosedError } from './errors.js';
import type { PolicyDocument } from './model.js';

/**
 * The session policy passed to AssumeRole: the one document that decides what minted credentials
 * can do. A session's permissions are the intersection of the role's policies and this document, so
 * this document alone must keep the grant to exactly the approved actions on exactly the approved
 * ARN until exactly `notAfter` — even if everything before it went wrong. It therefore re-checks its
 * inputs, without trusting that validation ran, and refuses (FailClosedError) rather than emit
 * anything broader. It needs no IAM catalog, so the Lambda that mints credentials stays small.
 */

/** STS refuses inline session policies longer than this (AssumeRole `Policy`, plaintext characters). */
export const STS_SESSION_POLICY_MAX_CHARS = 2_048;
/** The most actions one request (and so one grant) may name. */
export const MAX_GRANT_ACTIONS = 10;

export interface SessionPolicyInput {
  /** Canonical action names (`dynamodb:PutItem`). */
  actions: readonly string[];
  /** One exact ARN. */
  resource: string;
  /** The instant the grant ends; sub-second precision is dropped (rounding down ends it earlier, never later). */
  notAfter: string | Date;
}

const EXACT_ACTION = /^[a-z0-9-]+:[A-Za-z0-9-]+$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
const STATEMENT_KEYS = ['Action', 'Condition', 'Effect', 'Resource'];

export function buildSessionPolicy(input: SessionPolicyInput): { document: PolicyDocument; json: string } {
  const { actions, resource } = input;
  if (!Array.isArray(actions) || actions.length === 0 || actions.length > MAX_GRANT_ACTIONS) {
    throw new FailClosedError(`a grant must name 1 to ${MAX_GRANT_ACTIONS} actions`);
  }
  const seen = new Set<string>();
  for (const action of actions) {
    if (typeof action !== 'string' || wildcardProblem(action) || !EXACT_ACTION.test(action)) {
      throw new FailClosedError('a grant action is not one exact IAM action name');
    }
    if (seen.has(action.toLowerCase())) throw new FailClosedError(`a grant lists ${action} twice`);
    seen.add(action.toLowerCase());
  }
  try {
    parseArn(resource, 'resource');
  } catch (cause) {
    throw new FailClosedError('the grant resource is not one exact ARN', { cause });
  }
  const notAfter = policyTime(input.notAfter);

  const document: PolicyDocument = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [...actions],
        Resource: [resource],
        // Credentials last at least 900 s and cannot be recalled; this condition is what ends the
        // grant on time.
        Condition: { DateLessThan: { 'aws:CurrentTime': notAfter } },
      },
    ],
  };
  const json = JSON.stringify(document);
  assertExact(document, json);
  return { document, json };
}

/** The last line of defence: whatever the inputs were, the emitted document grants no more. */
function assertExact(document: PolicyDocument, json: string): void {
  if (document.Statement.length !== 1)
    throw new FailClosedError('a session policy has exactly one statement');
  const [statement] = document.Statement;
  const keys = Object.keys(statement!).sort();
  // No NotAction / NotResource / Principal / second condition: only the four keys we write.
  if (keys.join() !== STATEMENT_KEYS.join() || statement!.Effect !== 'Allow') {
    throw new FailClosedError('a session policy statement holds something other than an exact grant');
  }
  if (json.includes('*') || json.includes('?') || json.includes('${')) {
    throw new FailClosedError('a session policy would contain a wildcard or a policy variable');
  }
  // Even as data inside a string these words have no business in a grant; refusing them means no
  // reader of the document — human or a naive scanner — can be fooled into seeing them as grammar.
  if (/notaction|notresource/i.test(json)) {
    throw new FailClosedError('a session policy would contain the words NotAction or NotResource');
  }
  if (json.length > STS_SESSION_POLICY_MAX_CHARS) {
    throw new FailClosedError(
      `the session policy is ${json.length} characters; STS accepts at most ${STS_SESSION_POLICY_MAX_CHARS}`,
    );
  }
}

function policyTime(value: string | Date): string {
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string' && ISO_INSTANT.test(value)) date = new Date(value);
  else throw new FailClosedError('notAfter must be a UTC ISO-8601 instant such as 2025-01-31T12:00:00Z');
  const iso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  // Years outside 0000–9999 serialise as ±YYYYYY, which IAM's date conditions do not read.
  if (!ISO_INSTANT.test(iso)) throw new FailClosedError('notAfter is not a valid instant');
  return `${iso.slice(0, 19)}Z`;
}

// STS SourceIdentity: 2–64 characters of [A-Za-z0-9_+=,.@-]. `+` is kept out of identities passed
// through as-is and reserved to join a prefix to a hash, so a passed-through identity can never equal
// a hashed one.
const SOURCE_IDENTITY_AS_IS = /^[A-Za-z0-9_=,.@-]{2,64}$/;
const SOURCE_IDENTITY_UNSAFE = /[^A-Za-z0-9_=,.@-]/g;
const HASH_CHARS = 16;
const MAX_SOURCE_IDENTITY = 64;

/**
 * Maps an agent identity (a JWT `sub`) to STS's SourceIdentity alphabet, deterministically. An
 * identity that already fits is used unchanged; otherwise a readable prefix (disallowed characters
 * replaced with `_`) is joined by `+` to 16 base64url characters of its SHA-256 (96 bits), so two
 * identities that differ only in replaced characters still map to different values.
 */
export function sanitizeSourceIdentity(identity: string): string {
  if (SOURCE_IDENTITY_AS_IS.test(identity)) return identity;
  const hash = createHash('sha256').update(identity, 'utf8').digest('base64url').slice(0, HASH_CHARS);
  const prefix = identity.replace(SOURCE_IDENTITY_UNSAFE, '_').slice(0, MAX_SOURCE_IDENTITY - HASH_CHARS - 1);
  return `${prefix}+${hash}`;
}
