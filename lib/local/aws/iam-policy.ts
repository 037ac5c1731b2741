import { globMatch } from '../../../lambdas/core/glob.js';

/**
 * IAM's policy evaluation logic for one account, as the local AWS endpoint applies it: pure, no I/O.
 *
 * 1. An explicit Deny in any applicable policy (identity or session) wins.
 * 2. Otherwise an Allow is needed in the identity-based policies (the role's inline and managed
 *    documents) AND, for a session with a session policy, in the session policy too.
 * 3. Anything else is an implicit deny.
 *
 * Whatever this module does not understand — an unknown condition operator, a condition key it has
 * no value for and cannot prove absent, a policy variable it cannot resolve — fails closed: an
 * Allow statement with such a condition does not apply, a Deny statement does, and the problem is
 * returned in `problems` so the caller can log it loudly.
 *
 * Kept in one file (~490 lines): parsing, condition operators and evaluation share one statement
 * model and one fail-closed rule (what parsing accepts is exactly what evaluation must decide, or
 * report as a problem). Split, each part would have to restate what the others accept.
 */

export type Effect = 'Allow' | 'Deny';

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: Effect;
  readonly Action?: readonly string[];
  readonly NotAction?: readonly string[];
  readonly Resource?: readonly string[];
  readonly NotResource?: readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Resource-based (trust) policies only. */
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
}

export interface ParsedPolicy {
  /** Where the policy came from, for reasons and logs (`inline:revocations`, `session`, …). */
  readonly name: string;
  readonly version: '2012-10-17' | '2008-10-17';
  readonly statements: readonly PolicyStatement[];
}

/** A document IAM or STS would refuse; `message` is theirs. */
export class MalformedPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPolicyError';
  }
}

/**
 * The request context: condition key (any case) → its values. A key that is absent from the map but
 * listed in ABSENT_KEYS is known to be absent; any other absent key is unknown here.
 */
export type RequestContext = ReadonlyMap<string, readonly string[]>;

/** Keys that are legitimately absent from a request (IAM then applies its missing-key rules). */
const MAY_BE_ABSENT = [
  'aws:sourceidentity',
  'aws:principaltag/',
  'aws:requesttag/',
  'aws:tagkeys',
  'aws:username',
  'aws:multifactorauthpresent',
  'aws:multifactorauthage',
  'aws:calledvia',
  'aws:calledviafirst',
  'aws:calledvialast',
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:federatedprovider',
  'sts:sourceidentity',
  'sts:rolesessionname',
  'sts:transitivetagkeys',
  's3:prefix',
  's3:delimiter',
  's3:max-keys',
  'dynamodb:leadingkeys',
  'dynamodb:attributes',
  'dynamodb:select',
  'dynamodb:returnvalues',
  'dynamodb:returnconsumedcapacity',
];

function mayBeAbsent(key: string): boolean {
  return MAY_BE_ABSENT.some((k) => (k.endsWith('/') ? key.startsWith(k) : key === k));
}

export function parsePolicy(
  name: string,
  document: unknown,
  options: { requireResource?: boolean } = {},
): ParsedPolicy {
  let doc = document;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch {
      throw new MalformedPolicyError('Syntax errors in policy.');
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new MalformedPolicyError('Syntax errors in policy.');
  const { Version, Statement: raw } = doc as { Version?: unknown; Statement?: unknown };
  if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') {
    throw new MalformedPolicyError('The policy must contain a valid version string');
  }
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0)
    throw new MalformedPolicyError('Policy statement must contain at least one statement.');
  const strings = (value: unknown, field: string): string[] | undefined => {
    if (value === undefined) return undefined;
    const arr = Array.isArray(value) ? value : [value];
    if (arr.length === 0 || !arr.every((v) => typeof v === 'string')) {
      throw new MalformedPolicyError(`${field} must be a string or a non-empty list of strings.`);
    }
    return arr as string[];
  };
  const statements = list.map((s): PolicyStatement => {
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      throw new MalformedPolicyError('Syntax errors in policy.');
    const st = s as Record<string, unknown>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') {
      throw new MalformedPolicyError('Policy statement must contain a valid Effect.');
    }
    if ((st.Action === undefined) === (st.NotAction === undefined)) {
      throw new MalformedPolicyError('Policy statement must contain exactly one of Action or NotAction.');
    }
    if (st.Resource !== undefined && st.NotResource !== undefined) {
      throw new MalformedPolicyError('Policy statement must contain at most one of Resource or NotResource.');
    }
    if (options.requireResource && st.Resource === undefined && st.NotResource === undefined) {
      throw new MalformedPolicyError('Policy statement must contain resources.');
    }
    if (st.Principal !== undefined || st.NotPrincipal !== undefined) {
      if (options.requireResource)
        throw new MalformedPolicyError('Policy document should not specify a principal.');
    }
    const condition = st.Condition;
    if (condition !== undefined) {
      if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
        throw new MalformedPolicyError('Syntax errors in policy.');
      }
      for (const block of Object.values(condition)) {
        if (typeof block !== 'object' || block === null || Array.isArray(block)) {
          throw new MalformedPolicyError('Syntax errors in policy.');
        }
      }
    }
    return {
      Effect: st.Effect,
      ...(typeof st.Sid === 'string' ? { Sid: st.Sid } : {}),
      ...(st.Action !== undefined ? { Action: strings(st.Action, 'Action') } : {}),
      ...(st.NotAction !== undefined ? { NotAction: strings(st.NotAction, 'NotAction') } : {}),
      ...(st.Resource !== undefined ? { Resource: strings(st.Resource, 'Resource') } : {}),
      ...(st.NotResource !== undefined ? { NotResource: strings(st.NotResource, 'NotResource') } : {}),
      ...(condition !== undefined ? { Condition: condition as PolicyStatement['Condition'] } : {}),
      ...(st.Principal !== undefined ? { Principal: st.Principal } : {}),
      ...(st.NotPrincipal !== undefined ? { NotPrincipal: st.NotPrincipal } : {}),
    };
  });
  return { name, version: Version === '2008-10-17' ? '2008-10-17' : '2012-10-17', statements };
}

/** Three-valued: a statement applies, does not, or cannot be decided here (fail closed). */
type Match = true | false | 'unknown';

class Undecidable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Undecidable';
  }
}

/** `${aws:userid}` and friends; `${*}`, `${?}`, `${$}` are the literal characters. */
function substitute(value: string, ctx: RequestContext, version: ParsedPolicy['version']): string {
  if (version !== '2012-10-17' || !value.includes('${')) return value;
  return value.replace(/\$\{([^}]*)\}/g, (_whole, inner: string) => {
    if (inner === '*' || inner === '?' || inner === '$') return inner;
    // `${key, 'default'}`
    const m = /^\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?$/.exec(inner);
    const values = m ? ctx.get((m[1] as string).toLowerCase()) : undefined;
    if (values && values.length === 1) return values[0] as string;
    if (m && m[2] !== undefined && (!values || values.length === 0)) return m[2];
    throw new Undecidable(`policy variable \${${inner}} cannot be resolved`);
  });
}

/** Glob match where `${…}` variables in the pattern were already substituted. */
function like(pattern: string, value: string, ignoreCase = false): boolean {
  return globMatch(pattern, value, ignoreCase);
}

/** ArnLike/ArnEquals: the six colon-separated parts are matched one by one (the last may hold colons). */
function arnLike(pattern: string, value: string): boolean {
  const split = (arn: string) => {
    const parts = arn.split(':');
    return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const p = split(pattern);
  const v = split(value);
  if (!p || !v) return pattern === '*';
  return p.every((part, i) => like(part, v[i] as string));
}

function parseDate(value: string): number | undefined {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function parseNumber(value: string): number | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Number(value);
}

const OPERATORS: Record<string, { negated: boolean; compare: (actual: string, wanted: string) => boolean }> =
  {
    StringEquals: { negated: false, compare: (a, w) => a === w },
    StringNotEquals: { negated: true, compare: (a, w) => a === w },
    StringEqualsIgnoreCase: { negated: false, compare: (a, w) => a.toLowerCase() === w.toLowerCase() },
    StringNotEqualsIgnoreCase: { negated: true, compare: (a, w) => a.toLowerCase() === w.toLowerCase() },
    StringLike: { negated: false, compare: (a, w) => like(w, a) },
    StringNotLike: { negated: true, compare: (a, w) => like(w, a) },
    ArnEquals: { negated: false, compare: (a, w) => arnLike(w, a) },
    ArnLike: { negated: false, compare: (a, w) => arnLike(w, a) },
    ArnNotEquals: { negated: true, compare: (a, w) => arnLike(w, a) },
    ArnNotLike: { negated: true, compare: (a, w) => arnLike(w, a) },
    Bool: { negated: false, compare: (a, w) => a.toLowerCase() === w.toLowerCase() },
    ...dateOperators(),
    ...numericOperators(),
  };

function dateOperators() {
  const make = (test: (a: number, w: number) => boolean, negated = false) => ({
    negated,
    compare: (a: string, w: string) => {
      const x = parseDate(a);
      const y = parseDate(w);
      if (x === undefined || y === undefined) throw new Undecidable(`not a date: ${x === undefined ? a : w}`);
      return test(x, y);
    },
  });
  return {
    DateEquals: make((a, w) => a === w),
    DateNotEquals: make((a, w) => a === w, true),
    DateLessThan: make((a, w) => a < w),
    DateLessThanEquals: make((a, w) => a <= w),
    DateGreaterThan: make((a, w) => a > w),
    DateGreaterThanEquals: make((a, w) => a >= w),
  };
}

function numericOperators() {
  const make = (test: (a: number, w: number) => boolean, negated = false) => ({
    negated,
    compare: (a: string, w: string) => {
      const x = parseNumber(a);
      const y = parseNumber(w);
      if (x === undefined || y === undefined)
        throw new Undecidable(`not a number: ${x === undefined ? a : w}`);
      return test(x, y);
    },
  });
  return {
    NumericEquals: make((a, w) => a === w),
    NumericNotEquals: make((a, w) => a === w, true),
    NumericLessThan: make((a, w) => a < w),
    NumericLessThanEquals: make((a, w) => a <= w),
    NumericGreaterThan: make((a, w) => a > w),
    NumericGreaterThanEquals: make((a, w) => a >= w),
  };
}

function conditionValues(raw: unknown, operator: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new Undecidable(`${operator} has an empty value list`);
  return list.map((v) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new Undecidable(`${operator} has a value that is not a string, number or boolean`);
  });
}

/**
 * Operators AND together, keys within an operator AND together, values of one key OR together
 * (for negated operators: the value matches none of them).
 */
function conditionsHold(
  statement: PolicyStatement,
  ctx: RequestContext,
  version: ParsedPolicy['version'],
): boolean {
  for (const [rawOperator, block] of Object.entries(statement.Condition ?? {})) {
    let operator = rawOperator;
    let set: 'any' | 'all' | undefined;
    if (operator.startsWith('ForAnyValue:')) {
      set = 'any';
      operator = operator.slice('ForAnyValue:'.length);
    } else if (operator.startsWith('ForAllValues:')) {
      set = 'all';
      operator = operator.slice('ForAllValues:'.length);
    }
    const ifExists = operator.endsWith('IfExists') && operator !== 'IfExists';
    if (ifExists) operator = operator.slice(0, -'IfExists'.length);
    if (operator !== 'Null' && !Object.hasOwn(OPERATORS, operator)) {
      throw new Undecidable(`condition operator ${rawOperator} is not supported`);
    }
    for (const [rawKey, rawValues] of Object.entries(block)) {
      const key = rawKey.toLowerCase();
      const wanted = conditionValues(rawValues, rawOperator).map((w) => substitute(w, ctx, version));
      const actual = ctx.get(key);
      const present = actual !== undefined && actual.length > 0;
      if (!present && actual === undefined && !mayBeAbsent(key)) {
        throw new Undecidable(`condition key ${rawKey} has no value in the local request context`);
      }
      if (operator === 'Null') {
        if (set || ifExists) throw new Undecidable(`${rawOperator} is not a valid operator`);
        // Null: "true" holds when the key is absent, "false" when it is present.
        const holds = wanted.some((w) =>
          w.toLowerCase() === 'true' ? !present : w.toLowerCase() === 'false' ? present : false,
        );
        if (!holds) return false;
        continue;
      }
      const op = OPERATORS[operator] as (typeof OPERATORS)[string];
      const one = (value: string) => {
        const hit = wanted.some((w) => op.compare(value, w));
        return op.negated ? !hit : hit;
      };
      if (set === 'any') {
        if (!present || !actual.some(one)) return false;
      } else if (set === 'all') {
        if (present && !actual.every(one)) return false;
      } else if (!present) {
        // A missing key fails every operator but the negated ones, unless the operator says IfExists.
        if (!ifExists && !op.negated) return false;
      } else if (op.negated) {
        if (!actual.every(one)) return false;
      } else if (!actual.some(one)) {
        return false;
      }
    }
  }
  return true;
}

function statementMatches(
  statement: PolicyStatement,
  action: string,
  resource: string,
  ctx: RequestContext,
  version: ParsedPolicy['version'],
): Match {
  try {
    const actionHit = (patterns: readonly string[]) => patterns.some((p) => like(p, action, true));
    if (statement.Action && !actionHit(statement.Action)) return false;
    if (statement.NotAction && actionHit(statement.NotAction)) return false;
    const resourceHit = (patterns: readonly string[]) =>
      patterns.some((p) => {
        const pattern = substitute(p, ctx, version);
        return (
          pattern === '*' ||
          (pattern.startsWith('arn:') ? arnLike(pattern, resource) : like(pattern, resource))
        );
      });
    if (statement.Resource && !resourceHit(statement.Resource)) return false;
    if (statement.NotResource && resourceHit(statement.NotResource)) return false;
    return conditionsHold(statement, ctx, version);
  } catch (error) {
    if (error instanceof Undecidable) return 'unknown';
    throw error;
  }
}

function problemOf(
  statement: PolicyStatement,
  action: string,
  resource: string,
  ctx: RequestContext,
  version: ParsedPolicy['version'],
): string {
  try {
    conditionsHold(statement, ctx, version);
    for (const p of [...(statement.Resource ?? []), ...(statement.NotResource ?? [])])
      substitute(p, ctx, version);
    return 'undecidable';
  } catch (error) {
    return `${(error as Error).message} (statement ${statement.Sid ?? '(no Sid)'} on ${action} ${resource})`;
  }
}

export interface EvaluationInput {
  /** The caller's ARN as it appears in refusals (the assumed-role session ARN). */
  readonly principalArn: string;
  readonly action: string;
  readonly resource: string;
  readonly identityPolicies: readonly ParsedPolicy[];
  /** Present when the session was minted with a session policy (inline and/or managed ARNs). */
  readonly sessionPolicies?: readonly ParsedPolicy[];
  readonly context: RequestContext;
}

export interface Decision {
  readonly allowed: boolean;
  readonly decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';
  /** What AWS would say, e.g. `User: … is not authorized to perform: … on resource: … because …`. */
  readonly reason: string;
  /** Statements this evaluator could not decide (and so failed closed on). Log these loudly. */
  readonly problems: readonly string[];
}

export function evaluate(input: EvaluationInput): Decision {
  const { action, resource, context } = input;
  const problems: string[] = [];
  const prefix = `User: ${input.principalArn} is not authorized to perform: ${action} on resource: ${resource}`;
  const scan = (policies: readonly ParsedPolicy[], effect: Effect): boolean => {
    let hit = false;
    for (const policy of policies) {
      for (const statement of policy.statements) {
        if (statement.Effect !== effect) continue;
        const match = statementMatches(statement, action, resource, context, policy.version);
        if (match === 'unknown') {
          problems.push(`${policy.name}: ${problemOf(statement, action, resource, context, policy.version)}`);
          // Fail closed: an undecidable Deny applies, an undecidable Allow does not.
          if (effect === 'Deny') hit = true;
        } else if (match) {
          hit = true;
        }
      }
    }
    return hit;
  };
  if (scan(input.identityPolicies, 'Deny')) {
    return {
      allowed: false,
      decision: 'ExplicitDeny',
      reason: `${prefix} with an explicit deny in an identity-based policy`,
      problems,
    };
  }
  if (input.sessionPolicies && scan(input.sessionPolicies, 'Deny')) {
    return {
      allowed: false,
      decision: 'ExplicitDeny',
      reason: `${prefix} with an explicit deny in a session policy`,
      problems,
    };
  }
  if (!scan(input.identityPolicies, 'Allow')) {
    return {
      allowed: false,
      decision: 'ImplicitDeny',
      reason: `${prefix} because no identity-based policy allows the ${action} action`,
      problems,
    };
  }
  if (input.sessionPolicies && !scan(input.sessionPolicies, 'Allow')) {
    return {
      allowed: false,
      decision: 'ImplicitDeny',
      reason: `${prefix} because no session policy allows the ${action} action`,
      problems,
    };
  }
  return { allowed: true, decision: 'Allow', reason: 'allowed', problems };
}

/** Does one policy allow (and not deny) `action` on `resource`? For trust policies and probes. */
export function statementsAllow(
  policy: ParsedPolicy,
  action: string,
  resource: string,
  context: RequestContext,
): Match {
  let allow: Match = false;
  for (const statement of policy.statements) {
    const match = statementMatches(statement, action, resource, context, policy.version);
    if (statement.Effect === 'Deny' && match !== false) return false;
    if (statement.Effect === 'Allow' && match === true) allow = true;
  }
  return allow;
}

/** The size IAM counts for inline policy limits: the document without insignificant whitespace. */
export function packedLength(text: string): number {
  return JSON.stringify(JSON.parse(text)).length;
}
