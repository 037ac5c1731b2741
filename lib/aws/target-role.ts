import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CloudTrailForwarding } from './cloudtrail-linkage.js';

/** The name of the revoker role: one per account (`config.targets` lists each account once). */
export const REVOKER_ROLE_NAME = 'countersign-revoker';

export interface CountersignTargetRoleProps {
  /**
   * ARN of the claim-credentials function's role in the Countersign account (the stack's
   * `ClaimCredentialsRoleArn` output): the only principal that may assume this role.
   */
  readonly mintingRoleArn: string;
  /**
   * ARN of the execute-call function's role (the stack's `ExecuteCallRoleArn` output), which mints
   * the session of each approved exact call and makes the call itself. Trusted exactly as the
   * minting role is. @default - exact calls cannot run as this role
   */
  readonly executingRoleArn?: string;
  /**
   * ARN of the revoke-request function's role in the Countersign account (the stack's
   * `RevokeRequestRoleArn` output): the only principal that may assume the revoker role.
   */
  readonly revokingRoleArn: string;
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
 *   revocations; this construct therefore declares no inline policies on it at all.
 * - IAM only changes roles of the caller's own account, so revoke-request cannot write that policy
 *   from the Countersign account. The `countersign-revoker` role, in this account, does it for
 *   revoke-request: only revoke-request's role may assume it, and it may only read, write and
 *   delete the target role's inline policies (`config.targets[].revokerRoleArn`).
 */
export class CountersignTargetRole extends Construct {
  public readonly role: iam.Role;
  /** Assumed by revoke-request to write revocations on `role`. */
  public readonly revoker: iam.Role;

  constructor(scope: Construct, id: string, props: CountersignTargetRoleProps) {
    super(scope, id);
    if (props.managedPolicyArns.length === 0) {
      throw new Error(
        'CountersignTargetRole needs at least one managed policy: with none, no grant could do anything',
      );
    }
    const minters = [props.mintingRoleArn, ...(props.executingRoleArn ? [props.executingRoleArn] : [])].map(
      (arn) => new iam.ArnPrincipal(arn),
    );
    const minter: iam.IPrincipal =
      minters.length === 1 ? minters[0]! : new iam.CompositePrincipal(...minters);
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName ?? 'countersign-target',
      description: 'Countersign: sessions minted for approved requests, each narrowed by a session policy',
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.PrincipalWithConditions(minter, { Null: { 'sts:SourceIdentity': 'false' } }),
      managedPolicies: props.managedPolicyArns.map((arn, i) =>
        iam.ManagedPolicy.fromManagedPolicyArn(this, `Permissions${i}`, arn),
      ),
    });
    this.role.assumeRolePolicy!.addStatements(
      new iam.PolicyStatement({
        actions: ['sts:SetSourceIdentity', 'sts:TagSession'],
        principals: minters,
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

    this.revoker = new iam.Role(this, 'Revoker', {
      roleName: REVOKER_ROLE_NAME,
      description: 'Countersign: revoke-request writes revocations on the target role through this role',
      // revoke-request asks for STS's shortest session (900 s); by role chaining an hour is the cap anyway.
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.ArnPrincipal(props.revokingRoleArn),
      inlinePolicies: {
        // IAM has no condition key for an inline policy's name: the handler is what keeps these
        // writes to `countersign-revocations`, as it does for same-account targets.
        'countersign-revoke': new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['iam:GetRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy'],
              resources: [this.role.roleArn],
            }),
          ],
        }),
      },
    });
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
    new CfnOutput(this, 'RevokerRoleArn', {
      value: this.targetRole.revoker.roleArn,
      description: 'Put this in config.targets[].revokerRoleArn',
    });
  }
}
