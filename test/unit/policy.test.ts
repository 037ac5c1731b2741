import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambdas/core/config.js';
import { FailClosedError } from '../../lambdas/core/errors.js';
import { globMatch } from '../../lambdas/core/glob.js';
import type { PolicyOutcome } from '../../lambdas/core/model.js';
import { evaluatePolicy, grantDurationSeconds, type PolicyInput } from '../../lambdas/core/policy.js';

const config = parseConfig({
  identity: { audience: 'countersign' },
  roles: { agents: ['agents'], approvers: ['approvers'], auditors: ['auditors'] },
  slack: { channel: 'C0123456789', teamId: 'T0123456789', appId: 'A0123456789', users: {} },
  targets: [{ account: '111122223333', roleArn: 'arn:aws:iam::111122223333:role/countersign-target' }],
  rules: [
    { name: 'deny-destructive', match: { actions: ['dynamodb:DeleteTable', 's3:Delete*'] }, effect: 'deny' },
    { name: 'deny-permissions', match: { accessLevels: ['Permissions management'] }, effect: 'deny' },
    {
      name: 'ci-artifacts',
      match: {
        agentGroups: ['ci-*'],
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: ['arn:aws:s3:::artifacts/*'],
      },
      effect: 'allow',
    },
    {
      name: 'night-bot',
      match: { agents: ['night-bot-??'] },
      effect: 'approve',
      approvers: ['group:oncall'],
    },
    { name: 'reads', match: { accessLevels: ['Read', 'List'] }, effect: 'allow', maxDurationSeconds: 3600 },
    {
      name: 'writes',
      match: { accessLevels: ['Write'], resources: ['arn:aws:dynamodb:*:111122223333:table/*'] },
      effect: 'approve',
      approvers: ['alice@example.com', 'bob@example.com'],
      quorum: 2,
      approvalTimeoutSeconds: 600,
      maxDurationSeconds: 1800,
      minReviewSeconds: 5,
      minReviewMode: 'flag',
    },
  ],
  default: 'deny',
});

const TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const agent = { sub: 'deploy-bot', groups: ['agents'] };
const input = (
  actions: string[],
  accessLevels: string[],
  resource = TABLE,
  requester = agent,
): PolicyInput => ({
  actions,
  resource,
  accessLevels,
  requester,
});

describe('evaluatePolicy', () => {
  it.each<[string, PolicyInput, string, PolicyOutcome['effect']]>([
    // first match wins
    ['a read, by the reads rule', input(['dynamodb:GetItem'], ['Read']), 'reads', 'allow'],
    ['a table write, by the writes rule', input(['dynamodb:PutItem'], ['Write']), 'writes', 'approve'],
    [
      'a destructive action before any allow',
      input(['dynamodb:DeleteTable'], ['Write']),
      'deny-destructive',
      'deny',
    ],
    [
      'a write elsewhere, by nothing',
      input(['sqs:SendMessage'], ['Write'], 'arn:aws:sqs:us-east-1:111122223333:q'),
      'default',
      'deny',
    ],
    // multi-action requests fail closed
    [
      'one destructive action among reads',
      input(['dynamodb:GetItem', 'dynamodb:DeleteTable'], ['Read', 'Write']),
      'deny-destructive',
      'deny',
    ],
    [
      'a read and a write together (no rule allows both)',
      input(['dynamodb:GetItem', 'dynamodb:PutItem'], ['Read', 'Write']),
      'default',
      'deny',
    ],
    ['two reads', input(['dynamodb:GetItem', 'dynamodb:Query'], ['Read']), 'reads', 'allow'],
    // access levels, compound ones included
    [
      'a compound Permissions management + Write action',
      input(['iam:PutRolePolicy'], ['Permissions management', 'Write'], 'arn:aws:iam::111122223333:role/r'),
      'deny-permissions',
      'deny',
    ],
    [
      'a Tagging + Write action, which a Write-only rule does not name in full',
      input(['dynamodb:TagResource'], ['Tagging', 'Write']),
      'default',
      'deny',
    ],
    [
      'unknown access levels, caught by the first deny rule that names levels',
      input(['dynamodb:GetItem'], []),
      'deny-permissions',
      'deny',
    ],
    // action globs are case-insensitive, resource globs are not
    [
      'an action glob in another case',
      input(['S3:DELETEOBJECT'], ['Write'], 'arn:aws:s3:::artifacts/x'),
      'deny-destructive',
      'deny',
    ],
    [
      'CI writing an artifact',
      input(['s3:PutObject'], ['Write'], 'arn:aws:s3:::artifacts/build/1.zip', {
        sub: 'ci',
        groups: ['agents', 'ci-main'],
      }),
      'ci-artifacts',
      'allow',
    ],
    [
      'CI writing to a bucket of another case',
      input(['s3:PutObject'], ['Write'], 'arn:aws:s3:::Artifacts/build/1.zip', {
        sub: 'ci',
        groups: ['ci-main'],
      }),
      'default',
      'deny',
    ],
    [
      'CI with an action the rule does not name among ones it does',
      input(
        ['s3:PutObject', 's3:PutObjectAcl'],
        ['Write', 'Permissions management'],
        'arn:aws:s3:::artifacts/x',
        { sub: 'ci', groups: ['ci-main'] },
      ),
      'deny-permissions',
      'deny',
    ],
    [
      'CI with two named actions',
      input(['s3:GetObject', 's3:PutObject'], ['Read', 'Write'], 'arn:aws:s3:::artifacts/x', {
        sub: 'ci',
        groups: ['ci-main'],
      }),
      'ci-artifacts',
      'allow',
    ],
    // agent groups and agents
    [
      'an agent outside the CI groups',
      input(['s3:PutObject'], ['Write'], 'arn:aws:s3:::artifacts/x'),
      'default',
      'deny',
    ],
    [
      'a matching agent name',
      input(['sqs:SendMessage'], ['Write'], 'arn:aws:sqs:us-east-1:111122223333:q', {
        sub: 'night-bot-07',
        groups: [],
      }),
      'night-bot',
      'approve',
    ],
    [
      'a near-miss agent name',
      input(['sqs:SendMessage'], ['Write'], 'arn:aws:sqs:us-east-1:111122223333:q', {
        sub: 'night-bot-007',
        groups: [],
      }),
      'default',
      'deny',
    ],
    // nothing asked, nothing allowed
    ['an empty action list', input([], []), 'default', 'deny'],
  ])('%s', (_name, request, rule, effect) => {
    // Act
    const outcome = evaluatePolicy(config, request);

    // Assess
    expect(outcome.rule).toBe(rule);
    expect(outcome.effect).toBe(effect);
    expect(outcome.accessLevels).toEqual(request.accessLevels);
  });

  it('lets no allow rule that names access levels accept a request whose levels are unknown', () => {
    // Prepare: no deny rule to catch it first
    const onlyReads = { ...config, rules: config.rules.filter((rule) => rule.name === 'reads') };

    // Act
    const outcome = evaluatePolicy(onlyReads, input(['dynamodb:GetItem'], []));

    // Assess
    expect(outcome).toEqual({ rule: 'default', effect: 'deny', accessLevels: [] });
  });

  it('copies an approve rule into the outcome', () => {
    // Act
    const outcome = evaluatePolicy(config, input(['dynamodb:PutItem'], ['Write']));

    // Assess
    expect(outcome).toEqual({
      rule: 'writes',
      effect: 'approve',
      accessLevels: ['Write'],
      approvers: ['alice@example.com', 'bob@example.com'],
      quorum: 2,
      approvalTimeoutSeconds: 600,
      maxDurationSeconds: 1800,
      minReviewSeconds: 5,
      minReviewMode: 'flag',
    });
  });

  it('fills an approve rule’s defaults', () => {
    // Act
    const outcome = evaluatePolicy(
      config,
      input(['sqs:SendMessage'], ['Write'], 'arn:aws:sqs:us-east-1:111122223333:q', {
        sub: 'night-bot-01',
        groups: [],
      }),
    );

    // Assess
    expect(outcome).toEqual({
      rule: 'night-bot',
      effect: 'approve',
      accessLevels: ['Write'],
      approvers: ['group:oncall'],
      quorum: 1,
      approvalTimeoutSeconds: 3600,
      minReviewSeconds: 0,
      minReviewMode: 'refuse',
    });
  });

  it('gives an allow rule its duration cap and nothing about approvals', () => {
    // Act
    const outcome = evaluatePolicy(config, input(['dynamodb:GetItem'], ['Read']));

    // Assess
    expect(outcome).toEqual({
      rule: 'reads',
      effect: 'allow',
      accessLevels: ['Read'],
      maxDurationSeconds: 3600,
    });
  });
});

describe('grantDurationSeconds', () => {
  it.each([
    [900, 3600, 900],
    [7200, 3600, 3600],
    [43_200, undefined, 43_200],
  ])('grants %i s asked under a %s s cap as %i s', (requested, maxDurationSeconds, expected) => {
    // Prepare
    const outcome: PolicyOutcome = { rule: 'r', effect: 'allow', accessLevels: ['Read'], maxDurationSeconds };

    // Act / Assess
    expect(grantDurationSeconds(requested, outcome)).toBe(expected);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a requested duration of %d', (requested) => {
    // Act
    const act = () => grantDurationSeconds(requested, { rule: 'r', effect: 'allow', accessLevels: [] });

    // Assess
    expect(act).toThrow(FailClosedError);
  });
});

describe('globMatch', () => {
  it.each<[string, string, boolean, boolean?]>([
    ['s3:Get*', 's3:GetObject', true],
    ['s3:Get*', 's3:PutObject', false],
    ['s3:get*', 's3:GetObject', false],
    ['s3:get*', 's3:GetObject', true, true],
    ['*', '', true],
    ['*', 'anything', true],
    ['', '', true],
    ['', 'x', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyy', false],
    ['*table/*', 'arn:aws:dynamodb:us-east-1:1:table/t', true],
    ['arn:aws:s3:::b/*', 'arn:aws:s3:::b/', true],
    ['arn:aws:s3:::b/*', 'arn:aws:s3:::b', false],
    ['**x', 'yyx', true],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
  ])('%j against %j is %s', (pattern, value, expected, ignoreCase) => {
    // Act / Assess
    expect(globMatch(pattern, value, ignoreCase)).toBe(expected);
  });

  it('stays fast on a pattern built to backtrack', () => {
    // Prepare
    const pattern = `${'*a'.repeat(30)}*b`;
    const value = 'a'.repeat(2048);
    const started = performance.now();

    // Act
    const matched = globMatch(pattern, value);

    // Assess
    expect(matched).toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
  });
});
