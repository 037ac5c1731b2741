import type { CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** A CloudFormation template, as far as these tests read it. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

export interface IamStatement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

/** An identity statement and the roles (logical ids) it is attached to. */
export interface AttachedStatement {
  statement: IamStatement;
  roles: string[];
  policy: string;
}

export const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

export const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

const refOf = (value: unknown): string | undefined =>
  typeof value === 'object' && value !== null && 'Ref' in value
    ? String((value as { Ref: unknown }).Ref)
    : undefined;

/** Every identity-policy statement in the template: AWS::IAM::Policy, managed policies and role inline policies. */
export function identityStatements(template: CfnTemplate): AttachedStatement[] {
  const out: AttachedStatement[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      const roles = asList(props.Roles as unknown[]).map((r) => refOf(r) ?? JSON.stringify(r));
      const document = props.PolicyDocument as { Statement: IamStatement[] };
      for (const statement of document.Statement) out.push({ statement, roles, policy: id });
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const inline of asList(
        props.Policies as Array<{ PolicyDocument: { Statement: IamStatement[] } }>,
      )) {
        for (const statement of inline.PolicyDocument.Statement)
          out.push({ statement, roles: [id], policy: id });
      }
    }
  }
  return out;
}

/** The statements that allow `action` (exactly, no wildcards expected), with their roles. */
export function statementsAllowing(template: CfnTemplate, action: string): AttachedStatement[] {
  return identityStatements(template).filter(
    (s) => s.statement.Effect === 'Allow' && asList(s.statement.Action).includes(action),
  );
}

/** `/v1/requests/{id}` for each AWS::ApiGateway::Resource logical id, rebuilt from PathPart/ParentId. */
export function resourcePaths(template: CfnTemplate): Map<string, string> {
  const resources = Object.entries(template.Resources).filter(
    ([, r]) => r.Type === 'AWS::ApiGateway::Resource',
  );
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const known = paths.get(id);
    if (known) return known;
    const props = template.Resources[id]!.Properties!;
    const parent = refOf(props.ParentId);
    const path = `${parent ? pathOf(parent) : ''}/${String(props.PathPart)}`;
    paths.set(id, path);
    return path;
  };
  for (const [id] of resources) pathOf(id);
  return paths;
}

/** The properties of every resource of `type`, typed as far as a test reads them. */
export function resourcesOf<T>(template: CfnTemplate, type: string): Array<{ id: string; props: T }> {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => ({ id, props: (r.Properties ?? {}) as T }));
}

export function propsOf<T>(template: CfnTemplate, id: string): T {
  const resource = template.Resources[id];
  if (!resource) throw new Error(`no resource ${id} in the template`);
  return (resource.Properties ?? {}) as T;
}

type Ref = { Ref: string };
type GetAtt = { 'Fn::GetAtt': [string, string] };

export interface MethodProps {
  HttpMethod: string;
  ResourceId: Ref;
  AuthorizationType: string;
  Integration: { Type: string; Uri: unknown };
  RequestParameters?: Record<string, boolean>;
}
export interface StageProps {
  MethodSettings: unknown[];
  TracingEnabled: boolean;
  AccessLogSetting: { DestinationArn: unknown; Format: string };
}
export interface GatewayResponseProps {
  ResponseType: string;
  StatusCode?: string;
  ResponseTemplates: Record<string, string>;
}
export interface FunctionProps {
  Runtime: string;
  Architectures: string[];
  TracingConfig: unknown;
  MemorySize: number;
  Timeout: number;
  LoggingConfig: { LogGroup: unknown };
  Role: unknown;
  Environment: { Variables: Record<string, unknown> };
}
export interface StateMachineProps {
  StateMachineType: string;
  DefinitionString: string;
  DefinitionSubstitutions: Record<string, GetAtt>;
  TracingConfiguration: unknown;
  LoggingConfiguration: { Level: string; IncludeExecutionData: boolean; Destinations: unknown };
}
export interface TableProps {
  KeySchema: unknown;
  BillingMode: string;
  PointInTimeRecoverySpecification: unknown;
  DeletionProtectionEnabled: boolean;
  TimeToLiveSpecification: unknown;
  SSESpecification: unknown;
  GlobalSecondaryIndexes: Array<{
    IndexName: string;
    KeySchema: Array<{ AttributeName: string }>;
    Projection: { ProjectionType: string };
  }>;
}
export interface RuleProps {
  State: string;
  EventPattern: unknown;
  Targets: Array<{ Arn: unknown; DeadLetterConfig?: unknown }>;
}
export interface EventBusPolicyProps {
  Statement: { Principal: { AWS: string }; Action: string };
}
export interface RoleProps {
  AssumeRolePolicyDocument: { Statement: IamStatement[] };
  ManagedPolicyArns?: unknown[];
  MaxSessionDuration?: number;
  Policies?: unknown[];
  RoleName?: string;
}
