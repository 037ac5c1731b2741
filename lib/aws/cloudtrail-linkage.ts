import { Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

/**
 * A rule in the plain ENABLED state never sees read-only management events (Get*, List*,
 * Describe*), and the `reads` kind of grant is exactly those: without this state the evidence of
 * a read grant would always be empty. STS AssumeRole is itself a read-only management event, so
 * the rule that links minted sessions needs this state too.
 */
const RECEIVE_READ_ONLY_EVENTS = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

function receiveReadOnlyEvents(rule: events.Rule): events.Rule {
  (rule.node.defaultChild as events.CfnRule).state = RECEIVE_READ_ONLY_EVENTS;
  return rule;
}

/**
 * EventBridge refuses an event pattern longer than 4,096 characters. Role ARNs are packed into as
 * few patterns as fit under this budget (the rest of the pattern and JSON quoting included), so
 * adding targets adds rules instead of failing the deploy.
 */
export const MAX_EVENT_PATTERN_CHARS = 4096;
const PATTERN_BUDGET = MAX_EVENT_PATTERN_CHARS - 512;

/** Splits `roleArns` into groups whose patterns (see cloudTrailEventPatterns) each fit EventBridge's limit. */
export function chunkRoleArns(roleArns: readonly string[], budget = PATTERN_BUDGET): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const arn of new Set(roleArns)) {
    const cost = JSON.stringify(arn).length + 1;
    if (current.length > 0 && size + cost > budget) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(arn);
    size += cost;
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current);
  return chunks;
}

/**
 * The CloudTrail events that belong to an evidence record (fact 6): calls made with a session of a
 * target role, and the AssumeRole calls that minted those sessions. EventBridge is regional and
 * per account: events of member accounts arrive here only if forwarded (see CloudTrailForwarding).
 */
function cloudTrailEventPatterns(roleArns: readonly string[]): {
  sessionActivity: events.EventPattern;
  assumeRole: events.EventPattern;
} {
  return {
    sessionActivity: {
      detailType: [CLOUDTRAIL_DETAIL_TYPE],
      detail: { userIdentity: { sessionContext: { sessionIssuer: { arn: [...roleArns] } } } },
    },
    assumeRole: {
      source: ['aws.sts'],
      detailType: [CLOUDTRAIL_DETAIL_TYPE],
      detail: {
        eventSource: ['sts.amazonaws.com'],
        eventName: ['AssumeRole'],
        requestParameters: { roleArn: [...roleArns] },
      },
    },
  };
}

export interface CloudTrailLinkageProps {
  /** The linker (link-cloudtrail handler). */
  readonly linker: lambda.Function;
  /** The target role ARNs of the configuration. */
  readonly roleArns: readonly string[];
  /**
   * Accounts allowed to forward their CloudTrail events to this account's default event bus (the
   * member accounts of `config.targets`).
   * @default - none
   */
  readonly sourceAccounts?: readonly string[];
}

/**
 * Routes target-role CloudTrail events from the default event bus to the linker. Events the linker
 * could not take (EventBridge gave up, or the function kept failing) land in a dead-letter queue
 * rather than vanishing: a lost event is a hole in someone's evidence record.
 */
export class CloudTrailLinkage extends Construct {
  public readonly rules: events.Rule[];
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: CloudTrailLinkageProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the CloudTrail EventBridge targets and of the linker’s asynchronous invocations.',
    });

    props.linker.configureAsyncInvoke({
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    const target = new targets.LambdaFunction(props.linker, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 8,
      maxEventAge: Duration.hours(24),
    });
    // The first pair keeps the ids of a single-rule stack, so existing stacks update in place.
    this.rules = chunkRoleArns(props.roleArns).flatMap((arns, i) => {
      const patterns = cloudTrailEventPatterns(arns);
      const suffix = i === 0 ? '' : String(i + 1);
      return [
        receiveReadOnlyEvents(
          new events.Rule(this, `SessionActivity${suffix}`, {
            description: 'Countersign: calls made with a session of a target role',
            eventPattern: patterns.sessionActivity,
            targets: [target],
          }),
        ),
        receiveReadOnlyEvents(
          new events.Rule(this, `AssumeRole${suffix}`, {
            description: 'Countersign: AssumeRole calls on a target role (a read-only management event)',
            eventPattern: patterns.assumeRole,
            targets: [target],
          }),
        ),
      ];
    });

    const stackName = Stack.of(this).stackName;
    for (const account of new Set(props.sourceAccounts ?? [])) {
      new events.CfnEventBusPolicy(this, `Forwarding${account}`, {
        // Unique per stack and account: the default bus's policy is shared by everything in the region.
        statementId: `${stackName}-${account}`.slice(-64),
        statement: {
          Effect: 'Allow',
          Principal: { AWS: account },
          Action: 'events:PutEvents',
          Resource: `arn:${Stack.of(this).partition}:events:${Stack.of(this).region}:${Stack.of(this).account}:event-bus/default`,
        },
      });
    }
  }
}

export interface CloudTrailForwardingProps {
  /** The target role ARNs in this (member) account. */
  readonly roleArns: readonly string[];
  /** The Countersign account's default event bus, `arn:aws:events:<region>:<account>:event-bus/default`. */
  readonly eventBusArn: string;
}

/**
 * Deployed in a member account beside the target role: forwards the calls made with the role's
 * sessions to the Countersign account's event bus, where CloudTrailLinkage picks them up.
 * AssumeRole is not forwarded: the claim function calls STS from the Countersign account, so
 * CloudTrail already records that call there, and a forwarded copy (another eventID) would be
 * linked twice.
 */
export class CloudTrailForwarding extends Construct {
  /** The first of `rules`. */
  public readonly rule: events.Rule;
  public readonly rules: events.Rule[];

  constructor(scope: Construct, id: string, props: CloudTrailForwardingProps) {
    super(scope, id);
    const bus = events.EventBus.fromEventBusArn(this, 'ControlPlaneBus', props.eventBusArn);
    this.rules = chunkRoleArns(props.roleArns).map((arns, i) =>
      receiveReadOnlyEvents(
        new events.Rule(this, `SessionActivity${i === 0 ? '' : String(i + 1)}`, {
          description: 'Countersign: forward calls made with a session of the target role',
          eventPattern: cloudTrailEventPatterns(arns).sessionActivity,
          targets: [new targets.EventBus(bus)],
        }),
      ),
    );
    this.rule = this.rules[0]!;
  }
}

export interface CloudTrailForwardingStackProps extends StackProps, CloudTrailForwardingProps {}

/**
 * Only the forwarding rule(s), for a region where target-role sessions act but no
 * CountersignTargetRole stack is deployed (EventBridge is regional; IAM roles are global, so a
 * second target-role stack in the same account would collide on the roles' fixed names). Holds no
 * fixed-name resource: deploy it once per account and region.
 */
export class CloudTrailForwardingStack extends Stack {
  public readonly forwarding: CloudTrailForwarding;

  constructor(scope: Construct, id: string, props: CloudTrailForwardingStackProps) {
    super(scope, id, props);
    if (props.roleArns.length === 0) throw new Error('CloudTrailForwardingStack needs at least one role ARN');
    this.forwarding = new CloudTrailForwarding(this, 'Forwarding', props);
  }
}
