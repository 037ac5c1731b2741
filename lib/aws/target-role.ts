import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CloudTrailForwarding } from './cloudtrail-linkage.js';

export interface CountersignTargetRoleProps {
  /**
   * ARN of the claim-credentials function's role in the Countersign account (the stack's
   * `ClaimCredentialsRoleArn` output): the only principal that may assume this role.
   */
  readonly mintingRoleArn: string;
  /**
   * Managed policies giving the role the most any grant could need. Each session is narrowed to
   * one action set on one resource by its session policy, which can only remove permissions: an
   * action missing here can never be granted, whatever the approvers say.
   */
  readonly managedPolicyArns: readonly string[];
  /** @default 'countersign-target' (the name the example configuration uses) */
  readonly roleName?: string;
}

/**
 * The role Countersign's sessions run as, in an account whose resources it guards.
 *
 * - Only the minting function's role may assume it, and only while setting a SourceIdentity (which
 *   then sticks to the session and shows in every CloudTrail record it makes).
 * - Sessions last at most one hour: the minting function assumes it by role chaining, which AWS
 *   caps at one hour anyway.
 * - Its inline policy `countersign-revocations` belongs to revoke-request, which rewrites it at run
 *   time. CloudFormation must never own a policy of that name, or a deploy would erase live
 *   revocations; this construct therefore declares no inline policies at all.
 */
export class CountersignTargetRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: CountersignTargetRoleProps) {
    super(scope, id);
    if (props.managedPolicyArns.length === 0) {
      throw new Error(
        'CountersignTargetRole needs at least one managed policy: with none, no grant could do anything',
      );
    }
    const minter = new iam.ArnPrincipal(props.mintingRoleArn);
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName ?? 'countersign-target',
      description: 'Countersign: sessions minted for approved requests, each narrowed by a session policy',
      maxSessionDuration: Duration.hours(1),
      assumedBy: minter.withConditions({ Null: { 'sts:SourceIdentity': 'false' } }),
      managedPolicies: props.managedPolicyArns.map((arn, i) =>
        iam.ManagedPolicy.fromManagedPolicyArn(this, `Permissions${i}`, arn),
      ),
    });
    this.role.assumeRolePolicy!.addStatements(
      new iam.PolicyStatement({
        actions: ['sts:SetSourceIdentity', 'sts:TagSession'],
        principals: [minter],
      }),
    );
    for (const arn of props.managedPolicyArns.filter((a) => /^arn:aws[a-z-]*:iam::aws:policy\//.test(a))) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM4[Policy::${arn}]`,
        reason:
          'Chosen by the operator as the ceiling of what any grant may do; every session is narrowed by a session policy to the approved actions on the approved resource until notAfter.',
      });
    }
    // Deleting the stack must not fail on (or silently drop) a role that still carries revocations.
    this.role.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}

export interface CountersignTargetRoleStackProps extends StackProps, CountersignTargetRoleProps {
  /**
   * The Countersign account's default event bus; when given, the calls made with the role's
   * sessions are forwarded there (the Countersign account must allow this account to put events:
   * list it in `config.targets`).
   * @default - no forwarding (the role is in the Countersign account itself)
   */
  readonly eventBusArn?: string;
}

/** A stack holding one CountersignTargetRole (and its CloudTrail forwarding), for member accounts. */
export class CountersignTargetRoleStack extends Stack {
  public readonly targetRole: CountersignTargetRole;

  constructor(scope: Construct, id: string, props: CountersignTargetRoleStackProps) {
    super(scope, id, props);
    this.targetRole = new CountersignTargetRole(this, 'Target', props);
    if (props.eventBusArn) {
      new CloudTrailForwarding(this, 'Forwarding', {
        roleArns: [this.targetRole.role.roleArn],
        eventBusArn: props.eventBusArn,
      });
    }
    new CfnOutput(this, 'TargetRoleArn', {
      value: this.targetRole.role.roleArn,
      description: 'Put this in config.targets[].roleArn',
    });
  }
}
