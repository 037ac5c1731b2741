import { createHash } from 'node:crypto';
import type { AssemblyModel, CfnTemplate } from './template.js';

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

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const show = (v: unknown): string => {
  const text = JSON.stringify(v);
  return text && text.length > 200 ? `${text.slice(0, 200)}…` : String(text);
};

function pseudoValue(name: string, ctx: ResolveContext): unknown {
  switch (name) {
    case 'AWS::AccountId':
      return ctx.pseudo.accountId;
    case 'AWS::Region':
      return ctx.pseudo.region;
    case 'AWS::Partition':
      return ctx.pseudo.partition;
    case 'AWS::StackName':
      return ctx.pseudo.stackName;
    case 'AWS::StackId':
      return ctx.pseudo.stackId;
    case 'AWS::URLSuffix':
      return ctx.pseudo.urlSuffix;
    case 'AWS::NotificationARNs':
      return [];
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      throw new IntrinsicError(`unknown pseudo parameter ${name}`);
  }
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
// ---------------------------------------------------------------------------------------------

export interface PhysicalOptions {
  readonly account: string;
  readonly region: string;
  /** @default the model's stack name */
  readonly stackName?: string;
  /** Parameter values, as `cdk deploy --parameters Name=value` would pass them; override defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
}

export function partitionOf(region: string): { partition: string; urlSuffix: string } {
  if (region.startsWith('cn-')) return { partition: 'aws-cn', urlSuffix: 'amazonaws.com.cn' };
  if (region.startsWith('us-gov-')) return { partition: 'aws-us-gov', urlSuffix: 'amazonaws.com' };
  return { partition: 'aws', urlSuffix: 'amazonaws.com' };
}

const digest = (...parts: string[]): Buffer => createHash('sha256').update(parts.join('\0')).digest();

/** `length` characters from `alphabet`, derived from the inputs (the same inputs, the same id). */
function stableId(length: number, alphabet: string, ...parts: string[]): string {
  const bytes = digest(...parts);
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[bytes[i % bytes.length]! % alphabet.length];
  return out;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const MIXED = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * The name CloudFormation would generate (`<stack>-<logicalId>-<random>`), made deterministic:
 * `<stack>-<logicalId>`, shortened with a stable hash suffix where the service's limit requires.
 */
export function generatedName(stackName: string, logicalId: string, max: number, lowercase = false): string {
  let name = `${stackName}-${logicalId}`;
  if (lowercase) name = name.toLowerCase();
  if (name.length <= max) return name;
  const suffix = stableId(8, LOWER, stackName, logicalId);
  return `${name.slice(0, max - 9)}-${suffix}`;
}

/** Types whose Ref is referenced rarely and whose value nothing local depends on: a stable id. */
const OPAQUE_TYPES = new Set([
  'AWS::Lambda::Permission',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::RequestValidator',
  'AWS::ApiGateway::GatewayResponse',
  'AWS::ApiGateway::Account',
  'AWS::SQS::QueuePolicy',
  'AWS::Events::EventBusPolicy',
  'AWS::Lambda::EventSourceMapping',
  'AWS::CDK::Metadata',
  'AWS::Logs::MetricFilter',
]);

/**
 * The physical values of every resource in the model's template, as CloudFormation would give them
 * on `cdk deploy` into `account`/`region` (names deterministic, ARNs in AWS's shapes). Resources of
 * a type not listed here are absent: a reference to one throws when resolved.
 */
export function physicalResources(model: AssemblyModel, options: PhysicalOptions): ResolveContext {
  const template = model.template;
  const stackName = options.stackName ?? model.stackName;
  const { account, region } = options;
  const { partition, urlSuffix } = partitionOf(region);
  const uuid = (() => {
    const h = digest('stack', account, region, stackName).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  })();
  const pseudo: PseudoParameters = {
    accountId: account,
    region,
    partition,
    stackName,
    stackId: `arn:${partition}:cloudformation:${region}:${account}:stack/${stackName}/${uuid}`,
    urlSuffix,
  };

  const parameters: Record<string, string | string[]> = {};
  for (const [name, p] of Object.entries(model.parameters)) {
    const given = options.parameters?.[name];
    const raw = given ?? (p.default !== undefined ? String(p.default) : undefined);
    // SSM-typed parameters (the CDK bootstrap version) are read from SSM by CloudFormation; unless
    // given explicitly they have no local value, and referencing one throws.
    if (raw === undefined || (given === undefined && p.type.startsWith('AWS::SSM::Parameter::Value')))
      continue;
    if (p.allowedValues && !p.allowedValues.map(String).includes(raw)) {
      throw new IntrinsicError(`parameter ${name}: ${JSON.stringify(raw)} is not one of its AllowedValues`);
    }
    parameters[name] = p.type.startsWith('List<') || p.type === 'CommaDelimitedList' ? raw.split(',') : raw;
  }
  for (const name of Object.keys(options.parameters ?? {})) {
    if (!model.parameters[name])
      throw new IntrinsicError(`parameter ${name} is not declared by the template`);
  }

  const resources: Record<string, ResourceValues> = {};
  const absent = new Set<string>();
  const ctx: ResolveContext = {
    resources,
    parameters,
    pseudo,
    conditions: template.Conditions ?? {},
    mappings: template.Mappings ?? {},
    absent,
  };
  const arn = (service: string, resource: string, withRegion = true, withAccount = true) =>
    `arn:${partition}:${service}:${withRegion ? region : ''}:${withAccount ? account : ''}:${resource}`;

  // Names only reference parameters and pseudo parameters in practice; they are resolved with the
  // resources known so far, in template order, and a name that needs a later resource throws.
  const nameOf = (id: string, property: unknown, max: number, lowercase = false): string =>
    property === undefined
      ? generatedName(stackName, id, max, lowercase)
      : resolveString(property, ctx, `${id} name`);

  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Condition && !conditionHolds(resource.Condition, ctx)) {
      absent.add(id);
      continue;
    }
    const p = resource.Properties ?? {};
    const type = resource.Type;
    const set = (ref: string, attributes: Record<string, string> = {}) => {
      resources[id] = { type, ref, attributes };
    };
    switch (type) {
      case 'AWS::Lambda::Function': {
        const name = nameOf(id, p.FunctionName, 64);
        set(name, { Arn: arn('lambda', `function:${name}`) });
        break;
      }
      case 'AWS::Lambda::Version':
        set(`${getOrThrow(resources, p.FunctionName, id)}:1`, { Version: '1' });
        break;
      case 'AWS::IAM::Role': {
        const name = nameOf(id, p.RoleName, 64);
        const path = typeof p.Path === 'string' ? p.Path : '/';
        set(name, {
          Arn: arn('iam', `role${path}${name}`, false),
          RoleId: `AROA${stableId(17, UPPER, account, 'role', name)}`,
        });
        break;
      }
      case 'AWS::IAM::Policy':
        set(
          p.PolicyName !== undefined ? resolveString(p.PolicyName, ctx) : generatedName(stackName, id, 128),
        );
        break;
      case 'AWS::IAM::ManagedPolicy': {
        const name = nameOf(id, p.ManagedPolicyName, 128);
        const path = typeof p.Path === 'string' ? p.Path : '/';
        const policyArn = arn('iam', `policy${path}${name}`, false);
        set(policyArn, { PolicyArn: policyArn });
        break;
      }
      case 'AWS::IAM::OIDCProvider': {
        const url = resolveString(p.Url, ctx, `${id} Url`).replace(/^https:\/\//, '');
        const providerArn = arn('iam', `oidc-provider/${url}`, false);
        set(providerArn, { Arn: providerArn });
        break;
      }
      case 'AWS::DynamoDB::Table': {
        const name = nameOf(id, p.TableName, 255);
        const tableArn = arn('dynamodb', `table/${name}`);
        set(name, {
          Arn: tableArn,
          ...(p.StreamSpecification ? { StreamArn: `${tableArn}/stream/1970-01-01T00:00:00.000` } : {}),
        });
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = nameOf(id, p.StateMachineName, 80);
        const machineArn = arn('states', `stateMachine:${name}`);
        set(machineArn, { Arn: machineArn, Name: name, StateMachineRevisionId: machineArn });
        break;
      }
      case 'AWS::SecretsManager::Secret': {
        const name = nameOf(id, p.Name, 512);
        // Secrets Manager appends a hyphen and six random characters to the name in the ARN.
        const secretArn = arn(
          'secretsmanager',
          `secret:${name}-${stableId(6, MIXED, account, region, name)}`,
        );
        set(secretArn, { Id: secretArn });
        break;
      }
      case 'AWS::SQS::Queue': {
        const fifo = p.FifoQueue === true || p.FifoQueue === 'true';
        const name =
          p.QueueName !== undefined
            ? resolveString(p.QueueName, ctx)
            : generatedName(stackName, id, fifo ? 75 : 80) + (fifo ? '.fifo' : '');
        const url = `https://sqs.${region}.${urlSuffix}/${account}/${name}`;
        set(url, { Arn: arn('sqs', name), QueueName: name, QueueUrl: url });
        break;
      }
      case 'AWS::SNS::Topic': {
        const name = nameOf(id, p.TopicName, 256);
        const topicArn = arn('sns', name);
        set(topicArn, { TopicArn: topicArn, TopicName: name });
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = nameOf(id, p.LogGroupName, 512);
        set(name, { Arn: arn('logs', `log-group:${name}:*`) });
        break;
      }
      case 'AWS::Events::EventBus': {
        const name = resolveString(p.Name, ctx, `${id} Name`);
        set(name, { Arn: arn('events', `event-bus/${name}`), Name: name });
        break;
      }
      case 'AWS::Events::Rule': {
        const name = nameOf(id, p.Name, 64);
        const bus = p.EventBusName !== undefined ? resolveString(p.EventBusName, ctx) : 'default';
        const busName = bus.startsWith('arn:') ? bus.slice(bus.lastIndexOf('/') + 1) : bus;
        set(name, { Arn: arn('events', busName === 'default' ? `rule/${name}` : `rule/${busName}/${name}`) });
        break;
      }
      case 'AWS::KMS::Key': {
        const h = digest('kms', account, region, stackName, id).toString('hex');
        const keyId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
        set(keyId, { Arn: arn('kms', `key/${keyId}`), KeyId: keyId });
        break;
      }
      case 'AWS::KMS::Alias':
        set(resolveString(p.AliasName, ctx, `${id} AliasName`));
        break;
      case 'AWS::S3::Bucket': {
        const name = nameOf(id, p.BucketName, 63, true);
        set(name, {
          Arn: `arn:${partition}:s3:::${name}`,
          DomainName: `${name}.s3.${urlSuffix}`,
          RegionalDomainName: `${name}.s3.${region}.${urlSuffix}`,
        });
        break;
      }
      case 'AWS::SSM::Parameter': {
        const name = nameOf(id, p.Name, 1011);
        set(name, { Type: String(p.Type ?? 'String'), Value: resolveString(p.Value, ctx, `${id} Value`) });
        break;
      }
      case 'AWS::ApiGateway::RestApi':
        set(stableId(10, LOWER, account, region, stackName, id), {
          RestApiId: stableId(10, LOWER, account, region, stackName, id),
          RootResourceId: stableId(10, LOWER, account, region, stackName, id, 'root'),
        });
        break;
      case 'AWS::ApiGateway::Resource': {
        const resourceId = stableId(6, LOWER, account, region, stackName, id);
        set(resourceId, { ResourceId: resourceId });
        break;
      }
      case 'AWS::ApiGateway::Deployment': {
        const deploymentId = stableId(6, LOWER, account, region, stackName, id);
        set(deploymentId, { DeploymentId: deploymentId });
        break;
      }
      case 'AWS::ApiGateway::Stage':
        set(resolveString(p.StageName, ctx, `${id} StageName`));
        break;
      case 'AWS::CloudWatch::Alarm': {
        const name = nameOf(id, p.AlarmName, 255);
        set(name, { Arn: arn('cloudwatch', `alarm:${name}`) });
        break;
      }
      default:
        if (OPAQUE_TYPES.has(type)) set(generatedName(stackName, id, 128));
      // Any other type stays unknown: references to it throw with the logical id named.
    }
  }
  return ctx;
}

function getOrThrow(resources: Record<string, ResourceValues>, value: unknown, id: string): string {
  const ref = isObject(value) && typeof value.Ref === 'string' ? resources[value.Ref] : undefined;
  if (!ref) throw new IntrinsicError(`${id}: FunctionName must Ref a function defined before it`);
  return ref.attributes.Arn ?? ref.ref;
}

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
