import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { globMatch } from '../../lambdas/core/glob.js';
import { iamCatalog } from '../../lambdas/core/iam-catalog.js';
import {
  isResourceAlias,
  NEVER_GRANTABLE_ACTIONS,
  neverGrantable,
  ownResourcePatterns,
  PERMISSIONS_EXCEPTIONS,
} from '../../lambdas/core/never-grantable.js';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { TEST_CONFIG_PATH } from '../support/local-stack.js';

const catalog = iamCatalog();
const allActions = catalog
  .serviceNames()
  .flatMap((service) => catalog.actionsOf(service).map((a) => a.action));

describe('the never-grantable list', () => {
  const patterns = [...NEVER_GRANTABLE_ACTIONS, ...PERMISSIONS_EXCEPTIONS].flatMap((entry) => entry.actions);

  it.each(patterns)('%s names at least one real IAM action (no typo silently grants it)', (pattern) => {
    expect(allActions.some((action) => globMatch(pattern, action, true))).toBe(true);
  });

  it('gives a reason for every entry', () => {
    for (const entry of [...NEVER_GRANTABLE_ACTIONS, ...PERMISSIONS_EXCEPTIONS]) {
      expect(entry.reason.length).toBeGreaterThan(20);
    }
  });

  it('is the list docs/security.md publishes, with the same reasons', () => {
    const docs = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'security.md'), 'utf8');
    for (const entry of [...NEVER_GRANTABLE_ACTIONS, ...PERMISSIONS_EXCEPTIONS]) {
      for (const action of entry.actions) expect(docs).toContain(`\`${action}\``);
      expect(docs).toContain(entry.reason);
    }
  });

  it('refuses every Permissions management action but the listed exceptions', () => {
    const base = { resource: 'arn:aws:s3:::acme-data' };
    expect(
      neverGrantable(
        { ...base, actions: ['s3:PutBucketAcl'], accessLevels: ['Permissions management', 'Write'] },
        [],
      ),
    ).toMatchObject({ rule: 'never-grantable' });
    expect(
      neverGrantable(
        {
          resource: 'arn:aws:rds-db:us-east-1:111122223333:dbuser:db-ABC/app',
          actions: ['rds-db:connect'],
          accessLevels: ['Permissions management', 'Write'],
        },
        [],
      ),
    ).toBeUndefined();
    // Per-action levels keep an exception from hiding another action's level, and vice versa.
    expect(
      neverGrantable(
        {
          resource: 'arn:aws:rds-db:us-east-1:111122223333:dbuser:db-ABC/app',
          actions: ['rds-db:connect', 'dynamodb:GetItem'],
          accessLevels: ['Permissions management', 'Read', 'Write'],
          actionAccessLevels: {
            'rds-db:connect': ['Permissions management', 'Write'],
            'dynamodb:GetItem': ['Read'],
          },
        },
        [],
      ),
    ).toBeUndefined();
  });
});

describe("Countersign's own resources", () => {
  const config = loadConfigFile(TEST_CONFIG_PATH);
  const own = ownResourcePatterns(config, [
    'arn:aws:dynamodb:us-east-1:111122223333:table/Countersign-TableCD117FA1-ABC',
    'arn:aws:dynamodb:us-east-1:111122223333:table/Countersign-TableCD117FA1-ABC/*',
  ]);
  const refused = (resource: string, action = 'dynamodb:UpdateItem') =>
    neverGrantable({ actions: [action], resource, accessLevels: ['Write'] }, own)?.rule;

  it('covers the deployed table and its indexes', () => {
    expect(refused('arn:aws:dynamodb:us-east-1:111122223333:table/Countersign-TableCD117FA1-ABC')).toBe(
      'never-grantable',
    );
    expect(
      refused(
        'arn:aws:dynamodb:us-east-1:111122223333:table/Countersign-TableCD117FA1-ABC/index/byAgent',
        'dynamodb:Query',
      ),
    ).toBe('never-grantable');
    expect(refused('arn:aws:dynamodb:us-east-1:111122223333:table/orders')).toBeUndefined();
  });

  it('covers every configured target role, under any path and in any case, and its sessions', () => {
    for (const resource of [
      'arn:aws:iam::111122223333:role/countersign-target',
      'arn:aws:iam::111122223333:role/a/b/countersign-target',
      'arn:aws:iam::111122223333:role/COUNTERSIGN-TARGET',
      'arn:aws:sts::111122223333:assumed-role/countersign-target/req_01',
    ]) {
      expect(refused(resource, 'iam:GetRole')).toBe('never-grantable');
    }
    expect(refused('arn:aws:iam::111122223333:role/countersign-target-other', 'iam:GetRole')).toBeUndefined();
  });
});

describe('resource aliases', () => {
  it.each([
    ['arn:aws:s3:us-east-1:111122223333:accesspoint/payroll-ap', true],
    ['arn:aws:s3:us-east-1:111122223333:accesspoint/payroll-ap/object/salaries.csv', true],
    ['arn:aws:s3::111122223333:accesspoint/mfzwi23gnjvgw.mrap', true],
    ['arn:aws:s3::111122223333:accesspoint/mfzwi23gnjvgw.mrap/object/x', true],
    ['arn:aws:s3-object-lambda:us-east-1:111122223333:accesspoint/payroll-ol', true],
    ['arn:aws:s3-outposts:us-east-1:111122223333:outpost/op-01ac5d28a6a232904/accesspoint/ap', true],
    ['arn:aws:s3:::payroll-ap-hvu8vb6gk6xqj6ylgvlbs0iclhd1usw2a-s3alias/salaries.csv', true],
    ['arn:aws:s3:::payroll-ol-abc--ol-s3/salaries.csv', true],
    ['arn:aws:s3:::payroll/salaries.csv', false],
    ['arn:aws:s3:::payroll/accesspoint/x', false],
    ['arn:aws:dynamodb:us-east-1:111122223333:table/accesspoint', false],
  ])('%s is an alias: %s', (resource, alias) => {
    expect(isResourceAlias(resource)).toBe(alias);
  });
});
