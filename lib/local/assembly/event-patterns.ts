import { isObject, type RuleState } from './template.js';

/**
 * EventBridge event patterns, as the EventBridge User Guide ("Creating event patterns",
 * "Content filtering in Amazon EventBridge event patterns") describes them:
 *
 * - A pattern is a JSON object; each leaf is an array of values or filters, any one of which
 *   must match (OR). Nested objects match nested fields (AND across keys).
 * - When the event's field is an array, the pattern matches if any element matches.
 * - Filters: exact values (strings, numbers, `null`), `prefix`, `suffix`, `anything-but` (a value,
 *   a list, or `{prefix}`/`{suffix}`/`{equals-ignore-case}`/`{wildcard}`), `numeric`,
 *   `exists`, `equals-ignore-case`, `wildcard` (`*`), `cidr`, and `$or` (an array of patterns).
 * - Every filter except `exists: false` needs the field to be present.
 *
 * Rule states (EventBridge User Guide, "Receiving read-only management events from AWS
 * services"; API Reference, `Rule.State`): `DISABLED` matches no events; `ENABLED` matches
 * events "except for read-only AWS management events delivered through CloudTrail";
 * `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` matches all events "including read-only
 * management events delivered through CloudTrail". The same page lists AWS STS's
 * `GetFederationToken` and `GetSessionToken` as change events although they start with `Get`
 * (they are delivered to `ENABLED` rules); STS `AssumeRole` is a read-only management event, so
 * only a rule in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` receives it.
 *
 * Size: PutRule's `EventPattern` accepts at most 4,096 characters (API Reference, `PutRule`);
 * the default "Event pattern size" quota is 2,048 characters (EventBridge quotas), adjustable
 * up to that maximum.
 */

const EVENT_PATTERN_MAX_CHARACTERS = 4096;
export const EVENT_PATTERN_DEFAULT_QUOTA_CHARACTERS = 2048;

export class EventPatternError extends Error {
  override readonly name = 'EventPatternError';
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `*` matches any run of characters; `\*` and `\\` are literal. */
function wildcardMatches(pattern: string, value: string): boolean {
  let regex = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && (pattern[i + 1] === '*' || pattern[i + 1] === '\\')) {
      regex += `\\${pattern[++i]}`;
    } else if (c === '*') {
      regex += '.*';
    } else {
      regex += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${regex}$`, 's').test(value);
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let out = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    out = out * 256 + Number(part);
  }
  return out;
}

function cidrMatches(cidr: string, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const network = ipv4ToInt(base ?? '');
  const address = ipv4ToInt(value);
  // IPv6 ranges are not evaluated locally; they fail closed (no match) rather than guess.
  if (network === undefined || address === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32)
    return false;
  const size = 2 ** (32 - bits);
  return Math.floor(network / size) === Math.floor(address / size);
}

function numericMatches(conditions: unknown[], value: unknown): boolean {
  if (typeof value !== 'number') return false;
  for (let i = 0; i < conditions.length; i += 2) {
    const op = conditions[i];
    const bound = conditions[i + 1];
    if (typeof bound !== 'number')
      throw new EventPatternError(`numeric: ${JSON.stringify(bound)} is not a number`);
    const ok =
      op === '='
        ? value === bound
        : op === '<'
          ? value < bound
          : op === '<='
            ? value <= bound
            : op === '>'
              ? value > bound
              : op === '>='
                ? value >= bound
                : undefined;
    if (ok === undefined) throw new EventPatternError(`numeric: unknown operator ${JSON.stringify(op)}`);
    if (!ok) return false;
  }
  return true;
}

function anythingButMatches(spec: unknown, value: unknown): boolean {
  if (isObject(spec)) {
    if (typeof value !== 'string') return false;
    if (typeof spec.prefix === 'string') return !value.startsWith(spec.prefix);
    if (typeof spec.suffix === 'string') return !value.endsWith(spec.suffix);
    if (spec['equals-ignore-case'] !== undefined) {
      const list = Array.isArray(spec['equals-ignore-case'])
        ? spec['equals-ignore-case']
        : [spec['equals-ignore-case']];
      return !list.some((v) => typeof v === 'string' && v.toLowerCase() === value.toLowerCase());
    }
    if (spec.wildcard !== undefined) {
      const list = Array.isArray(spec.wildcard) ? spec.wildcard : [spec.wildcard];
      return !list.some((v) => typeof v === 'string' && wildcardMatches(v, value));
    }
    throw new EventPatternError(`anything-but: unsupported filter ${JSON.stringify(spec)}`);
  }
  const list = Array.isArray(spec) ? spec : [spec];
  return !list.some((v) => v === value);
}

/** One entry of a leaf array against one (non-array) event value; `present` is false for a missing field. */
function leafMatches(filter: unknown, value: unknown, present: boolean): boolean {
  if (!isObject(filter)) return present && filter === value;
  const keys = Object.keys(filter);
  if (keys.length !== 1)
    throw new EventPatternError(`a filter has exactly one key: ${JSON.stringify(filter)}`);
  const key = keys[0]!;
  const spec = filter[key];
  if (key === 'exists') {
    if (typeof spec !== 'boolean') throw new EventPatternError('exists takes true or false');
    // exists matches leaves only: an object is not "a value that exists" for the filter.
    return spec ? present && !isObject(value) : !present;
  }
  if (!present) return false;
  switch (key) {
    case 'prefix':
      if (isObject(spec) && typeof spec['equals-ignore-case'] === 'string') {
        return (
          typeof value === 'string' &&
          value.toLowerCase().startsWith(spec['equals-ignore-case'].toLowerCase())
        );
      }
      return typeof spec === 'string' && typeof value === 'string' && value.startsWith(spec);
    case 'suffix':
      if (isObject(spec) && typeof spec['equals-ignore-case'] === 'string') {
        return (
          typeof value === 'string' && value.toLowerCase().endsWith(spec['equals-ignore-case'].toLowerCase())
        );
      }
      return typeof spec === 'string' && typeof value === 'string' && value.endsWith(spec);
    case 'equals-ignore-case':
      return (
        typeof spec === 'string' && typeof value === 'string' && spec.toLowerCase() === value.toLowerCase()
      );
    case 'wildcard':
      return typeof spec === 'string' && typeof value === 'string' && wildcardMatches(spec, value);
    case 'anything-but':
      return anythingButMatches(spec, value);
    case 'numeric':
      if (!Array.isArray(spec)) throw new EventPatternError('numeric takes an array');
      return numericMatches(spec, value);
    case 'cidr':
      return typeof spec === 'string' && cidrMatches(spec, value);
    default:
      throw new EventPatternError(`unknown filter ${key}`);
  }
}

function fieldMatches(filters: unknown[], value: unknown, present: boolean): boolean {
  // An array in the event matches when any of its elements matches.
  const values = present && Array.isArray(value) ? value : [value];
  if (present && Array.isArray(value) && value.length === 0) {
    return filters.some((f) => isObject(f) && 'exists' in f && leafMatches(f, value, true));
  }
  return filters.some((filter) => values.some((v) => leafMatches(filter, v, present)));
}

function objectMatches(pattern: Record<string, unknown>, event: unknown): boolean {
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2)
        throw new EventPatternError('$or takes an array of at least two patterns');
      if (!sub.some((alternative) => isObject(alternative) && objectMatches(alternative, event)))
        return false;
      continue;
    }
    const present = isObject(event) && Object.hasOwn(event, key);
    const value = present ? (event as Record<string, unknown>)[key] : undefined;
    if (Array.isArray(sub)) {
      if (!fieldMatches(sub, value, present)) return false;
    } else if (isObject(sub)) {
      // A nested pattern against a missing field or a non-object: only `exists: false` leaves could
      // match, so evaluate it against an empty object.
      if (!objectMatches(sub, isObject(value) ? value : {})) return false;
    } else {
      throw new EventPatternError(
        `pattern value for ${key} must be an array or an object, got ${JSON.stringify(sub)}`,
      );
    }
  }
  return true;
}

/** Whether `event` matches `pattern` (a parsed pattern object, or its JSON text). */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  const parsed = typeof pattern === 'string' ? (JSON.parse(pattern) as unknown) : pattern;
  if (!isObject(parsed)) throw new EventPatternError('an event pattern is a JSON object');
  return objectMatches(parsed, event);
}

/** The pattern's size in characters, as PutRule counts it (its JSON text). */
function eventPatternSize(pattern: unknown): number {
  return (typeof pattern === 'string' ? pattern : JSON.stringify(pattern)).length;
}

/**
 * Refuses a pattern over `limit` characters (default: PutRule's maximum of 4,096; pass
 * EVENT_PATTERN_DEFAULT_QUOTA_CHARACTERS to check against the default quota).
 */
export function assertEventPatternSize(pattern: unknown, limit = EVENT_PATTERN_MAX_CHARACTERS): void {
  const size = eventPatternSize(pattern);
  if (size > limit) {
    throw new EventPatternError(
      `the event pattern is ${size} characters; EventBridge accepts at most ${limit}`,
    );
  }
}

/** STS calls CloudTrail marks read-only that EventBridge delivers as change events (see above). */
const DELIVERED_AS_CHANGE_EVENTS = new Set([
  'sts.amazonaws.com GetFederationToken',
  'sts.amazonaws.com GetSessionToken',
]);

/** A read-only management event delivered by CloudTrail ("AWS API Call via CloudTrail"). */
export function isReadOnlyManagementEvent(event: unknown): boolean {
  if (!isObject(event) || event['detail-type'] !== 'AWS API Call via CloudTrail') return false;
  const detail = event.detail;
  if (!isObject(detail) || detail.readOnly !== true || detail.managementEvent !== true) return false;
  return !DELIVERED_AS_CHANGE_EVENTS.has(`${String(detail.eventSource)} ${String(detail.eventName)}`);
}

/** Whether a rule in `state` with `pattern` receives `event`, as EventBridge decides it. */
export function ruleReceives(
  rule: { state: RuleState; eventPattern?: unknown },
  event: Json | unknown,
): boolean {
  if (rule.state === 'DISABLED') return false;
  if (rule.eventPattern === undefined) return false; // a schedule rule receives no events
  if (rule.state === 'ENABLED' && isReadOnlyManagementEvent(event)) return false;
  if (rule.state !== 'ENABLED' && rule.state !== 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS') {
    throw new EventPatternError(`unknown rule state ${JSON.stringify(rule.state)}`);
  }
  return matchesPattern(rule.eventPattern, event);
}
