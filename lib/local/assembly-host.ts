import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { globMatch } from '../../lambdas/core/glob.js';
import type { ApiRouteSpec, GatewayResponseSpec } from './api-gateway.js';
import { ruleReceives } from './assembly/event-patterns.js';
import { resolve, resolveDefinition, resolveEnvironment } from './assembly/intrinsics.js';
import { lambdaEnvironment } from './assembly/lambda-environment.js';
import { createLambdaRunner, type RunnableFunction } from './assembly/lambda-runner.js';
import { physicalResources } from './assembly/physical-resources.js';
import { synthesizeAssembly } from './assembly/synth.js';
import { type AssemblyModel, readAssemblyModel } from './assembly/template.js';
import { pruneAssemblyCache } from './assembly-cache.js';
import type { LocalAws } from './aws/index.js';
import type { DeliveryRule, EventBridgeEvent } from './cloudtrail-delivery.js';
import { lambdaNodeBinary } from './lambda-node.js';

/**
 * The synthesized CDK assembly, hosted: what the template says each function, role, route,
 * state machine, rule, table and secret is, made real over the local AWS. The only values that do
 * not come from the template are those CloudFormation and AWS themselves supply: physical names,
 * parameter values, the credentials Lambda hands a function for its role, and the endpoint.
 */

type Json = Record<string, unknown>;
type Model = AssemblyModel;

export interface Assembly {
  readonly dir: string;
  readonly cached: boolean;
  readonly synthSeconds: number;
  readonly template: Json;
  readonly model: Model;
  start(options: HostOptions): Promise<Host>;
}

export interface HostOptions {
  account: string;
  region: string;
  stackName: string;
  /** Values for the template's parameters, as `cdk deploy --parameters` gives them. */
  parameters: Record<string, string>;
  log: (line: string) => void;
}

export type InvokeOutcome =
  | { ok: true; payload: unknown }
  | { ok: false; status: number; errorType: string; errorMessage: string };

export interface Host {
  readonly tableName: string;
  readonly tables: CreateTableCommandInput[];
  readonly routes: ApiRouteSpec[];
  readonly gatewayResponses: GatewayResponseSpec[];
  readonly stateMachines: Array<{ name: string; arn: string; definition: object }>;
  /** Function ARN → invoke, for the Step Functions tasks (authorized as the state machine's role). */
  readonly workflowFunctions: Record<string, (payload: unknown) => Promise<unknown>>;
  readonly rules: DeliveryRule[];
  /** Functions by physical name: ARN, role, resolved environment variable names (never values). */
  readonly functions: Array<{ name: string; arn: string; roleArn: string; environment: string[] }>;
  /** The function the CloudTrail rules deliver to (the linker). */
  readonly linkerName: string | undefined;
  /** Creates the template's roles (with their policies), the target roles and the secret. */
  provision(aws: LocalAws, options: ProvisionOptions): void;
  invoke(functionName: string, event: unknown): Promise<InvokeOutcome>;
  /** Execution environments (processes) alive now, per function name. */
  processes(): Record<string, number>;
  invokeFromApi(functionName: string, event: unknown, timeoutMs: number): Promise<InvokeOutcome>;
  stop(): Promise<void>;
}

export interface ProvisionOptions {
  targets: ReadonlyArray<{ account: string; roleArn: string; revokerRoleArn?: string | undefined }>;
  /** The policy of every target role (config `local.targetRolePolicy`). @default allow everything */
  targetRolePolicy?: object | undefined;
  /** The local value of the Slack secret. */
  slackSecret: string;
}

const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

export async function loadAssembly(options: {
  configPath: string;
  cacheDir: string;
  log: (line: string) => void;
  /**
   * Tests only: changes a private copy of the assembly (its template, returned, and its asset
   * folders, under `dir`) before it runs — how the suite proves a broken template fails here as
   * it would on AWS.
   */
  transform?: (template: Json, dir: string) => Json;
}): Promise<Assembly> {
  const started = Date.now();
  const synth = await synthesizeAssembly({
    configPath: options.configPath,
    cacheDir: options.cacheDir,
    log: options.log,
  });
  pruneAssemblyCache(options.cacheDir, synth.dir);
  let dir = synth.dir;
  let cfn = synth.template;
  if (options.transform) {
    // Tests only: a deliberately broken variant, made on a private copy of the cached assembly.
    dir = mkdtempSync(join(tmpdir(), 'countersign-assembly-'));
    cpSync(synth.dir, dir, { recursive: true });
    const templatePath = join(dir, basename(synth.templatePath));
    const changed = options.transform(JSON.parse(readFileSync(templatePath, 'utf8')) as Json, dir);
    writeFileSync(templatePath, JSON.stringify(changed));
    cfn = changed as unknown as typeof synth.template;
  }
  const template = cfn as unknown as Json;
  const model = readAssemblyModel({ dir, stackName: synth.stackName, template: cfn });
  return {
    dir,
    cached: synth.cached,
    synthSeconds: (Date.now() - started) / 1000,
    template,
    model,
    start: (hostOptions) => startHost(template, model, hostOptions),
  };
}

async function startHost(template: Json, model: Model, options: HostOptions): Promise<Host> {
  const ctx = physicalResources(model, {
    account: options.account,
    region: options.region,
    stackName: options.stackName,
    parameters: options.parameters,
  });
  const res = (value: unknown) => resolve(value, ctx);
  const resources = (template.Resources ?? {}) as Record<string, { Type: string; Properties?: Json }>;
  const values = (logicalId: string) => {
    const found = ctx.resources[logicalId];
    if (!found) throw new Error(`the template has no resource ${logicalId}`);
    return found;
  };
  const arnOf = (logicalId: string) => values(logicalId).attributes.Arn ?? values(logicalId).ref;
  const runner = createLambdaRunner({
    log: options.log,
    nodeBinary: lambdaNodeBinary(
      model.functions.map((f) => f.runtime),
      options.log,
    ),
  });
  let aws: LocalAws | undefined;

  // Functions: bundle, handler, template environment, role.
  const byName = new Map<
    string,
    { spec: RunnableFunction; roleArn: string; runtime: string; templateEnv: Record<string, string> }
  >();
  const byLogicalId = new Map<string, string>();
  for (const fn of model.functions) {
    const name = values(fn.logicalId).ref;
    const templateEnv = resolveEnvironment(fn, ctx);
    byName.set(name, {
      roleArn: arnOf(fn.roleLogicalId),
      runtime: fn.runtime,
      templateEnv,
      spec: {
        name,
        arn: arnOf(fn.logicalId),
        assetDir: fn.assetDir,
        handler: fn.handler,
        env: {},
        timeoutSeconds: fn.timeoutSeconds,
        memorySize: fn.memorySize,
      },
    });
    byLogicalId.set(fn.logicalId, name);
  }
  const credentials = new Map<string, ReturnType<LocalAws['issueRoleSession']>>();
  function runnable(name: string): RunnableFunction {
    const entry = byName.get(name);
    if (!entry) throw new Error(`no function named ${name} in the template`);
    if (!aws) throw new Error('the assembly is not provisioned yet');
    let creds = credentials.get(name);
    if (!creds || creds.expiration.getTime() - Date.now() < 15 * 60_000) {
      // What Lambda does for every function: a session of its execution role in its environment.
      creds = aws.issueRoleSession(entry.roleArn, name, 43_200);
      credentials.set(name, creds);
    }
    return {
      ...entry.spec,
      env: lambdaEnvironment(
        { ...entry.spec, runtime: entry.runtime },
        {
          region: options.region,
          credentials: creds,
          endpointUrl: aws.url,
          templateEnv: entry.templateEnv,
        },
      ),
    };
  }
  async function invoke(name: string, event: unknown): Promise<InvokeOutcome> {
    const result = await runner.invoke(runnable(name), event);
    if (result.ok) return { ok: true, payload: result.payload };
    return { ok: false, status: 502, errorType: result.errorType, errorMessage: result.errorMessage };
  }

  // Who may invoke a function, from the template's AWS::Lambda::Permission resources.
  const permissions = Object.values(resources)
    .filter((r) => r.Type === 'AWS::Lambda::Permission')
    .map((r) => ({
      functionArn: String(res(r.Properties?.FunctionName)),
      principal: String(res(r.Properties?.Principal)),
      sourceArn: r.Properties?.SourceArn === undefined ? undefined : String(res(r.Properties.SourceArn)),
      action: String(res(r.Properties?.Action)),
    }));
  function permitted(name: string, principal: string, sourceArn?: string): boolean {
    const arn = byName.get(name)?.spec.arn;
    return permissions.some(
      (p) =>
        (p.functionArn === arn || p.functionArn === name) &&
        p.principal === principal &&
        p.action === 'lambda:InvokeFunction' &&
        (p.sourceArn === undefined || sourceArn === undefined || globMatch(p.sourceArn, sourceArn)),
    );
  }

  // API routes: the methods of the REST API and the function each integrates with.
  const routes: ApiRouteSpec[] = model.routes.map((r) => ({
    method: r.method,
    path: r.path,
    functionName: byLogicalId.get(r.functionLogicalId) ?? r.functionLogicalId,
    requiredHeaders: r.requiredHeaders,
  }));
  const gatewayResponses: GatewayResponseSpec[] = model.gatewayResponses.map((r) => {
    const json = r.responseTemplates['application/json'];
    return {
      type: r.responseType,
      ...(r.statusCode !== undefined ? { statusCode: String(r.statusCode) } : {}),
      ...(json !== undefined ? { template: String(res(json)) } : {}),
    };
  });

  // State machines: the definition with its substitutions, run as the state machine's role.
  const stateMachines = model.stateMachines.map((m) => {
    const text = resolveDefinition(m, ctx);
    return {
      name: values(m.logicalId).attributes.Name ?? m.logicalId,
      arn: values(m.logicalId).ref,
      roleArn: arnOf(m.roleLogicalId),
      definition: JSON.parse(text) as object,
    };
  });
  const workflowFunctions: Record<string, (payload: unknown) => Promise<unknown>> = {};
  const stateMachineCredentials = new Map<string, string>();
  for (const [name, entry] of byName) {
    workflowFunctions[entry.spec.arn] = async (payload) => {
      const machine = stateMachines[0]!;
      if (!aws) throw namedError('Lambda.ServiceException', 'not provisioned');
      let key = stateMachineCredentials.get(machine.roleArn);
      if (!key) {
        key = aws.issueRoleSession(machine.roleArn, 'states', 43_200).accessKeyId;
        stateMachineCredentials.set(machine.roleArn, key);
      }
      const verdict = aws.authorize(key, 'lambda:InvokeFunction', entry.spec.arn);
      if (!verdict.allowed) throw namedError('Lambda.AWSLambdaException', verdict.reason);
      const outcome = await invoke(name, payload);
      if (outcome.ok) return outcome.payload;
      throw namedError(outcome.errorType, outcome.errorMessage);
    };
  }

  // EventBridge rules and their Lambda targets.
  const rules: DeliveryRule[] = model.eventRules.map((rule) => {
    const ruleArn = arnOf(rule.logicalId);
    const targets = rule.targets.map((target) => {
      const arn = String(res(target.arn));
      const name = [...byName.entries()].find(([, e]) => e.spec.arn === arn)?.[0];
      return async (event: EventBridgeEvent) => {
        if (!name) throw new Error(`target ${arn} is not a function of this template`);
        if (!permitted(name, 'events.amazonaws.com', ruleArn)) {
          throw new Error(
            `no AWS::Lambda::Permission lets events.amazonaws.com invoke ${name} from ${ruleArn}`,
          );
        }
        const outcome = await invoke(name, event);
        if (!outcome.ok) throw new Error(`${outcome.errorType}: ${outcome.errorMessage}`);
      };
    });
    return {
      name: ruleArn,
      receives: (event: EventBridgeEvent) => ruleReceives(rule, event),
      targets,
    };
  });
  const linkerName = (() => {
    for (const rule of model.eventRules)
      for (const target of rule.targets) {
        const arn = String(res(target.arn));
        const found = [...byName.entries()].find(([, e]) => e.spec.arn === arn);
        if (found) return found[0];
      }
    return undefined;
  })();

  // Tables as CloudFormation creates them.
  const tables: CreateTableCommandInput[] = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table' || r.Type === 'AWS::DynamoDB::GlobalTable')
    .map(([logicalId, r]) => tableInput(values(logicalId).ref, res(r.Properties) as Json));
  const tableName = tables[0]?.TableName ?? '';

  return {
    tableName,
    tables,
    routes,
    gatewayResponses,
    stateMachines: stateMachines.map(({ name, arn, definition }) => ({ name, arn, definition })),
    workflowFunctions,
    rules,
    linkerName,
    functions: [...byName.entries()].map(([name, e]) => ({
      name,
      arn: e.spec.arn,
      roleArn: e.roleArn,
      environment: Object.keys(e.templateEnv).sort(),
    })),
    provision(localAws, provision) {
      aws = localAws;
      for (const role of model.roles) {
        const inline: Record<string, object> = {};
        for (const policy of role.policies)
          inline[String(res(policy.policyName))] = res(policy.policyDocument) as object;
        localAws.createRole(arnOf(role.logicalId), {
          inline,
          managed: [],
          ...(role.assumeRolePolicyDocument ? { trust: res(role.assumeRolePolicyDocument) as object } : {}),
        });
      }
      for (const target of provision.targets) {
        // Target roles live outside the stack (CountersignTargetRole, or the operator's own): the
        // local ones trust the account and carry the configured policy.
        localAws.createRole(target.roleArn, {
          managed: [provision.targetRolePolicy ?? ALLOW_ALL],
          trust: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { AWS: `arn:aws:iam::${options.account}:root` },
                Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
              },
            ],
          },
        });
        if (target.revokerRoleArn) {
          localAws.createRole(target.revokerRoleArn, {
            inline: {
              revocations: {
                Version: '2012-10-17',
                Statement: [
                  {
                    Effect: 'Allow',
                    Action: [
                      'iam:GetRolePolicy',
                      'iam:PutRolePolicy',
                      'iam:DeleteRolePolicy',
                      'iam:ListRolePolicies',
                    ],
                    Resource: target.roleArn,
                  },
                ],
              },
            },
            trust: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { AWS: `arn:aws:iam::${options.account}:root` },
                  Action: 'sts:AssumeRole',
                },
              ],
            },
          });
        }
      }
      for (const [logicalId, r] of Object.entries(resources)) {
        if (r.Type === 'AWS::KMS::Key') {
          localAws.ensureKey(values(logicalId).ref, String(r.Properties?.Description ?? logicalId));
        }
        if (r.Type !== 'AWS::SecretsManager::Secret') continue;
        localAws.putSecret(values(logicalId).attributes.Id ?? values(logicalId).ref, provision.slackSecret);
      }
    },
    invoke,
    processes: () => runner.processes(),
    async invokeFromApi(name, event, timeoutMs) {
      if (!permitted(name, 'apigateway.amazonaws.com')) {
        return {
          ok: false,
          status: 500,
          errorType: 'AccessDenied',
          errorMessage: `API Gateway may not invoke ${name}`,
        };
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<InvokeOutcome>((r) => {
        timer = setTimeout(
          () =>
            r({
              ok: false,
              status: 504,
              errorType: 'IntegrationTimeout',
              errorMessage: 'Endpoint request timed out',
            }),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([invoke(name, event), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    stop: () => runner.stop(),
  };
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** CreateTable input from a template's table properties (what CloudFormation sends). */
function tableInput(name: string, p: Json): CreateTableCommandInput {
  const gsis = (p.GlobalSecondaryIndexes ?? []) as Json[];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
    ...(gsis.length
      ? {
          GlobalSecondaryIndexes: gsis.map((g) => ({
            IndexName: g.IndexName as string,
            KeySchema: g.KeySchema as never,
            Projection: g.Projection as never,
          })),
        }
      : {}),
    ...(p.TimeToLiveSpecification ? { TimeToLive: p.TimeToLiveSpecification } : {}),
  } as CreateTableCommandInput;
}
