import { createHash } from 'node:crypto';
import { parseArn } from './arn.js';
import { callError, findOperation } from './calls/operations.js';
import { canonicalJson } from './history.js';
import type { ExactCall } from './model.js';

/**
 * Validation of an exact call (`call` in `POST /v1/requests`, DESIGN.md §4 "Exact calls"): the
 * request names exactly one action, the input is the operation's and names exactly the requested
 * resource (lambdas/core/calls/operations.ts), and it is small enough for an approver to read it
 * whole. The input is kept exactly as sent; its SHA-256 over canonical JSON is what approvers, the
 * API and the evidence record compare.
 */

/** An input's canonical JSON may be this long: an approver reads all of it (Slack shows ~2,500). */
export const MAX_CALL_INPUT_CHARS = 16 * 1024;
const CALL_KEYS = ['input', 'operation'];
const OPERATION_NAME = /^[A-Za-z0-9]{1,64}$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The SHA-256 an approver compares: of the input's canonical JSON (keys sorted, no spaces). */
export const inputSha256 = (input: unknown) => sha256Hex(canonicalJson(input));

export function validateCall(value: unknown, resource: string, actions: readonly string[]): ExactCall {
  if (!isPlainObject(value)) throw callError('call must be an object { "input": { … } }');
  for (const key of Object.keys(value)) {
    if (!CALL_KEYS.includes(key)) {
      throw callError(
        `call has only ${CALL_KEYS.join(' and ')}; ${JSON.stringify(key.slice(0, 64))} is not read`,
      );
    }
  }
  if (actions.length !== 1) throw callError('an exact call names exactly one action');
  const operationName = value.operation;
  if (
    operationName !== undefined &&
    (typeof operationName !== 'string' || !OPERATION_NAME.test(operationName))
  ) {
    throw callError('call.operation must be an API operation name such as HeadObject', 'operation');
  }
  const spec = findOperation(actions[0]!, operationName);
  const input = value.input;
  if (!isPlainObject(input)) throw callError("call.input must be the operation's input object");
  const canonical = canonicalJson(input);
  if (canonical.length > MAX_CALL_INPUT_CHARS) {
    throw callError(
      `call.input is ${canonical.length} characters as canonical JSON; at most ${MAX_CALL_INPUT_CHARS} are accepted`,
    );
  }
  assertText(input);

  const arn = parseArn(resource, 'resource');
  for (const key of Object.keys(input)) {
    if (spec.allowed.includes(key) || spec.names.includes(key)) continue;
    throw callError(
      `call.input.${key.slice(0, 64)} is not allowed for ${spec.operation}: it is unknown, needs another action or could reach another resource`,
      key.slice(0, 64),
    );
  }
  spec.target(input, arn);
  spec.check?.(input);
  return {
    operation: `${spec.action.split(':')[0]}:${spec.operation}`,
    input,
    inputSha256: sha256Hex(canonical),
  };
}

/**
 * Strings (keys too) must be well-formed Unicode: a hash of broken text is not what anyone saw. A
 * `__proto__` key is refused: some JSON readers (a store's unmarshaller) turn it into a prototype, so
 * the input read back would no longer be the input approved.
 */
function assertText(value: unknown): void {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw callError('call.input holds text that is not valid Unicode');
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) assertText(item);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '__proto__') throw callError('call.input may not hold a key named __proto__');
      assertText(key);
      assertText(item);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
