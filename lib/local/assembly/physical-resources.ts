import { createHash } from 'node:crypto';
import {
  conditionHolds,
  IntrinsicError,
  type PseudoParameters,
  type ResolveContext,
  type ResourceValues,
  resolveString,
} from './intrinsics.js';
import { type AssemblyModel, isObject } from './template.js';

/**
 * The physical names, ARNs and ids CloudFormation would give each resource of the template on
 * `cdk deploy`, made deterministic (the same stack, account and region give the same values), as
 * the context intrinsics.ts resolves references against.
 */

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
