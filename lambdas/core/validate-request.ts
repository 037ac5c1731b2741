import { parseArn, wildcardProblem } from './arn.js';
import { FailClosedError, ValidationError } from './errors.js';
import { validateCall } from './exact-call.js';
import { ACCESS_LEVELS, type AccessLevel, type IamCatalog, iamCatalog } from './iam-catalog.js';
import { claimedIdentityProblem } from './identity.js';
import type { ExactCall, RequestContext } from './model.js';
import { buildSessionPolicy, MAX_GRANT_ACTIONS } from './session-policy.js';
import { CONTROL, checkText, codePoints, validateText } from './text-rules.js';

/**
 * Validates the body of `POST /v1/requests` (DESIGN.md §4). Everything an agent sends is refused
 * unless it is exactly one known resource and exact, existing actions that apply to it: the values
 * accepted here are the ones that end up, verbatim, in a session policy. Each refusal is a
 * ValidationError whose `field` names what was wrong (`actions[1]`, `context.onBehalfOf`).
 */

export const MAX_ACTIONS = MAX_GRANT_ACTIONS;
export const MAX_REASON_CHARS = 2_000;
export const MIN_DURATION_SECONDS = 60;
export const MAX_DURATION_SECONDS = 43_200;
export const DEFAULT_DURATION_SECONDS = 900;
export const MAX_CONTEXT_VALUE_CHARS = 256;
export const CONTEXT_KEYS = ['task', 'runId', 'toolCallId', 'model', 'onBehalfOf'] as const;
const BODY_KEYS = ['resource', 'actions', 'reason', 'durationSeconds', 'context', 'call'] as const;
/** Longer than any real action name (the longest is ~90 characters); keeps error messages short. */
const MAX_ACTION_CHARS = 200;

export interface ValidatedAccessRequest {
  /** The ARN exactly as requested (already exact: no wildcard, no variable). */
  resource: string;
  /** What the ARN is, as `service:type` ids from the catalog (e.g. `dynamodb:table`). */
  resourceTypes: string[];
  /** Canonical action names (`dynamodb:PutItem`), in the order requested, without duplicates. */
  actions: string[];
  /** Each action's access levels, keyed by its canonical name: what policy rules match on. */
  actionAccessLevels: Record<string, AccessLevel[]>;
  /** Every access level among the actions, in ACCESS_LEVELS order: what PolicyOutcome records. */
  accessLevels: AccessLevel[];
  reason: string;
  durationSeconds: number;
  context: RequestContext;
  /** One exact API call instead of a session (lambdas/core/exact-call.ts). */
  call?: ExactCall;
}

const ACTION_NAME = /^[A-Za-z0-9-]+:[A-Za-z0-9-]+$/;
const SAFE_FIELD_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function validateAccessRequest(
  body: unknown,
  catalog: IamCatalog = iamCatalog(),
): ValidatedAccessRequest {
  if (!isPlainObject(body)) throw new ValidationError('body', 'the body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!(BODY_KEYS as readonly string[]).includes(key)) {
      // `NotAction`, `Resource`, `Condition`…: anything we do not read could be read by someone else.
      const field = SAFE_FIELD_NAME.test(key) ? key : 'body';
      throw new ValidationError(
        field,
        `unknown field ${JSON.stringify(key.slice(0, 64))}; a request has only ${BODY_KEYS.join(', ')}`,
      );
    }
  }

  const arn = parseArn(body.resource, 'resource');
  const arnTypes = catalog.resourceTypesForArn(arn);
  if (arnTypes.length === 0) {
    throw new ValidationError('resource', `resource is not an ARN of any known resource type`);
  }

  const requested = body.actions;
  if (!Array.isArray(requested))
    throw new ValidationError('actions', 'actions must be a list of IAM action names');
  if (requested.length === 0) throw new ValidationError('actions', 'actions must name at least one action');
  if (requested.length > MAX_ACTIONS) {
    throw new ValidationError('actions', `actions may name at most ${MAX_ACTIONS} actions`);
  }
  const actions: string[] = [];
  const actionAccessLevels: Record<string, AccessLevel[]> = {};
  requested.forEach((value: unknown, i) => {
    const field = `actions[${i}]`;
    if (typeof value !== 'string') throw new ValidationError(field, `${field} must be a string`);
    if (value.length === 0 || value.length > MAX_ACTION_CHARS) {
      throw new ValidationError(field, `${field} must be 1 to ${MAX_ACTION_CHARS} characters`);
    }
    if (CONTROL.test(value)) throw new ValidationError(field, `${field} contains control characters`);
    const wildcard = wildcardProblem(value);
    if (wildcard) throw new ValidationError(field, `${field}: ${wildcard}; name one exact action`);
    if (!ACTION_NAME.test(value)) {
      throw new ValidationError(field, `${field} must be an IAM action name such as dynamodb:PutItem`);
    }
    const shown = JSON.stringify(value);
    const service = value.slice(0, value.indexOf(':'));
    if (!catalog.hasService(service)) {
      throw new ValidationError(field, `${field}: ${JSON.stringify(service)} is not an IAM service prefix`);
    }
    const action = catalog.lookupAction(value);
    if (!action) throw new ValidationError(field, `${field}: ${shown} is not an IAM action`);
    if (actions.includes(action.action))
      throw new ValidationError(field, `${field}: ${action.action} is listed twice`);
    const applicability = catalog.applicability(action, arnTypes);
    if (!applicability.applies) throw new ValidationError(field, `${field}: ${applicability.message}`);
    actions.push(action.action);
    actionAccessLevels[action.action] = [...action.accessLevels];
  });
  assertGrantable(actions, arn.arn);
  const levels = new Set(Object.values(actionAccessLevels).flat());
  const accessLevels = ACCESS_LEVELS.filter((level) => levels.has(level));

  const reason = validateText('reason', body.reason, MAX_REASON_CHARS);

  const duration = body.durationSeconds;
  let durationSeconds = DEFAULT_DURATION_SECONDS;
  if (duration !== undefined) {
    if (
      typeof duration !== 'number' ||
      !Number.isInteger(duration) ||
      duration < MIN_DURATION_SECONDS ||
      duration > MAX_DURATION_SECONDS
    ) {
      throw new ValidationError(
        'durationSeconds',
        `durationSeconds must be a whole number from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}`,
      );
    }
    durationSeconds = duration;
  }

  const context = validateContext(body.context);
  return {
    resource: arn.arn,
    resourceTypes: arnTypes.map((type) => type.id),
    actions,
    actionAccessLevels,
    accessLevels,
    reason,
    durationSeconds,
    context,
    ...(body.call !== undefined ? { call: validateCall(body.call, arn.arn, actions) } : {}),
  };
}

/**
 * Builds the session policy an approval would produce, now, so a request that could never become a
 * grant (too long for STS's 2,048 characters, a name the builder refuses) is refused while the agent
 * is still listening, not after a human has approved it. The time is a placeholder of the same
 * length as any real `notAfter`.
 */
function assertGrantable(actions: string[], resource: string): void {
  try {
    buildSessionPolicy({ actions, resource, notAfter: '2000-01-01T00:00:00Z' });
  } catch (error) {
    if (error instanceof FailClosedError) throw new ValidationError('resource', `resource: ${error.message}`);
    throw error;
  }
}

function validateContext(value: unknown): RequestContext {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new ValidationError('context', 'context must be an object');
  for (const key of Object.keys(value)) {
    if (!(CONTEXT_KEYS as readonly string[]).includes(key)) {
      const field = SAFE_FIELD_NAME.test(key) ? `context.${key}` : 'context';
      throw new ValidationError(
        field,
        `unknown context field ${JSON.stringify(key.slice(0, 64))}; context has only ${CONTEXT_KEYS.join(', ')}`,
      );
    }
  }
  const context: RequestContext = {};
  for (const key of CONTEXT_KEYS) {
    const text = value[key];
    if (text === undefined) continue;
    const field = `context.${key}`;
    if (typeof text !== 'string') throw new ValidationError(field, `${field} must be a string`);
    if (text.length === 0 || codePoints(text) > MAX_CONTEXT_VALUE_CHARS) {
      throw new ValidationError(field, `${field} must be 1 to ${MAX_CONTEXT_VALUE_CHARS} characters`);
    }
    checkText(field, text, CONTROL);
    if (key === 'onBehalfOf') {
      // A claimed identity is compared with approvers' identities: it must be one, in normal form.
      const problem = claimedIdentityProblem(text);
      if (problem) throw new ValidationError(field, `${field} ${problem}`);
    }
    context[key] = text;
  }
  return context;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
