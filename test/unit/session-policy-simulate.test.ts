// @cloud-copilot/iam-simulate is AGPL: it is a test-only oracle here and must never be imported from
// lambdas/ or lib/ (nor end up in a bundle).
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../lambdas/core/model.js';
import { buildSessionPolicy } from '../../lambdas/core/session-policy.js';
import { validateAccessRequest } from '../../lambdas/core/validate-request.js';

/**
 * What AWS would decide for a session of the target role: the role may do anything (`*` on `*`),
 * so whatever the session can do is exactly what the session policy lets through. For each kind of
 * resource agents commonly ask for, the approved action on the approved ARN is allowed before
 * notAfter, and a sibling resource, another action, and the same action at or after notAfter are not.
 */

const ACCOUNT = '111122223333';
const NOT_AFTER = '2030-01-31T12:15:00Z';
const BEFORE = '2030-01-31T12:14:59Z';
const AFTER = '2030-01-31T12:15:01Z';
const ROLE_ALLOWS_EVERYTHING = {
  name: 'countersign-target',
  policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
};

async function decide(
  sessionPolicy: PolicyDocument | undefined,
  action: string,
  resource: string,
  at: string,
): Promise<string> {
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/countersign-target/req_01`,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:CurrentTime': at },
      },
      identityPolicies: [ROLE_ALLOWS_EVERYTHING],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(sessionPolicy ? { sessionPolicy } : {}),
    },
    {},
  );
  // A simulation that could not run (a bad policy, an action that does not fit the ARN) must fail
  // the test, never count as a denial.
  if (response.resultType === 'error')
    throw new Error(`simulation failed: ${JSON.stringify(response.errors)}`);
  return response.overallResult;
}

describe.each([
  {
    kind: 'DynamoDB table',
    resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders`,
    action: 'dynamodb:PutItem',
    sibling: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders-archive`,
    other: 'dynamodb:DeleteItem',
  },
  {
    kind: 'S3 object',
    resource: 'arn:aws:s3:::reports/2024/q1.csv',
    action: 's3:GetObject',
    sibling: 'arn:aws:s3:::reports/2024/q1.csv.bak',
    other: 's3:PutObject',
  },
  {
    kind: 'S3 bucket',
    resource: 'arn:aws:s3:::reports',
    action: 's3:ListBucket',
    sibling: 'arn:aws:s3:::reports-archive',
    other: 's3:PutBucketPolicy',
  },
  {
    kind: 'Lambda function',
    resource: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:resize`,
    action: 'lambda:InvokeFunction',
    sibling: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:resize-images`,
    other: 'lambda:UpdateFunctionCode',
  },
  {
    kind: 'SQS queue',
    resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`,
    action: 'sqs:SendMessage',
    sibling: `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs-dlq`,
    other: 'sqs:PurgeQueue',
  },
  {
    kind: 'Secrets Manager secret',
    resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/db-AbCdEf`,
    action: 'secretsmanager:GetSecretValue',
    sibling: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/db-admin-XyZabc`,
    other: 'secretsmanager:PutSecretValue',
  },
  {
    kind: 'SSM parameter',
    resource: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/app/prod/db-url`,
    action: 'ssm:GetParameter',
    sibling: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/app/prod/db-url/replica`,
    other: 'ssm:PutParameter',
  },
  {
    kind: 'EKS cluster',
    resource: `arn:aws:eks:us-east-1:${ACCOUNT}:cluster/prod`,
    action: 'eks:DescribeCluster',
    sibling: `arn:aws:eks:us-east-1:${ACCOUNT}:cluster/prod-canary`,
    other: 'eks:DeleteCluster',
  },
  {
    kind: 'RDS cluster',
    resource: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:orders`,
    action: 'rds:RebootDBCluster',
    sibling: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:orders-replica`,
    other: 'rds:DeleteDBCluster',
  },
])('a session policy for $action on a $kind', ({ resource, action, sibling, other }) => {
  // The same path a real request takes: validated, canonicalised, then built.
  const valid = validateAccessRequest({ resource, actions: [action], reason: 'simulation' });
  const { document } = buildSessionPolicy({
    actions: valid.actions,
    resource: valid.resource,
    notAfter: NOT_AFTER,
  });

  it('allows the approved action on the approved ARN before notAfter', async () => {
    // Act / Assess
    expect(await decide(document, action, resource, BEFORE)).toBe('Allowed');
  });

  it.each([
    ['a sibling resource', () => [action, sibling, BEFORE]],
    ['another action', () => [other, resource, BEFORE]],
    ['the same action at notAfter', () => [action, resource, NOT_AFTER]],
    ['the same action after notAfter', () => [action, resource, AFTER]],
  ])('denies %s', async (_name, request) => {
    // Prepare
    const [requestedAction, requestedResource, at] = request() as [string, string, string];

    // Act
    const withoutGrant = await decide(undefined, requestedAction, requestedResource, at);
    const withGrant = await decide(document, requestedAction, requestedResource, at);

    // Assess: the role alone would allow it, so the denial is the session policy's doing
    expect(withoutGrant).toBe('Allowed');
    expect(withGrant).toBe('ImplicitlyDenied');
  });
});
