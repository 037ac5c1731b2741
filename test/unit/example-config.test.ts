import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { iamCatalog } from '../../lambdas/core/iam-catalog.js';
import { decidePolicy } from '../../lambdas/core/never-grantable.js';
import { loadConfigFile } from '../../lib/local/config-file.js';

/**
 * Issue 12 item 9: the example configuration is what people copy. Its `reads` rule must not
 * auto-grant the sensitive or state-changing "reads" README lists; they go to humans.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const config = loadConfigFile(join(ROOT, 'config', 'countersign.example.yaml'));
const catalog = iamCatalog();
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The policy outcome for `actions` on a resource no example rule names by ARN. */
function decide(actions: string[]) {
  const actionAccessLevels = Object.fromEntries(
    actions.map((name) => [name, [...(catalog.lookupAction(name)?.accessLevels ?? [])]]),
  );
  return decidePolicy(config, {
    actions,
    resource: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:prod-db-AbCdEf',
    accessLevels: [...new Set(Object.values(actionAccessLevels).flat())],
    actionAccessLevels,
    requester: { sub: 'deploy-bot', groups: ['agents'] },
  });
}

const SENSITIVE_READS = [
  'secretsmanager:GetSecretValue',
  'secretsmanager:BatchGetSecretValue',
  'ssm:GetParameter',
  'ssm:GetParameters',
  'ssm:GetParametersByPath',
  'ssm:GetParameterHistory',
  'sqs:ReceiveMessage',
  'lambda:GetFunction',
  'lambda:GetFunctionConfiguration',
  'ecr:GetAuthorizationToken',
  'codeartifact:GetAuthorizationToken',
  'ec2:GetPasswordData',
  'glue:GetConnection',
  'glue:GetConnections',
  'kms:Decrypt',
  'kms:GenerateDataKey',
  'rds-db:connect',
  'redshift:GetClusterCredentials',
  'redshift-serverless:GetCredentials',
];

describe('the example configuration', () => {
  it('still auto-allows an ordinary read (the checks below are not vacuous)', () => {
    expect(decide(['secretsmanager:DescribeSecret'])).toMatchObject({ rule: 'reads', effect: 'allow' });
  });

  it.each(SENSITIVE_READS)('does not auto-allow %s, alone or beside an ordinary read', (action) => {
    expect(catalog.lookupAction(action)).toBeDefined();
    expect(decide([action]).effect).not.toBe('allow');
    expect(decide([action, 'secretsmanager:DescribeSecret']).effect).not.toBe('allow');
  });

  it('sends secretsmanager:GetSecretValue and sqs:ReceiveMessage to humans', () => {
    expect(decide(['secretsmanager:GetSecretValue'])).toMatchObject({
      rule: 'sensitive-reads',
      effect: 'approve',
    });
    expect(decide(['sqs:ReceiveMessage'])).toMatchObject({ rule: 'sensitive-reads', effect: 'approve' });
  });

  it('is documented: README lists every sensitive read', () => {
    for (const action of SENSITIVE_READS) expect(README).toContain(`\`${action}\``);
  });
});

describe('match.exceptActions', () => {
  it('is refused on a deny rule, where it would let the excepted actions through', async () => {
    const { parseConfig } = await import('../../lambdas/core/config.js');
    const { parse } = await import('yaml');
    const raw = parse(readFileSync(join(ROOT, 'config', 'countersign.example.yaml'), 'utf8')) as {
      rules: Array<{ match: Record<string, unknown> }>;
    };
    raw.rules[0]!.match.exceptActions = ['dynamodb:GetItem'];
    expect(() => parseConfig(raw)).toThrow(/rules\[deny-destructive\]\.match\.exceptActions/);
  });
});
