import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../lambdas/core/config.js';
import { TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';

/**
 * Threat (issue 12 items 5 and 6): an agent asking for what no rule should be able to grant —
 * credentials that escape the session policy, notAfter and revocation; permission changes; access
 * to Countersign's own roles — or reaching a denied bucket through an access point alias. Door:
 * `POST /v1/requests`. Guard: never-grantable.ts, checked before any rule. The stack runs with a
 * first rule that allows everything, so each refusal is the guard's, "whatever the rules say".
 */

const TARGET_ROLE = 'arn:aws:iam::111122223333:role/countersign-target';

function configAllowingEverything() {
  const raw = parse(readFileSync(TEST_CONFIG_PATH, 'utf8')) as { rules: unknown[] };
  raw.rules.unshift({ name: 'allow-everything', match: {}, effect: 'allow', maxDurationSeconds: 3600 });
  return parseConfig(raw);
}

describe('never grantable, whatever the rules say', () => {
  let stack: TestStack;
  let agent: string;

  beforeAll(async () => {
    stack = await TestStack.start({ config: configAllowingEverything() });
    agent = await stack.agentToken('greedy-bot');
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const ask = (resource: string, action: string) =>
    stack.request(agent, { resource, actions: [action], reason: 'Trying what should never be granted' });

  it('grants an ordinary request under the same rules (the refusals below are not the rule’s)', async () => {
    const answer = await ask(TABLE('orders'), 'dynamodb:GetItem');
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ status: 'APPROVED', policy: { rule: 'allow-everything' } });
  });

  it.each([
    ['removing the revocation Deny from the target role', TARGET_ROLE, 'iam:DeleteRolePolicy'],
    ['writing an inline policy on the target role', TARGET_ROLE, 'iam:PutRolePolicy'],
    ['a chained session', 'arn:aws:iam::111122223333:role/admin', 'sts:AssumeRole'],
    ['a long-term access key', 'arn:aws:iam::111122223333:user/deploy', 'iam:CreateAccessKey'],
    ['passing a role to a service', 'arn:aws:iam::111122223333:role/admin', 'iam:PassRole'],
    ['rewriting a trust policy', 'arn:aws:iam::111122223333:role/admin', 'iam:UpdateAssumeRolePolicy'],
    ['a console password', 'arn:aws:iam::111122223333:user/deploy', 'iam:CreateLoginProfile'],
    ['a bucket policy (Permissions management)', 'arn:aws:s3:::acme-data', 's3:PutBucketPolicy'],
    [
      'a KMS grant',
      'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'kms:CreateGrant',
    ],
  ])('refuses %s', async (_label, resource, action) => {
    const answer = await ask(resource, action);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      status: 'DENIED',
      policy: { rule: 'never-grantable', effect: 'deny' },
    });
    const body = answer.body as { policy: { reason: string }; outcome: { reason: string } };
    expect(body.policy.reason).toContain(`${action} is never grantable`);
    expect(body.outcome.reason).toBe(body.policy.reason);

    // Recorded: the stored request reads the same.
    const stored = await stack.call('GET', `/v1/requests/${String(answer.body.id)}`, { token: agent });
    expect(stored.body).toMatchObject({ status: 'DENIED', policy: { rule: 'never-grantable' } });
  });

  it.each([
    ['the target role, read', TARGET_ROLE, 'iam:GetRole'],
    [
      'the target role under another path',
      'arn:aws:iam::111122223333:role/ops/countersign-target',
      'iam:GetRole',
    ],
    ['the target role in another case', 'arn:aws:iam::111122223333:role/Countersign-Target', 'iam:TagRole'],
  ])('refuses any action on Countersign’s own resources: %s', async (_label, resource, action) => {
    const answer = await ask(resource, action);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ status: 'DENIED', policy: { rule: 'never-grantable' } });
  });

  it.each([
    [
      'an S3 access point object',
      'arn:aws:s3:us-east-1:111122223333:accesspoint/payroll-ap/object/salaries.csv',
    ],
    [
      'an access point alias used as a bucket name',
      'arn:aws:s3:::payroll-ap-hvu8vb6gk6xqj6ylgvlbs0iclhd1usw2a-s3alias/salaries.csv',
    ],
    [
      'an Object Lambda access point',
      'arn:aws:s3-object-lambda:us-east-1:111122223333:accesspoint/payroll-ol',
      's3-object-lambda:GetObject',
    ],
  ])('refuses a resource alias: %s', async (_label, resource, action = 's3:GetObject') => {
    const answer = await ask(resource, action);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ status: 'DENIED', policy: { rule: 'resource-alias' } });
    expect((answer.body as { policy: { reason: string } }).policy.reason).toMatch(/access point/);
  });

  it('refuses a Multi-Region Access Point (the ARN is refused before policy, or denied as an alias)', async () => {
    const answer = await ask(
      'arn:aws:s3::111122223333:accesspoint/mfzwi23gnjvgw.mrap/object/salaries.csv',
      's3:GetObject',
    );
    if (answer.status === 400) {
      expect((answer.body as { error: { code: string } }).error.code).toBe('ValidationError');
    } else {
      expect(answer.body).toMatchObject({ status: 'DENIED', policy: { rule: 'resource-alias' } });
    }
  });
});
