import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { REVOCATION_POLICY_NAME } from '../../lambdas/adapters/iam-revoker.js';
import { CountersignTargetRole, CountersignTargetRoleStack } from '../../lib/aws/target-role.js';
import { newApp } from './synth.js';
import {
  type CfnTemplate,
  identityStatements,
  logicalId,
  propsOf,
  type RoleProps,
  type RuleProps,
  resourcesOf,
} from './template-helpers.js';

const MINTER = 'arn:aws:iam::999988887777:role/Countersign-ClaimCredentialsRole-0123456789AB';
const REVOKING = 'arn:aws:iam::999988887777:role/Countersign-RevokeRequestRole-0123456789AB';
const BUS = 'arn:aws:events:eu-west-1:999988887777:event-bus/default';
const POLICIES = [
  'arn:aws:iam::aws:policy/ReadOnlyAccess',
  'arn:aws:iam::111122223333:policy/countersign-ceiling',
];

let stack: CountersignTargetRoleStack;
let template: Template;
let json: CfnTemplate;
let roleId: string;
let revokerId: string;

beforeAll(() => {
  const app = newApp();
  stack = new CountersignTargetRoleStack(app, 'Target', {
    mintingRoleArn: MINTER,
    revokingRoleArn: REVOKING,
    managedPolicyArns: POLICIES,
    eventBusArn: BUS,
  });
  // cdk-nag runs here: the AWS-managed policy must be acknowledged as the operator's chosen ceiling.
  app.synth();
  template = Template.fromStack(stack);
  json = template.toJSON() as CfnTemplate;
  roleId = logicalId(stack, stack.targetRole.role);
  revokerId = logicalId(stack, stack.targetRole.revoker);
}, 180_000);

describe('CountersignTargetRole', () => {
  it('trusts only the minting role, and only when it sets a SourceIdentity', () => {
    const role = propsOf<RoleProps>(json, roleId);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { AWS: MINTER },
        Condition: { Null: { 'sts:SourceIdentity': 'false' } },
      },
      { Effect: 'Allow', Action: ['sts:SetSourceIdentity', 'sts:TagSession'], Principal: { AWS: MINTER } },
    ]);
  });

  it('lasts at most an hour, is named, and has exactly the operator’s managed policies', () => {
    const role = propsOf<RoleProps>(json, roleId);
    expect(role.MaxSessionDuration).toBe(3600);
    expect(role.RoleName).toBe('countersign-target');
    expect(role.ManagedPolicyArns).toEqual(POLICIES);
  });

  it('owns no inline policy, so a deploy can never erase the revocations revoke-request wrote', () => {
    const role = propsOf<RoleProps>(json, roleId);
    expect(role.Policies).toBeUndefined();
    expect(identityStatements(json).filter((s) => s.roles.includes(roleId))).toEqual([]);
    expect(JSON.stringify(json)).not.toContain(REVOCATION_POLICY_NAME);
  });

  it('is retained when its stack is deleted', () => {
    expect(json.Resources[roleId]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('forwards the calls made with its sessions, read-only ones included, to the Countersign bus', () => {
    const rules = resourcesOf<RuleProps>(json, 'AWS::Events::Rule').map((r) => r.props);
    expect(rules).toHaveLength(1);
    expect(rules[0]!.State).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
    expect(rules[0]!.EventPattern).toEqual({
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'Fn::GetAtt': [roleId, 'Arn'] }] } } },
      },
    });
    expect(rules[0]!.Targets).toEqual([expect.objectContaining({ Arn: BUS })]);
  });

  it('refuses to be created without any permission to narrow', () => {
    const app = newApp();
    const bare = new CountersignTargetRoleStack(app, 'Bare', {
      mintingRoleArn: MINTER,
      revokingRoleArn: REVOKING,
      managedPolicyArns: POLICIES,
    });
    expect(
      () =>
        new CountersignTargetRole(bare, 'Empty', {
          mintingRoleArn: MINTER,
          revokingRoleArn: REVOKING,
          managedPolicyArns: [],
        }),
    ).toThrow(/at least one managed policy/);
  });
});

describe('the revoker role beside it', () => {
  it('is named countersign-revoker and trusts only the revoke-request role', () => {
    const revoker = propsOf<RoleProps>(json, revokerId);
    expect(revoker.RoleName).toBe('countersign-revoker');
    expect(revoker.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { AWS: REVOKING } },
    ]);
    expect(revoker.ManagedPolicyArns).toBeUndefined();
  });

  it('may only read, write and delete the target role’s inline policies, on that role alone', () => {
    const statements = identityStatements(json).filter((s) => s.roles.includes(revokerId));
    expect(statements.map((s) => s.statement)).toEqual([
      {
        Effect: 'Allow',
        Action: ['iam:DeleteRolePolicy', 'iam:GetRolePolicy', 'iam:PutRolePolicy'],
        Resource: { 'Fn::GetAtt': [roleId, 'Arn'] },
      },
    ]);
    // No other role of the stack may touch IAM.
    const otherIam = identityStatements(json).filter(
      (s) => !s.roles.includes(revokerId) && JSON.stringify(s.statement.Action).includes('iam:'),
    );
    expect(otherIam).toEqual([]);
  });

  it('keeps minting and revoking apart: neither role trusts the other’s principal', () => {
    const target = JSON.stringify(propsOf<RoleProps>(json, roleId).AssumeRolePolicyDocument);
    const revoker = JSON.stringify(propsOf<RoleProps>(json, revokerId).AssumeRolePolicyDocument);
    expect(target).not.toContain(REVOKING);
    expect(revoker).not.toContain(MINTER);
  });

  it('exports both ARNs for config.targets', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.TargetRoleArn?.Value).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(outputs.RevokerRoleArn?.Value).toEqual({ 'Fn::GetAtt': [revokerId, 'Arn'] });
  });
});
