import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Annotations,
  ArnFormat,
  Aws,
  type CfnElement,
  CfnOutput,
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
import { BUNDLE_FILES } from '../bundling.js';
import { ApprovalStateMachine } from './approval-state-machine.js';
import { CloudTrailLinkage } from './cloudtrail-linkage.js';
import { type ApiRoute, CountersignApi } from './countersign-api.js';
import { CountersignFunction } from './countersign-function.js';
import { CountersignTable } from './countersign-table.js';
import { SlackSecret } from './slack-secret.js';
import { configDefine } from './synth-config.js';

/** The repository root: lib/aws/ is two levels down. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

/** Each handler file (lambdas/handlers/<file>.ts), sized for what it does. */
export const HANDLERS = {
  requestAccess: { file: 'request-access', memorySize: 512, timeout: 15, description: 'POST /v1/requests' },
  // Long-polls up to 20 s (DESIGN.md §4) inside API Gateway's 29 s integration limit.
  getRequest: { file: 'get-request', memorySize: 256, timeout: 28, description: 'GET /v1/requests/{id}' },
  claimCredentials: {
    file: 'claim-credentials',
    memorySize: 512,
    timeout: 15,
    description: 'POST /v1/requests/{id}/credentials: mints STS sessions',
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
}

/**
 * Countersign on AWS: every part of DESIGN.md §2's AWS column, with each function's permissions
 * granted here, in one place, handler by handler.
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
    if (!props.config.identity.issuer) {
      // The example configuration omits it (the local stack embeds an issuer), and synthesizing the
      // example must work; a deployed API without one refuses every token, so this is fail-closed.
      Annotations.of(this).addWarningV2(
        '@countersign/identity-issuer',
        'identity.issuer is not set: the deployed handlers will refuse every request until the configuration names your OIDC issuer',
      );
    }

    this.table = new CountersignTable(this, 'Table', {
      ...(props.tableEncryptionKey ? { encryptionKey: props.tableEncryptionKey } : {}),
    });
    this.slackSecret = new SlackSecret(this, 'Slack');
    const secret = this.slackSecret.secret;

    const make = (name: HandlerName, environment: Record<string, string> = {}) => {
      const spec = HANDLERS[name];
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
    const slackEnv = { SLACK_SECRET_ARN: secret.secretArn };
    const notifyApprovers = make('notifyApprovers', slackEnv);
    const settleRequest = make('settleRequest', slackEnv);
    this.approval = new ApprovalStateMachine(this, 'Approval', {
      definitionFile: props.definitionFile ?? join(projectRoot, 'state-machines', 'approval.asl.json'),
      notifyApprovers: notifyApprovers.function,
      settleRequest: settleRequest.function,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const stateMachine = this.approval.stateMachine;
    const workflowEnv = { STATE_MACHINE_ARN: stateMachine.stateMachineArn };

    const fns: Record<HandlerName, CountersignFunction> = {
      notifyApprovers,
      settleRequest,
      requestAccess: make('requestAccess', workflowEnv),
      getRequest: make('getRequest'),
      claimCredentials: make('claimCredentials'),
      // Its own credentials reach only this account's roles: knowing the account, it refuses to
      // write a member-account target's revocation (by role name) here instead.
      revokeRequest: make('revokeRequest', {
        ...workflowEnv,
        ...slackEnv,
        COUNTERSIGN_ACCOUNT_ID: this.account,
      }),
      decideRequest: make('decideRequest', { ...workflowEnv, ...slackEnv }),
      slackInteractions: make('slackInteractions', { ...workflowEnv, ...slackEnv }),
      linkCloudTrail: make('linkCloudTrail'),
      reports: make('reports'),
    };
    this.functions = fns;
    // The linker tells Countersign's minting (AssumeRole by this role) from an agent's own AssumeRole.
    fns.linkCloudTrail.function.addEnvironment('MINTING_ROLE_ARN', fns.claimCredentials.role.roleArn);

    // --- Permissions, handler by handler -------------------------------------------------------
    for (const name of [
      'requestAccess',
      'claimCredentials',
      'revokeRequest',
      'decideRequest',
      'slackInteractions',
      'notifyApprovers',
      'settleRequest',
      'linkCloudTrail',
    ] as const) {
      this.table.grantReadWrite(fns[name].role);
    }
    this.table.grantRead(fns.getRequest.role);
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

    for (const name of [
      'revokeRequest',
      'decideRequest',
      'slackInteractions',
      'notifyApprovers',
      'settleRequest',
    ] as const) {
      secret.grantRead(fns[name].role);
    }

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

    for (const name of ['decideRequest', 'slackInteractions'] as const) {
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

    // The only function that may mint sessions, and only on the configured target roles.
    fns.claimCredentials.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
        resources: targetRoleArns,
      }),
    );
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
      { method: 'GET', path: '/v1/requests/{id}', handler: fns.getRequest.function },
      { method: 'POST', path: '/v1/requests/{id}/credentials', handler: fns.claimCredentials.function },
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
    });

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
  }
}
