import { readFileSync } from 'node:fs';
import { Aws, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { auditLogGroup } from './audit-logs.js';

/** The placeholders the ASL file may use, each replaced by CloudFormation with a function's ARN. */
const DEFINITION_PLACEHOLDERS = ['NotifyApproversFunctionArn', 'SettleRequestFunctionArn'] as const;
type DefinitionPlaceholder = (typeof DEFINITION_PLACEHOLDERS)[number];

/** The only task resources the state machine's role is allowed to serve. */
const ALLOWED_TASK_RESOURCES = new Set([
  'arn:aws:states:::lambda:invoke',
  'arn:aws:states:::lambda:invoke.waitForTaskToken',
]);

type AslState = {
  Type?: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Arguments?: Record<string, unknown>;
  Branches?: Array<{ States?: Record<string, AslState> }>;
  Iterator?: { States?: Record<string, AslState> };
  ItemProcessor?: { States?: Record<string, AslState> };
};

/**
 * Checks the ASL text against what the role grants, so the two cannot drift apart silently: the
 * file must be JSON, use exactly the known placeholders, and contain only Lambda-invoke tasks whose
 * FunctionName is one of them. Anything else would fail at run time with AccessDenied in the middle
 * of someone's approval; failing the synth is kinder. Throws an Error naming the file and the state.
 */
export function checkApprovalDefinition(text: string, file: string): void {
  let definition: { States?: Record<string, AslState> };
  try {
    definition = JSON.parse(text);
  } catch (cause) {
    throw new Error(`${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const known = new Set<string>(DEFINITION_PLACEHOLDERS);
  const used = new Set([...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]!));
  for (const name of used) {
    if (!known.has(name)) {
      throw new Error(
        `${file} uses \${${name}}, which the stack does not substitute (known: ${[...known].join(', ')})`,
      );
    }
  }
  for (const name of known) {
    if (!used.has(name)) throw new Error(`${file} never references \${${name}}`);
  }
  const placeholders = new Set(DEFINITION_PLACEHOLDERS.map((p) => `\${${p}}`));
  const visit = (states: Record<string, AslState> | undefined, where: string): void => {
    for (const [name, state] of Object.entries(states ?? {})) {
      const path = `${where}${name}`;
      if (state.Type === 'Task') {
        const resource = state.Resource ?? '';
        const target = state.Parameters?.FunctionName ?? state.Arguments?.FunctionName;
        const direct = placeholders.has(resource);
        if (!direct && !(ALLOWED_TASK_RESOURCES.has(resource) && placeholders.has(String(target)))) {
          throw new Error(
            `${file}: state ${path} calls ${resource}${target ? ` on ${String(target)}` : ''}; the workflow role may only invoke \${NotifyApproversFunctionArn} and \${SettleRequestFunctionArn}`,
          );
        }
      }
      state.Branches?.forEach((branch, i) => {
        visit(branch.States, `${path}.Branches[${i}].`);
      });
      visit(state.Iterator?.States, `${path}.Iterator.`);
      visit(state.ItemProcessor?.States, `${path}.ItemProcessor.`);
    }
  };
  visit(definition.States, '');
}

export interface ApprovalStateMachineProps {
  /** Path of the ASL JSON file (the same file the local stack runs). */
  readonly definitionFile: string;
  /** Posts the approval request and holds the task token (`.waitForTaskToken`). */
  readonly notifyApprovers: lambda.IFunction;
  /** Grants, times out and expires requests. */
  readonly settleRequest: lambda.IFunction;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The approval workflow: a Standard state machine (Express workflows cannot wait on a task token)
 * built from the ASL file. The definition is inlined in the template rather than uploaded as an
 * asset, so `cdk diff` shows a change to the approval workflow line by line, not as a new hash.
 */
export class ApprovalStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApprovalStateMachineProps) {
    super(scope, id);
    const text = readFileSync(props.definitionFile, 'utf8');
    checkApprovalDefinition(text, props.definitionFile);

    this.logGroup = auditLogGroup(this, 'Logs', props.logRetention, {
      // The vendedlogs prefix keeps Step Functions from growing the account's CloudWatch Logs
      // resource policy (capped at 5,120 characters). The stack id's GUID ends the name because the
      // group is retained: a stack deleted and created again must not collide with its old logs.
      logGroupName: Fn.join('', [
        `/aws/vendedlogs/states/${Stack.of(this).stackName}-approval-`,
        Fn.select(2, Fn.split('/', Aws.STACK_ID)),
      ]),
    });

    const substitutions: Record<DefinitionPlaceholder, string> = {
      NotifyApproversFunctionArn: props.notifyApprovers.functionArn,
      SettleRequestFunctionArn: props.settleRequest.functionArn,
    };
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(text),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      logs: {
        destination: this.logGroup,
        level: sfn.LogLevel.ALL,
        // Every event is logged, without its payload: task tokens and agents' untrusted text stay in
        // the execution history (behind states:GetExecutionHistory) instead of being copied to logs.
        includeExecutionData: false,
      },
    });
    // Unqualified ARNs only: the ASL invokes $LATEST, so no `:*` for versions and aliases is needed.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [props.notifyApprovers.functionArn, props.settleRequest.functionArn],
      }),
    );

    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions logging and tracing: logs:*LogDelivery*, logs:PutResourcePolicy, logs:DescribeResourcePolicies, logs:DescribeLogGroups and xray:PutTraceSegments/PutTelemetryRecords/GetSamplingRules/GetSamplingTargets have no resource-level permissions and require "*".',
    });
  }
}
