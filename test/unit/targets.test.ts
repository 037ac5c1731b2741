import { describe, expect, it } from 'vitest';
import { type CountersignConfig, parseConfig } from '../../lambdas/core/config.js';
import { ConfigError, FailClosedError } from '../../lambdas/core/errors.js';
import { configWarnings, targetFor } from '../../lambdas/core/targets.js';

const base = {
  identity: { audience: 'countersign' },
  roles: { agents: ['agents'], approvers: ['approvers'], auditors: ['auditors'] },
  slack: { channel: 'C0123456789', teamId: 'T0123456789', appId: 'A0123456789', users: {} },
  targets: [
    {
      account: '111122223333',
      roleArn: 'arn:aws:iam::111122223333:role/prod',
      resources: ['arn:aws:s3:::acme-prod-*'],
    },
    {
      account: '444455556666',
      roleArn: 'arn:aws:iam::444455556666:role/data',
      resources: ['arn:aws:s3:::acme-*'],
    },
  ],
  rules: [{ name: 'writes', match: { accessLevels: ['Write'] }, effect: 'approve', approvers: ['alice'] }],
  default: 'deny',
};
const config = (patch: Record<string, unknown> = {}): CountersignConfig => parseConfig({ ...base, ...patch });

describe('targetFor', () => {
  it('maps an ARN with an account to that account', () => {
    expect(targetFor(config(), 'arn:aws:dynamodb:us-east-1:444455556666:table/t').roleArn).toBe(
      'arn:aws:iam::444455556666:role/data',
    );
  });

  it('maps an account-less ARN to the first target whose resources match it', () => {
    expect(targetFor(config(), 'arn:aws:s3:::acme-prod-reports/q3.csv').roleArn).toBe(
      'arn:aws:iam::111122223333:role/prod',
    );
    expect(targetFor(config(), 'arn:aws:s3:::acme-data').roleArn).toBe('arn:aws:iam::444455556666:role/data');
  });

  it('refuses an account-less ARN no target covers, and another partition', () => {
    expect(() => targetFor(config(), 'arn:aws:s3:::other/x')).toThrow(FailClosedError);
    expect(() => targetFor(config(), 'arn:aws:s3:::other/x')).toThrow(
      /No target covers arn:aws:s3:::other\/x/,
    );
    expect(() => targetFor(config(), 'arn:aws-cn:s3:::acme-prod-x')).toThrow(FailClosedError);
    expect(() => targetFor(config(), 'arn:aws:dynamodb:us-east-1:999999999999:table/t')).toThrow(
      /account 999999999999/,
    );
  });
});

describe('targets[].resources in the configuration', () => {
  it('accepts only ARN patterns without an account', () => {
    const bad = {
      targets: [
        {
          account: '111122223333',
          roleArn: 'arn:aws:iam::111122223333:role/prod',
          resources: ['arn:aws:dynamodb:*:111122223333:table/*'],
        },
      ],
    };
    expect(() => config(bad)).toThrow(ConfigError);
    expect(() => config(bad)).toThrow(/targets\[0\]\.resources\[0\].*without an account/);
  });
});

describe('configWarnings', () => {
  const rule = (resources: string[], effect = 'approve') => ({
    rules: [
      {
        name: 'buckets',
        match: { resources },
        effect,
        ...(effect === 'approve' ? { approvers: ['alice'] } : {}),
      },
    ],
  });

  it('warns about a rule that can only reach account-less ARNs no target covers', () => {
    const warnings = configWarnings(config(rule(['arn:aws:s3:::finance-*', 'arn:aws:s3:::hr-*/*'])));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^rules\[buckets\]\.match\.resources: /);
  });

  it('is quiet when a target covers some pattern, for ARNs with accounts, and for deny rules', () => {
    expect(configWarnings(config(rule(['arn:aws:s3:::acme-prod-logs/*'])))).toEqual([]);
    expect(configWarnings(config(rule(['arn:aws:s3:::*'])))).toEqual([]);
    expect(
      configWarnings(config(rule(['arn:aws:s3:::finance-*', 'arn:aws:dynamodb:*:111122223333:table/*']))),
    ).toEqual([]);
    expect(configWarnings(config(rule(['arn:aws:s3:::finance-*'], 'deny')))).toEqual([]);
    const noResources = { targets: base.targets.map(({ resources: _r, ...t }) => t) };
    expect(configWarnings(config({ ...noResources, ...rule(['arn:aws:s3:::finance-*']) }))).toHaveLength(1);
  });
});
