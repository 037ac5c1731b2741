import { type CfnTemplate, isObject } from './template.js';

/**
 * CloudFormation's intrinsic functions over the physical names the local assembly gives each
 * resource. Resolution fails closed: an unknown logical id, attribute, parameter or function
 * throws, because a template the local runner cannot resolve must not start with a guessed value.
 */

export interface ResourceValues {
  readonly type: string;
  /** What `Ref` returns for this resource type (a name, an ARN, a URL or an id). */
  readonly ref: string;
  /** What `Fn::GetAtt` returns, by attribute name. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface PseudoParameters {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  readonly stackName: string;
  readonly stackId: string;
  readonly urlSuffix: string;
}

export interface ResolveContext {
  /** Physical values by logical id. */
  readonly resources: Readonly<Record<string, ResourceValues>>;
  /** Parameter values (lists for list-typed parameters). A parameter missing here throws when referenced. */
  readonly parameters: Readonly<Record<string, string | string[]>>;
  readonly pseudo: PseudoParameters;
  /** The template's `Conditions`, evaluated on demand. */
  readonly conditions?: Readonly<Record<string, unknown>>;
  readonly mappings?: CfnTemplate['Mappings'];
  /** Logical ids the template defines but CloudFormation would not create (false Condition). */
  readonly absent?: ReadonlySet<string>;
}

export class IntrinsicError extends Error {
  override readonly name = 'IntrinsicError';
}

/** AWS::NoValue: removes the property (or list element) that holds it. */
const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

const show = (v: unknown): string => {
  const text = JSON.stringify(v);
  return text && text.length > 200 ? `${text.slice(0, 200)}…` : String(text);
};

/** The pseudo parameters that name one of the stack's values. */
const PSEUDO: Readonly<Record<string, keyof PseudoParameters>> = {
  'AWS::AccountId': 'accountId',
  'AWS::Region': 'region',
  'AWS::Partition': 'partition',
  'AWS::StackName': 'stackName',
  'AWS::StackId': 'stackId',
  'AWS::URLSuffix': 'urlSuffix',
};

function pseudoValue(name: string, ctx: ResolveContext): unknown {
  const key = Object.hasOwn(PSEUDO, name) ? PSEUDO[name] : undefined;
  if (key) return ctx.pseudo[key];
  if (name === 'AWS::NotificationARNs') return [];
  if (name === 'AWS::NoValue') return NO_VALUE;
  throw new IntrinsicError(`unknown pseudo parameter ${name}`);
}

function refValue(name: string, ctx: ResolveContext): unknown {
  if (name.startsWith('AWS::')) return pseudoValue(name, ctx);
  if (Object.hasOwn(ctx.parameters, name)) return ctx.parameters[name];
  const resource = ctx.resources[name];
  if (resource) return resource.ref;
  if (ctx.absent?.has(name))
    throw new IntrinsicError(`Ref ${name}: that resource's Condition is false, so it does not exist`);
  throw new IntrinsicError(`Ref ${name}: no such parameter or resource (or no value for it)`);
}

function getAttValue(id: string, attribute: string, ctx: ResolveContext): string {
  const resource = ctx.resources[id];
  if (!resource) {
    if (ctx.absent?.has(id))
      throw new IntrinsicError(`Fn::GetAtt ${id}.${attribute}: that resource's Condition is false`);
    throw new IntrinsicError(`Fn::GetAtt ${id}.${attribute}: no such resource`);
  }
  const value = resource.attributes[attribute];
  if (value === undefined) {
    throw new IntrinsicError(
      `Fn::GetAtt ${id}.${attribute}: the local runner knows no attribute ${attribute} of ${resource.type} (known: ${Object.keys(resource.attributes).join(', ') || 'none'})`,
    );
  }
  return value;
}

function asString(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new IntrinsicError(`${where}: expected a string, got ${show(value)}`);
}

function asArray(value: unknown, where: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new IntrinsicError(`${where}: expected a list, got ${show(value)}`);
}

/** `${Name}`, `${Resource.Attribute}` and `${!Literal}` in a Fn::Sub string. */
function substitute(template: string, variables: Record<string, unknown>, ctx: ResolveContext): string {
  return template.replace(/\$\{([^}]*)\}/g, (_match, inner: string) => {
    if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
    const name = inner.trim();
    if (Object.hasOwn(variables, name)) return asString(variables[name], `Fn::Sub \${${name}}`);
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::'))
      return getAttValue(name.slice(0, dot), name.slice(dot + 1), ctx);
    return asString(refValue(name, ctx), `Fn::Sub \${${name}}`);
  });
}

function evaluateCondition(name: string, ctx: ResolveContext, seen: string[]): boolean {
  const expression = ctx.conditions?.[name];
  if (expression === undefined) throw new IntrinsicError(`Condition ${name}: no such condition`);
  if (seen.includes(name)) throw new IntrinsicError(`Condition ${name} refers to itself`);
  const value = resolveValue(expression, ctx, [...seen, name]);
  if (typeof value !== 'boolean')
    throw new IntrinsicError(`Condition ${name} is not a boolean: ${show(value)}`);
  return value;
}

function conditionArg(value: unknown, ctx: ResolveContext, seen: string[], where: string): boolean {
  const resolved = resolveValue(value, ctx, seen);
  if (typeof resolved === 'boolean') return resolved;
  if (resolved === 'true' || resolved === 'false') return resolved === 'true';
  throw new IntrinsicError(`${where}: expected a condition, got ${show(resolved)}`);
}

function applyFunction(name: string, args: unknown, ctx: ResolveContext, seen: string[]): unknown {
  const r = (v: unknown) => resolveValue(v, ctx, seen);
  switch (name) {
    case 'Ref':
      return refValue(asString(args, 'Ref'), ctx);
    case 'Fn::GetAtt': {
      const [id, attribute] = Array.isArray(args)
        ? [asString(args[0], 'Fn::GetAtt'), asString(r(args[1]), 'Fn::GetAtt')]
        : (() => {
            const text = asString(args, 'Fn::GetAtt');
            const dot = text.indexOf('.');
            if (dot < 0) throw new IntrinsicError(`Fn::GetAtt ${text}: expected Resource.Attribute`);
            return [text.slice(0, dot), text.slice(dot + 1)];
          })();
      return getAttValue(id, attribute, ctx);
    }
    case 'Fn::Join': {
      const [delimiter, list] = asArray(args, 'Fn::Join');
      const values = asArray(r(list), 'Fn::Join');
      return values
        .filter((v) => v !== NO_VALUE)
        .map((v) => asString(v, 'Fn::Join'))
        .join(asString(delimiter, 'Fn::Join delimiter'));
    }
    case 'Fn::Sub': {
      if (typeof args === 'string') return substitute(args, {}, ctx);
      const [text, variables] = asArray(args, 'Fn::Sub');
      const resolvedVariables = r(variables ?? {});
      if (!isObject(resolvedVariables)) throw new IntrinsicError('Fn::Sub: variables must be an object');
      return substitute(asString(text, 'Fn::Sub'), resolvedVariables, ctx);
    }
    case 'Fn::Select': {
      const [index, list] = asArray(args, 'Fn::Select');
      const i = Number(r(index));
      const values = asArray(r(list), 'Fn::Select');
      if (!Number.isInteger(i) || i < 0 || i >= values.length) {
        throw new IntrinsicError(`Fn::Select: index ${show(index)} is outside a list of ${values.length}`);
      }
      return values[i];
    }
    case 'Fn::Split': {
      const [delimiter, text] = asArray(args, 'Fn::Split');
      return asString(r(text), 'Fn::Split').split(asString(delimiter, 'Fn::Split delimiter'));
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = asArray(args, 'Fn::If');
      return evaluateCondition(asString(condition, 'Fn::If'), ctx, seen) ? r(whenTrue) : r(whenFalse);
    }
    case 'Fn::Equals': {
      const [a, b] = asArray(args, 'Fn::Equals');
      return JSON.stringify(r(a)) === JSON.stringify(r(b));
    }
    case 'Fn::And':
      return asArray(args, 'Fn::And').every((c) => conditionArg(c, ctx, seen, 'Fn::And'));
    case 'Fn::Or':
      return asArray(args, 'Fn::Or').some((c) => conditionArg(c, ctx, seen, 'Fn::Or'));
    case 'Fn::Not': {
      const [c] = asArray(args, 'Fn::Not');
      return !conditionArg(c, ctx, seen, 'Fn::Not');
    }
    case 'Condition':
      return evaluateCondition(asString(args, 'Condition'), ctx, seen);
    case 'Fn::FindInMap': {
      const [map, top, second] = asArray(args, 'Fn::FindInMap').map((v) => asString(r(v), 'Fn::FindInMap'));
      const value = ctx.mappings?.[map!]?.[top!]?.[second!];
      if (value === undefined) throw new IntrinsicError(`Fn::FindInMap: no ${map}.${top}.${second}`);
      return value;
    }
    case 'Fn::Base64':
      return Buffer.from(asString(r(args), 'Fn::Base64')).toString('base64');
    case 'Fn::ToJsonString':
      return JSON.stringify(r(args));
    case 'Fn::Length':
      return asArray(r(args), 'Fn::Length').length;
    default:
      throw new IntrinsicError(`${name} is not supported by the local runner (value ${show(args)})`);
  }
}

function resolveValue(value: unknown, ctx: ResolveContext, seen: string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, ctx, seen)).filter((v) => v !== NO_VALUE);
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || keys[0]!.startsWith('Fn::'))) {
    return applyFunction(keys[0]!, value[keys[0]!], ctx, seen);
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const resolved = resolveValue(value[key], ctx, seen);
    if (resolved !== NO_VALUE) out[key] = resolved;
  }
  return out;
}

/** Resolves every intrinsic inside `value`; throws IntrinsicError on anything it cannot resolve exactly. */
export function resolve(value: unknown, ctx: ResolveContext): unknown {
  const resolved = resolveValue(value, ctx, []);
  if (resolved === NO_VALUE) throw new IntrinsicError('AWS::NoValue where a value is required');
  return resolved;
}

/** Resolves a value that must end up a string (an environment variable, a name, an ARN). */
export function resolveString(value: unknown, ctx: ResolveContext, where = 'value'): string {
  const resolved = resolve(value, ctx);
  if (typeof resolved === 'string') return resolved;
  if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
  throw new IntrinsicError(`${where} resolves to ${show(resolved)}, not a string`);
}

/** Whether a template Condition holds. */
export function conditionHolds(name: string, ctx: ResolveContext): boolean {
  return evaluateCondition(name, ctx, []);
}

// ---------------------------------------------------------------------------------------------
// Physical names and ARNs
/** A function's `Environment.Variables` with every value resolved to a string. */
export function resolveEnvironment(
  fn: { logicalId: string; environment: Record<string, unknown> },
  ctx: ResolveContext,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fn.environment)) {
    out[key] = resolveString(value, ctx, `${fn.logicalId} environment variable ${key}`);
  }
  return out;
}

/**
 * A state machine's definition as Step Functions receives it: `DefinitionString` resolved, then
 * each `${key}` of `DefinitionSubstitutions` replaced. A placeholder left without a substitution
 * throws (it would reach the interpreter as a literal and fail later, far from the cause).
 */
export function resolveDefinition(
  machine: { logicalId: string; definitionString: unknown; definitionSubstitutions: Record<string, unknown> },
  ctx: ResolveContext,
): string {
  const text = resolveString(machine.definitionString, ctx, `${machine.logicalId} DefinitionString`);
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(machine.definitionSubstitutions)) {
    values[key] = resolveString(value, ctx, `${machine.logicalId} substitution ${key}`);
  }
  return text.replace(/\$\{([^}]*)\}/g, (match, key: string) => {
    const value = values[key];
    if (value === undefined) {
      throw new IntrinsicError(
        `${machine.logicalId}: the definition uses ${match} but DefinitionSubstitutions has no ${key}`,
      );
    }
    return value;
  });
}
