import { join } from 'node:path';
import {
  Annotations,
  ArnFormat,
  Aws,
  type CfnElement,
  CfnOutput,
  CfnParameter,
  Duration,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { configWarnings } from '../../lambdas/core/targets.js';
import { BUNDLE_FILES } from '../bundling.js';
import { PROJECT_ROOT } from '../project-root.js';
import { ApprovalStateMachine } from './approval-state-machine.js';
import { CloudTrailLinkage } from './cloudtrail-linkage.js';
import { ConsoleSite } from './console-site.js';
import { type ApiRoute, CountersignApi } from './countersign-api.js';
import { CountersignFunction } from './countersign-function.js';
import { CountersignTable } from './countersign-table.js';
import { HistoryKey } from './history-key.js';
import { RevocationAlarm } from './revocation-alarm.js';
import { SlackSecret } from './slack-secret.js';
import { configDefine } from './synth-config.js';

/** Each handler file (lambdas/handlers/<file>.ts), sized for what it does. */
export const HANDLERS = {
  requestAccess: { file: 'request-access', memorySize: 512, timeout: 15, description: 'POST /v1/requests' },
  // Long-polls up to 20 s (DESIGN.md §4) inside API Gateway's 29 s integration limit.
  getRequest: { file: 'get-request', memorySize: 256, timeout: 28, description: 'GET /v1/requests/{id}' },
  listRequests: {
    file: 'list-requests',
    memorySize: 256,
    timeout: 15,
    description: "GET /v1/requests: the caller's requests, the approvers' inbox",
  },
  claimCredentials: {
    file: 'claim-credentials',
    memorySize: 512,
    timeout: 15,
    description: 'POST /v1/requests/{id}/credentials: mints STS sessions',
  },
  // Mints the call's session and makes the call: AWS answers within seconds, inside API Gateway's 29 s.
  executeCall: {
    file: 'execute-call',
    memorySize: 512,
    timeout: 28,
    description: 'POST /v1/requests/{id}/execute: makes an approved exact call, once',
  },
  revokeRequest: {
    file: 'revoke-request',
    memorySize: 256,
    timeout: 28,
    description: 'POST /v1/requests/{id}/revoke: writes revocations on target roles',
  },
  decideRequest: {
    file: 'decide-request',
    memorySize: 256,
    timeout: 15,
    description: 'POST /v1/requests/{id}/decisions',
  },
  // Slack waits 3 s for the answer; the memory buys CPU for a quick cold start.
  slackInteractions: {
    file: 'slack-interactions',
    memorySize: 512,
    timeout: 10,
    description: 'POST /v1/slack/interactions (signed by Slack)',
  },
  notifyApprovers: {
    file: 'notify-approvers',
    memorySize: 256,
    timeout: 30,
    description: 'Workflow: posts the approval message and stores the task token',
  },
  settleRequest: {
    file: 'settle-request',
    memorySize: 256,
    timeout: 30,
    description: 'Workflow: grants, times out and expires requests',
  },
  linkCloudTrail: {
    file: 'link-cloudtrail',
    memorySize: 256,
    timeout: 30,
    description: 'Links CloudTrail events to requests',
  },
  reports: { file: 'reports', memorySize: 512, timeout: 28, description: 'GET /v1/reports/*' },
} as const;

export type HandlerName = keyof typeof HANDLERS;

export interface CountersignStackProps extends StackProps {
  /** The validated configuration (see loadSynthConfig); compiled into every bundle. */
  readonly config: CountersignConfig;
  /** @default <repository>/lambdas/handlers */
  readonly handlersDir?: string;
  /** @default <repository>/state-machines/approval.asl.json */
  readonly definitionFile?: string;
  /** @default the repository root */
  readonly projectRoot?: string;
  /** @default - AWS-managed table encryption */
  readonly tableEncryptionKey?: kms.IKey;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default 50 */
  readonly throttlingRateLimit?: number;
  /** @default 100 */
  readonly throttlingBurstLimit?: number;
  /**
   * Set the region's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account), which the API
   * stage's access logging needs. False for accounts where something else manages that role
   * (`-c apiGatewayCloudWatchRole=false`); it must then already be set in the region.
   * @default true
   */
  readonly apiGatewayCloudWatchRole?: boolean;
  /**
   * Synthesize without an OIDC issuer (the local assembly, whose runner gives `OidcIssuer`). An AWS
   * deployment without `identity.issuer` is refused at synth: its API would refuse every token.
   * @default false
   */
  readonly local?: boolean;
}

/** What each function's code calls, so the template grants exactly that (test/infra asserts it). */
const USES = {
  /** Verifies callers' JWTs: gets OIDC_ISSUER. */
  jwt: [
    'requestAccess',
    'getRequest',
    'listRequests',
    'claimCredentials',
    'executeCall',
    'revokeRequest',
    'decideRequest',
    'reports',
  ],
  /** Calls Slack: gets SLACK_SECRET_ARN (read access) and SLACK_API_URL. */
  slack: ['revokeRequest', 'slackInteractions', 'notifyApprovers', 'settleRequest'],
  /** Answers task tokens (states:SendTaskSuccess/SendTaskFailure). */
  taskTokens: ['decideRequest', 'slackInteractions', 'notifyApprovers'],
} as const satisfies Record<string, readonly HandlerName[]>;

/**
 * Countersign on AWS: every part of DESIGN.md §2's AWS column, with each function's permissions
 * granted here, in one place, handler by handler.
 *
 * This file is longer than most (~480 lines) on purpose: the parts are constructs of their own
 * (lib/aws/*.ts), and what stays here is the wiring and every grant. Split, one function's
 * permissions would be spread over several files, and reviewing what it may do would need them all.
 */
export class CountersignStack extends Stack {
  public readonly table: CountersignTable;
  public readonly functions: Record<HandlerName, CountersignFunction>;
  public readonly approval: ApprovalStateMachine;
  public readonly api: CountersignApi;
  public readonly slackSecret: SlackSecret;
  public readonly linkage: CloudTrailLinkage;

  constructor(scope: Construct, id: string, props: CountersignStackProps) {
    super(scope, id, props);
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;
    const handlersDir = props.handlersDir ?? join(projectRoot, 'lambdas', 'handlers');
    const define = configDefine(props.config);
    const targetRoleArns = props.config.targets.map((t) => t.roleArn);
    if (!props.config.identity.issuer && !props.local) {
      throw new Error(
        'identity.issuer is not set in the Countersign configuration: a deployed API would refuse every token. ' +
          'Name your OIDC issuer in identity.issuer (see docs/deploy.md), or synthesize the local assembly with -c local=true.',
      );
    }

    for (const [i, warning] of configWarnings(props.config).entries()) {
      Annotations.of(this).addWarningV2(`@countersign/config-${i}`, warning);
    }
    // Deploy-time values the functions read from their environment; the local assembly's runner
    // gives its own (its issuer, its Slack stand-in).
    const oidcIssuer = new CfnParameter(this, 'OidcIssuer', {
      type: 'String',
      default: props.config.identity.issuer ?? '',
      description:
        'The OIDC issuer (iss) whose tokens the API accepts; from identity.issuer. Empty refuses every token.',
    });
    const slackApiUrl = new CfnParameter(this, 'SlackApiUrl', {
      type: 'String',
      default: 'https://slack.com/api',
      description: 'Base URL of the Slack Web API',
    });

    this.table = new CountersignTable(this, 'Table', {
      ...(props.tableEncryptionKey ? { encryptionKey: props.tableEncryptionKey } : {}),
    });
    this.slackSecret = new SlackSecret(this, 'Slack');
    const secret = this.slackSecret.secret;

    const uses = (list: readonly HandlerName[], name: HandlerName) => list.includes(name);
    // Each function's environment is exactly what its code reads (lambdas/adapters/settings.ts).
    const make = (name: HandlerName, extra: Record<string, string> = {}) => {
      const spec = HANDLERS[name];
      const environment: Record<string, string> = {
        ...(uses(USES.jwt, name) ? { OIDC_ISSUER: oidcIssuer.valueAsString } : {}),
        ...(uses(USES.slack, name)
          ? { SLACK_SECRET_ARN: secret.secretArn, SLACK_API_URL: slackApiUrl.valueAsString }
          : {}),
        ...extra,
      };
      return new CountersignFunction(this, name.charAt(0).toUpperCase() + name.slice(1), {
        entry: join(handlersDir, `${spec.file}.ts`),
        projectRoot,
        files: BUNDLE_FILES[spec.file] ?? [],
        description: spec.description,
        define,
        memorySize: spec.memorySize,
        timeout: Duration.seconds(spec.timeout),
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
        environment: { TABLE_NAME: this.table.table.tableName, ...environment },
      });
    };

    // The workflow's own functions come first: the state machine needs their ARNs, and the API
    // functions need the state machine's.
    const notifyApprovers = make('notifyApprovers');
    const settleRequest = make('settleRequest');
    this.approval = new ApprovalStateMachine(this, 'Approval', {
      definitionFile: props.definitionFile ?? join(projectRoot, 'state-machines', 'approval.asl.json'),
      notifyApprovers: notifyApprovers.function,
      settleRequest: settleRequest.function,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const stateMachine = this.approval.stateMachine;
    // Only the functions that start (request-access) or stop (revoke-request) executions name the
    // state machine; answering a task token does not.
    const workflowEnv = { STATE_MACHINE_ARN: stateMachine.stateMachineArn };

    const fns: Record<HandlerName, CountersignFunction> = {
      notifyApprovers,
      settleRequest,
      requestAccess: make('requestAccess', workflowEnv),
      getRequest: make('getRequest'),
      listRequests: make('listRequests'),
      claimCredentials: make('claimCredentials'),
      executeCall: make('executeCall'),
      // Its own credentials reach only this account's roles: knowing the account, it refuses to
      // write a member-account target's revocation (by role name) here instead.
      revokeRequest: make('revokeRequest', { ...workflowEnv, COUNTERSIGN_ACCOUNT_ID: this.account }),
      // Deciding answers the waiting task token, which names no state machine.
      decideRequest: make('decideRequest'),
      slackInteractions: make('slackInteractions'),
      linkCloudTrail: make('linkCloudTrail'),
      reports: make('reports'),
    };
    this.functions = fns;
    // The linker tells Countersign's minting (AssumeRole by this role) from an agent's own AssumeRole.
    fns.linkCloudTrail.function.addEnvironment('MINTING_ROLE_ARN', fns.claimCredentials.role.roleArn);

    // --- Permissions, handler by handler -------------------------------------------------------
    // The functions that change requests: they write the table and append to the keyed history.
    const writers = [
      'requestAccess',
      'claimCredentials',
      'executeCall',
      'revokeRequest',
      'decideRequest',
      'slackInteractions',
      'notifyApprovers',
      'settleRequest',
      'linkCloudTrail',
    ] as const;
    for (const name of writers) this.table.grantReadWrite(fns[name].role);
    // The history key (issue 12 #3): every function that writes evidence MACs it with a KMS HMAC key
    // (HISTORY_KEY_ID); without it the history chain is unkeyed, and anyone with write access to
    // the table could rewrite a request and recompute its hashes. Reports only verify.
    const historyKey = new HistoryKey(this, 'HistoryKey', {
      writers: writers.map((name) => fns[name]),
      verifiers: [fns.reports],
    });
    this.table.grantRead(fns.getRequest.role);
    this.table.grantRead(fns.listRequests.role);
    // A long-poll holds one of its caller's few lease slots (limits.concurrentWaitsPerCaller):
    // get-request writes those items and nothing else.
    fns.getRequest.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [this.table.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LEASE#wait#*'] } },
      }),
    );
    this.table.grantRead(fns.reports.role);

    // Only the functions that call Slack read its secret (decide-request never does).
    for (const name of USES.slack) secret.grantRead(fns[name].role);

    stateMachine.grantStartExecution(fns.requestAccess.role);
    // Executions are named after their request id (unknown at deploy time), hence the `:*`.
    fns.revokeRequest.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StopExecution'],
        resources: [
          this.formatArn({
            service: 'states',
            resource: 'execution',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            resourceName: `${stateMachine.stateMachineName}:*`,
          }),
        ],
      }),
    );
    const stateMachineId = this.getLogicalId(stateMachine.node.defaultChild as CfnElement);
    // cdk-nag names the resource as synthesized: pseudo-parameters for an environment-agnostic
    // stack, literal values when the app pins an account and region.
    const region = Token.isUnresolved(this.region) ? '<AWS::Region>' : this.region;
    const account = Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account;
    const partition = Token.isUnresolved(this.partition) ? '<AWS::Partition>' : this.partition;
    Validations.of(fns.revokeRequest.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:states:${region}:${account}:execution:<${stateMachineId}.Name>:*]`,
      reason:
        'states:StopExecution on the executions of this one state machine; each is named after its request id, unknown at deploy time.',
    });

    // notify-approvers resumes the workflow itself when a decision arrived before its token was stored.
    for (const name of USES.taskTokens) {
      fns[name].role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          // SendTaskSuccess/SendTaskFailure have no resource type: IAM only accepts "*". The task
          // token itself, read from the table, is what designates the waiting execution.
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
          resources: ['*'],
        }),
      );
      Validations.of(fns[name].role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'states:SendTaskSuccess and states:SendTaskFailure have no resource type and require "*" (the task token designates the execution); xray:PutTraceSegments/PutTelemetryRecords likewise.',
      });
    }

    // The only functions that may mint sessions, and only on the configured target roles: the
    // claim for sessions handed to agents, execute-call for the one exact call it makes itself.
    for (const name of ['claimCredentials', 'executeCall'] as const) {
      fns[name].role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
          resources: targetRoleArns,
        }),
      );
    }
    // The only function that may change target roles, for the `countersign-revocations` inline
    // policy. IAM only changes roles of the caller's own account, so a target with a revoker role
    // (CountersignTargetRole, in its account) is written through that role, and revoke-request may
    // assume those revoker roles and no other role. Targets without one are written directly,
    // which works only in this account. IAM has no condition key for an inline policy's name, so
    // the handler is what keeps the writes to that one policy.
    const revokerRoleArns = props.config.targets.flatMap((t) => (t.revokerRoleArn ? [t.revokerRoleArn] : []));
    const directTargets = props.config.targets.filter((t) => !t.revokerRoleArn);
    if (revokerRoleArns.length > 0) {
      fns.revokeRequest.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: revokerRoleArns }),
      );
    }
    if (directTargets.length > 0) {
      fns.revokeRequest.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['iam:PutRolePolicy', 'iam:GetRolePolicy'],
          resources: directTargets.map((t) => t.roleArn),
        }),
      );
    }

    // --- Front door ----------------------------------------------------------------------------
    const routes: ApiRoute[] = [
      { method: 'POST', path: '/v1/requests', handler: fns.requestAccess.function, requireContentType: true },
      { method: 'GET', path: '/v1/requests', handler: fns.listRequests.function },
      { method: 'GET', path: '/v1/requests/{id}', handler: fns.getRequest.function },
      { method: 'POST', path: '/v1/requests/{id}/credentials', handler: fns.claimCredentials.function },
      { method: 'POST', path: '/v1/requests/{id}/execute', handler: fns.executeCall.function },
      { method: 'POST', path: '/v1/requests/{id}/revoke', handler: fns.revokeRequest.function },
      {
        method: 'POST',
        path: '/v1/requests/{id}/decisions',
        handler: fns.decideRequest.function,
        requireContentType: true,
      },
      {
        method: 'POST',
        path: '/v1/slack/interactions',
        handler: fns.slackInteractions.function,
        requireContentType: true,
      },
      { method: 'GET', path: '/v1/reports/requests', handler: fns.reports.function },
      { method: 'GET', path: '/v1/reports/requests/{id}', handler: fns.reports.function },
      { method: 'GET', path: '/v1/reports/access-review', handler: fns.reports.function },
    ];
    this.api = new CountersignApi(this, 'Api', {
      routes,
      ...(props.throttlingRateLimit ? { throttlingRateLimit: props.throttlingRateLimit } : {}),
      ...(props.throttlingBurstLimit ? { throttlingBurstLimit: props.throttlingBurstLimit } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      cloudWatchRole: props.apiGatewayCloudWatchRole ?? true,
    });

    if (props.config.console) new ConsoleSite(this, 'Console', { api: this.api.api, config: props.config });

    // --- Evidence and kill-switch health ---------------------------------------------------------
    new RevocationAlarm(this, 'RevocationAlarm', { logGroup: fns.revokeRequest.logGroup });

    // --- CloudTrail ----------------------------------------------------------------------------
    this.linkage = new CloudTrailLinkage(this, 'CloudTrail', {
      linker: fns.linkCloudTrail.function,
      roleArns: targetRoleArns,
      sourceAccounts: props.config.targets.map((t) => t.account),
    });

    // --- What the operator needs next (docs/deploy.md) -----------------------------------------
    new CfnOutput(this, 'ApiUrl', {
      value: this.api.api.urlForPath('/v1'),
      description: 'Base URL of the v1 API',
    });
    new CfnOutput(this, 'SlackInteractivityUrl', {
      value: this.api.urlFor('/v1/slack/interactions'),
      description: 'Slack app: Interactivity & Shortcuts → Request URL',
    });
    new CfnOutput(this, 'SlackSecretArn', {
      value: secret.secretArn,
      description: 'Fill with {"botToken","signingSecret"}',
    });
    new CfnOutput(this, 'ClaimCredentialsRoleArn', {
      value: fns.claimCredentials.role.roleArn,
      description: 'The only principal target roles trust (CountersignTargetRole mintingRoleArn)',
    });
    new CfnOutput(this, 'ExecuteCallRoleArn', {
      value: fns.executeCall.role.roleArn,
      description: 'Makes approved exact calls (CountersignTargetRole executingRoleArn)',
    });
    new CfnOutput(this, 'RevokeRequestRoleArn', {
      value: fns.revokeRequest.role.roleArn,
      description: 'The only principal revoker roles trust (CountersignTargetRole revokingRoleArn)',
    });
    new CfnOutput(this, 'EventBusArn', {
      value: `arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:event-bus/default`,
      description: 'Member accounts forward target-role CloudTrail events here',
    });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName });
    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });

    // --- What request-access must never grant: Countersign itself (lambdas/core/never-grantable.ts) --
    // Its own function ARN would be a self-reference, so functions are also named by the stack-name
    // prefix CloudFormation gives them. Target and revoker roles come from the configuration.
    const arn = (service: string, resource: string, region: string = Aws.REGION) =>
      `arn:${Aws.PARTITION}:${service}:${region}:${Aws.ACCOUNT_ID}:${resource}`;
    const ownResources = [
      this.table.table.tableArn,
      `${this.table.table.tableArn}/*`,
      stateMachine.stateMachineArn,
      arn('states', `execution:${stateMachine.stateMachineName}:*`),
      stateMachine.role.roleArn,
      arn('lambda', `function:${Aws.STACK_NAME}-*`),
      // `ARN*` covers versions and aliases too; kept short: Lambda allows 4 KB of environment.
      ...Object.entries(fns).flatMap(([name, fn]) => [
        ...(name === 'requestAccess' ? [] : [`${fn.function.functionArn}*`]),
        fn.role.roleArn,
      ]),
      secret.secretArn,
      arn('secretsmanager', `secret:${secret.secretName}*`),
      `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}::/restapis/${this.api.api.restApiId}*`,
      ...this.linkage.rules.map((rule) => rule.ruleArn),
      this.linkage.deadLetterQueue.queueArn,
      ...(props.tableEncryptionKey ? [props.tableEncryptionKey.keyArn] : []),
      // Whoever may GenerateMac with it can forge the evidence chain.
      historyKey.key.keyArn,
    ];
    fns.requestAccess.function.addEnvironment('COUNTERSIGN_OWN_RESOURCES', this.toJsonString(ownResources));
  }
}
