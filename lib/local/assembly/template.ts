import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads a synthesized CloudFormation template (and its asset folders) into the model the local
 * runner starts from. Values stay raw (unresolved intrinsics) here; intrinsics.ts resolves them
 * against the physical names the local assembly gives each resource (physical-resources.ts).
 *
 * Kept in one file (~530 lines): it is the model's types and one short reader per resource kind,
 * and each type is read next to the reader that fills it (its fields are exactly what that reader
 * takes from the template). Split apart, every change to the model would touch two files.
 */

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  Condition?: string;
  DependsOn?: string | string[];
}

export interface CfnParameter {
  Type: string;
  Default?: unknown;
  Description?: string;
  AllowedValues?: unknown[];
  NoEcho?: boolean | string;
}

/** A CloudFormation template, as far as the local runner reads it. */
export interface CfnTemplate {
  Description?: string;
  Parameters?: Record<string, CfnParameter>;
  Conditions?: Record<string, unknown>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string; Export?: unknown }>;
  Rules?: Record<string, unknown>;
}

export interface FunctionModel {
  readonly logicalId: string;
  /** The `FunctionName` property (often absent: CloudFormation then generates one; see intrinsics). */
  readonly functionNameProperty?: unknown;
  /** `index.handler`: module `index` in the asset folder, export `handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly architectures: string[];
  /** Lambda's default is 3 seconds. */
  readonly timeoutSeconds: number;
  /** Lambda's default is 128 MB. */
  readonly memorySize: number;
  readonly roleLogicalId: string;
  /** `Environment.Variables`, unresolved. */
  readonly environment: Record<string, unknown>;
  /** The asset folder holding the bundle (absolute). */
  readonly assetDir: string;
  /** `LoggingConfig.LogGroup` when it refers to a log group of this template. */
  readonly logGroupLogicalId?: string;
  readonly condition?: string;
}

export interface InlinePolicy {
  /** The AWS::IAM::Policy logical id, or the role's for a `Policies` entry. */
  readonly source: string;
  readonly policyName: unknown;
  /** Unresolved. */
  readonly policyDocument: unknown;
}

export interface RoleModel {
  readonly logicalId: string;
  readonly roleNameProperty?: unknown;
  readonly path: string;
  readonly assumeRolePolicyDocument: unknown;
  /** Inline `Policies` and every AWS::IAM::Policy / AWS::IAM::ManagedPolicy whose `Roles` lists this role. */
  readonly policies: InlinePolicy[];
  /** `ManagedPolicyArns`, unresolved (may Ref an AWS::IAM::ManagedPolicy of this template). */
  readonly managedPolicyArns: unknown[];
  readonly permissionsBoundary?: unknown;
}

export interface ApiRoute {
  readonly method: string;
  /** `/v1/requests/{id}`: API Gateway path parts, `{name}` and `{proxy+}` kept as written. */
  readonly path: string;
  readonly functionLogicalId: string;
  /** Headers API Gateway requires before invoking (only when a validator checks request parameters). */
  readonly requiredHeaders: string[];
  /** Query strings likewise. */
  readonly requiredQueryStrings: string[];
  readonly methodLogicalId: string;
  readonly authorizationType: string;
}

export interface GatewayResponseModel {
  readonly logicalId: string;
  readonly responseType: string;
  readonly statusCode?: string;
  readonly responseParameters: Record<string, unknown>;
  readonly responseTemplates: Record<string, unknown>;
}

export interface StateMachineModel {
  readonly logicalId: string;
  readonly nameProperty?: unknown;
  readonly roleLogicalId: string;
  /** Unresolved (a string, or `Fn::Join`). */
  readonly definitionString: unknown;
  /** Unresolved values. */
  readonly definitionSubstitutions: Record<string, unknown>;
  readonly type: string;
}

export type RuleState = 'ENABLED' | 'DISABLED' | 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

export interface EventRuleTarget {
  readonly id: string;
  /** Unresolved. */
  readonly arn: unknown;
  readonly deadLetterArn?: unknown;
  readonly retryPolicy?: { maximumEventAgeInSeconds?: number; maximumRetryAttempts?: number };
  readonly input?: unknown;
  readonly inputPath?: unknown;
  readonly inputTransformer?: unknown;
}

export interface EventRuleModel {
  readonly logicalId: string;
  readonly nameProperty?: unknown;
  readonly eventBusName?: unknown;
  /** Parsed when the template holds it as a JSON string. */
  readonly eventPattern?: unknown;
  readonly scheduleExpression?: unknown;
  readonly state: RuleState;
  readonly targets: EventRuleTarget[];
}

export interface SecretModel {
  readonly logicalId: string;
  readonly nameProperty?: unknown;
  readonly generateSecretString?: Record<string, unknown>;
  readonly secretString?: unknown;
  readonly kmsKeyId?: unknown;
}

export interface ParameterModel {
  readonly name: string;
  readonly type: string;
  readonly default?: unknown;
  readonly description?: string;
  readonly allowedValues?: unknown[];
  readonly noEcho: boolean;
}

export interface AssemblyModel {
  readonly dir: string;
  readonly stackName: string;
  readonly template: CfnTemplate;
  readonly functions: FunctionModel[];
  readonly roles: RoleModel[];
  readonly routes: ApiRoute[];
  readonly gatewayResponses: GatewayResponseModel[];
  readonly stateMachines: StateMachineModel[];
  readonly eventRules: EventRuleModel[];
  readonly secrets: SecretModel[];
  readonly parameters: Record<string, ParameterModel>;
}

export class TemplateModelError extends Error {
  override readonly name = 'TemplateModelError';
}

/** A JSON object (not an array, not null), as templates and event patterns are made of. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** The logical id of `{ Ref: id }`, else undefined. */
export function refOf(value: unknown): string | undefined {
  return isObject(value) && typeof value.Ref === 'string' && Object.keys(value).length === 1
    ? value.Ref
    : undefined;
}

/** The `[logicalId, attribute]` of `{ 'Fn::GetAtt': … }`, else undefined. */
function getAttOf(value: unknown): [string, string] | undefined {
  if (!isObject(value) || Object.keys(value).length !== 1) return undefined;
  const att = value['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string' && typeof att[1] === 'string') return [att[0], att[1]];
  if (typeof att === 'string' && att.includes('.')) {
    const dot = att.indexOf('.');
    return [att.slice(0, dot), att.slice(dot + 1)];
  }
  return undefined;
}

/** Every `Fn::GetAtt` target anywhere inside a value. */
function getAttsIn(value: unknown, out: Array<[string, string]> = []): Array<[string, string]> {
  const att = getAttOf(value);
  if (att) out.push(att);
  else if (Array.isArray(value)) for (const v of value) getAttsIn(v, out);
  else if (isObject(value)) for (const v of Object.values(value)) getAttsIn(v, out);
  return out;
}

function num(value: unknown, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new TemplateModelError(`${what} is ${JSON.stringify(value)}, not a number`);
  }
  return n;
}

interface AssetsManifest {
  files?: Record<string, { source?: { path?: string; packaging?: string } }>;
}

function assetDirOf(dir: string, stackName: string, id: string, resource: CfnResource): string {
  const metadataPath = resource.Metadata?.['aws:asset:path'];
  let relative: string | undefined = typeof metadataPath === 'string' ? metadataPath : undefined;
  if (!relative) {
    // Without asset metadata (cdk synth --no-asset-metadata), the S3 key names the asset hash.
    const code = resource.Properties?.Code;
    const s3Key = isObject(code) ? code.S3Key : undefined;
    const assetsFile = join(dir, `${stackName}.assets.json`);
    if (typeof s3Key === 'string' && existsSync(assetsFile)) {
      const assets = JSON.parse(readFileSync(assetsFile, 'utf8')) as AssetsManifest;
      relative = assets.files?.[s3Key.replace(/\.zip$/, '')]?.source?.path;
    }
  }
  if (!relative) {
    throw new TemplateModelError(
      `function ${id}: no asset folder (neither aws:asset:path metadata nor a Code.S3Key listed in ${stackName}.assets.json); inline or image code cannot run locally`,
    );
  }
  const assetDir = join(dir, relative);
  if (!existsSync(assetDir))
    throw new TemplateModelError(`function ${id}: asset folder ${assetDir} is missing`);
  return assetDir;
}

function functionsOf(dir: string, stackName: string, template: CfnTemplate): FunctionModel[] {
  const out: FunctionModel[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const p = resource.Properties ?? {};
    const role = getAttOf(p.Role);
    if (role?.[1] !== 'Arn') {
      throw new TemplateModelError(
        `function ${id}: Role is ${JSON.stringify(p.Role)}; the local runner needs a role of this template (Fn::GetAtt <Role>.Arn) to know its permissions`,
      );
    }
    if (p.PackageType === 'Image')
      throw new TemplateModelError(`function ${id}: image functions cannot run locally`);
    const env = isObject(p.Environment) && isObject(p.Environment.Variables) ? p.Environment.Variables : {};
    const logGroup = isObject(p.LoggingConfig) ? refOf(p.LoggingConfig.LogGroup) : undefined;
    out.push({
      logicalId: id,
      ...(p.FunctionName !== undefined ? { functionNameProperty: p.FunctionName } : {}),
      handler: typeof p.Handler === 'string' ? p.Handler : 'index.handler',
      runtime: String(p.Runtime ?? ''),
      architectures: asList(p.Architectures as string | string[] | undefined).map(String),
      timeoutSeconds: num(p.Timeout, 3, `function ${id}: Timeout`),
      memorySize: num(p.MemorySize, 128, `function ${id}: MemorySize`),
      roleLogicalId: role[0],
      environment: { ...env },
      assetDir: assetDirOf(dir, stackName, id, resource),
      ...(logGroup ? { logGroupLogicalId: logGroup } : {}),
      ...(resource.Condition ? { condition: resource.Condition } : {}),
    });
  }
  return out;
}

function rolesOf(template: CfnTemplate): RoleModel[] {
  const attached = new Map<string, InlinePolicy[]>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const p = resource.Properties ?? {};
    for (const role of asList(p.Roles as unknown[] | undefined)) {
      const roleId = refOf(role);
      // A role named literally (not of this template) is not ours to model.
      if (!roleId) continue;
      const list = attached.get(roleId) ?? [];
      list.push({
        source: id,
        policyName: p.PolicyName ?? p.ManagedPolicyName ?? id,
        policyDocument: p.PolicyDocument,
      });
      attached.set(roleId, list);
    }
  }
  const out: RoleModel[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const p = resource.Properties ?? {};
    const inline = asList(p.Policies as Array<Record<string, unknown>> | undefined).map((policy) => ({
      source: id,
      policyName: policy.PolicyName,
      policyDocument: policy.PolicyDocument,
    }));
    out.push({
      logicalId: id,
      ...(p.RoleName !== undefined ? { roleNameProperty: p.RoleName } : {}),
      path: typeof p.Path === 'string' ? p.Path : '/',
      assumeRolePolicyDocument: p.AssumeRolePolicyDocument,
      policies: [...inline, ...(attached.get(id) ?? [])],
      managedPolicyArns: asList(p.ManagedPolicyArns as unknown[] | undefined),
      ...(p.PermissionsBoundary !== undefined ? { permissionsBoundary: p.PermissionsBoundary } : {}),
    });
  }
  return out;
}

function routesOf(template: CfnTemplate): ApiRoute[] {
  const resources = template.Resources;
  const paths = new Map<string, string>();
  const pathOf = (resourceId: unknown, seen: string[] = []): string => {
    const att = getAttOf(resourceId);
    if (att && att[1] === 'RootResourceId') return '';
    const id = refOf(resourceId);
    const resource = id ? resources[id] : undefined;
    if (!id || resource?.Type !== 'AWS::ApiGateway::Resource') {
      throw new TemplateModelError(
        `API resource ${JSON.stringify(resourceId)} is not an AWS::ApiGateway::Resource of this template`,
      );
    }
    const known = paths.get(id);
    if (known !== undefined) return known;
    if (seen.includes(id)) throw new TemplateModelError(`API resource ${id} is its own ancestor`);
    const p = resource.Properties ?? {};
    const path = `${pathOf(p.ParentId, [...seen, id])}/${String(p.PathPart)}`;
    paths.set(id, path);
    return path;
  };
  const validatesParameters = (validator: unknown): boolean => {
    const id = refOf(validator);
    const p = id ? resources[id]?.Properties : undefined;
    return p?.ValidateRequestParameters === true || p?.ValidateRequestParameters === 'true';
  };
  const routes: ApiRoute[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::ApiGateway::Method') continue;
    const p = resource.Properties ?? {};
    const method = String(p.HttpMethod);
    const integration = isObject(p.Integration) ? p.Integration : {};
    if (integration.Type !== 'AWS_PROXY') {
      throw new TemplateModelError(
        `API method ${id} (${method}) has integration type ${JSON.stringify(integration.Type)}; the local front door serves Lambda proxy integrations only`,
      );
    }
    const functions = getAttsIn(integration.Uri).filter(
      ([target, attr]) => attr === 'Arn' && resources[target]?.Type === 'AWS::Lambda::Function',
    );
    if (functions.length !== 1) {
      throw new TemplateModelError(
        `API method ${id}: its integration URI names no single function of this template`,
      );
    }
    const required = (prefix: string) =>
      validatesParameters(p.RequestValidatorId)
        ? Object.entries(isObject(p.RequestParameters) ? p.RequestParameters : {})
            .filter(([key, value]) => key.startsWith(prefix) && (value === true || value === 'true'))
            .map(([key]) => key.slice(prefix.length))
        : [];
    routes.push({
      method,
      path: pathOf(p.ResourceId) || '/',
      functionLogicalId: functions[0]![0],
      requiredHeaders: required('method.request.header.'),
      requiredQueryStrings: required('method.request.querystring.'),
      methodLogicalId: id,
      authorizationType: String(p.AuthorizationType ?? 'NONE'),
    });
  }
  return routes;
}

function gatewayResponsesOf(template: CfnTemplate): GatewayResponseModel[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::ApiGateway::GatewayResponse')
    .map(([id, r]) => {
      const p = r.Properties ?? {};
      return {
        logicalId: id,
        responseType: String(p.ResponseType),
        ...(p.StatusCode !== undefined ? { statusCode: String(p.StatusCode) } : {}),
        responseParameters: isObject(p.ResponseParameters) ? p.ResponseParameters : {},
        responseTemplates: isObject(p.ResponseTemplates) ? p.ResponseTemplates : {},
      };
    });
}

function stateMachinesOf(template: CfnTemplate): StateMachineModel[] {
  const out: StateMachineModel[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const p = resource.Properties ?? {};
    const role = getAttOf(p.RoleArn);
    if (role?.[1] !== 'Arn') {
      throw new TemplateModelError(
        `state machine ${id}: RoleArn is not Fn::GetAtt of a role of this template`,
      );
    }
    if (p.DefinitionString === undefined) {
      throw new TemplateModelError(
        `state machine ${id}: no DefinitionString (Definition or DefinitionS3Location are not read by the local runner)`,
      );
    }
    out.push({
      logicalId: id,
      ...(p.StateMachineName !== undefined ? { nameProperty: p.StateMachineName } : {}),
      roleLogicalId: role[0],
      definitionString: p.DefinitionString,
      definitionSubstitutions: isObject(p.DefinitionSubstitutions) ? { ...p.DefinitionSubstitutions } : {},
      type: String(p.StateMachineType ?? 'STANDARD'),
    });
  }
  return out;
}

const RULE_STATES: readonly RuleState[] = [
  'ENABLED',
  'DISABLED',
  'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
];

function eventRulesOf(template: CfnTemplate): EventRuleModel[] {
  const out: EventRuleModel[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Events::Rule') continue;
    const p = resource.Properties ?? {};
    // CloudFormation's default State is ENABLED.
    const state = (p.State ?? 'ENABLED') as RuleState;
    if (!RULE_STATES.includes(state))
      throw new TemplateModelError(`event rule ${id}: unknown State ${JSON.stringify(p.State)}`);
    let pattern = p.EventPattern;
    if (typeof pattern === 'string') {
      try {
        pattern = JSON.parse(pattern);
      } catch {
        throw new TemplateModelError(`event rule ${id}: EventPattern is not valid JSON`);
      }
    }
    const targets = asList(p.Targets as Array<Record<string, unknown>> | undefined).map((t) => {
      const retry = isObject(t.RetryPolicy) ? t.RetryPolicy : undefined;
      return {
        id: String(t.Id),
        arn: t.Arn,
        ...(isObject(t.DeadLetterConfig) && t.DeadLetterConfig.Arn !== undefined
          ? { deadLetterArn: t.DeadLetterConfig.Arn }
          : {}),
        ...(retry
          ? {
              retryPolicy: {
                ...(retry.MaximumEventAgeInSeconds !== undefined
                  ? { maximumEventAgeInSeconds: Number(retry.MaximumEventAgeInSeconds) }
                  : {}),
                ...(retry.MaximumRetryAttempts !== undefined
                  ? { maximumRetryAttempts: Number(retry.MaximumRetryAttempts) }
                  : {}),
              },
            }
          : {}),
        ...(t.Input !== undefined ? { input: t.Input } : {}),
        ...(t.InputPath !== undefined ? { inputPath: t.InputPath } : {}),
        ...(t.InputTransformer !== undefined ? { inputTransformer: t.InputTransformer } : {}),
      };
    });
    out.push({
      logicalId: id,
      ...(p.Name !== undefined ? { nameProperty: p.Name } : {}),
      ...(p.EventBusName !== undefined ? { eventBusName: p.EventBusName } : {}),
      ...(pattern !== undefined ? { eventPattern: pattern } : {}),
      ...(p.ScheduleExpression !== undefined ? { scheduleExpression: p.ScheduleExpression } : {}),
      state,
      targets,
    });
  }
  return out;
}

function secretsOf(template: CfnTemplate): SecretModel[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret')
    .map(([id, r]) => {
      const p = r.Properties ?? {};
      return {
        logicalId: id,
        ...(p.Name !== undefined ? { nameProperty: p.Name } : {}),
        ...(isObject(p.GenerateSecretString) ? { generateSecretString: { ...p.GenerateSecretString } } : {}),
        ...(p.SecretString !== undefined ? { secretString: p.SecretString } : {}),
        ...(p.KmsKeyId !== undefined ? { kmsKeyId: p.KmsKeyId } : {}),
      };
    });
}

function parametersOf(template: CfnTemplate): Record<string, ParameterModel> {
  const out: Record<string, ParameterModel> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    out[name] = {
      name,
      type: p.Type,
      ...(p.Default !== undefined ? { default: p.Default } : {}),
      ...(p.Description !== undefined ? { description: p.Description } : {}),
      ...(p.AllowedValues !== undefined ? { allowedValues: p.AllowedValues } : {}),
      noEcho: p.NoEcho === true || p.NoEcho === 'true',
    };
  }
  return out;
}

/** Reads a template of a synthesized assembly (`dir` is the cloud assembly folder). */
export function readAssemblyModel(input: {
  dir: string;
  stackName: string;
  template: CfnTemplate;
}): AssemblyModel {
  const { dir, stackName, template } = input;
  return {
    dir,
    stackName,
    template,
    functions: functionsOf(dir, stackName, template),
    roles: rolesOf(template),
    routes: routesOf(template),
    gatewayResponses: gatewayResponsesOf(template),
    stateMachines: stateMachinesOf(template),
    eventRules: eventRulesOf(template),
    secrets: secretsOf(template),
    parameters: parametersOf(template),
  };
}
