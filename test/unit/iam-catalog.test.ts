// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM's ${…} syntax is test data here, not a template
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import { ACCESS_LEVELS, type CatalogData, IamCatalog, iamCatalog } from '../../lambdas/core/iam-catalog.js';

const catalog = iamCatalog();
const ACCOUNT = '111122223333';

describe('the generated IAM catalog', () => {
  it('holds the whole reference, with only known access levels', () => {
    // Act
    const services = catalog.serviceNames();

    // Assess
    expect(catalog.actionCount).toBeGreaterThan(15_000);
    expect(services.length).toBeGreaterThan(300);
    expect(services).toEqual(expect.arrayContaining(['s3', 'dynamodb', 'lambda', 'iam', 'sts', 'kms']));
    for (const combo of catalog.levels) {
      for (const level of combo) expect(ACCESS_LEVELS).toContain(level);
    }
    expect(catalog.source).toMatch(/^@cloud-copilot\/iam-data@\d/);
  });

  it.each([
    ['s3:getobject', 's3:GetObject', ['Read'], ['s3:accesspointobject', 's3:object']],
    ['S3:GETOBJECT', 's3:GetObject', ['Read'], ['s3:accesspointobject', 's3:object']],
    ['dynamodb:putitem', 'dynamodb:PutItem', ['Write'], ['dynamodb:table']],
    ['iam:PutRolePolicy', 'iam:PutRolePolicy', ['Permissions management', 'Write'], ['iam:role']],
    [
      'lambda:TagResource',
      'lambda:TagResource',
      ['Tagging', 'Write'],
      expect.arrayContaining(['lambda:function']),
    ],
    ['s3:ListAllMyBuckets', 's3:ListAllMyBuckets', ['List'], []],
  ])('finds %s as %s', (input, canonical, levels, types) => {
    // Act
    const action = catalog.lookupAction(input);

    // Assess
    expect(action?.action).toBe(canonical);
    expect(action?.accessLevels).toEqual(levels);
    expect(action?.resourceTypes.map((type) => type.id)).toEqual(types);
  });

  it.each([
    's3:GetObjekt',
    'nosuchservice:GetObject',
    's3:*',
    's3:Get*',
    's3:GetObjec?',
    '*',
    's3:GetObject ',
    ' s3:GetObject',
    's3::GetObject',
    's3:GetObject:x',
    's3:Get\u041ebject',
    '',
  ])('does not find %j', (input) => {
    // Act
    const action = catalog.lookupAction(input);

    // Assess
    expect(action).toBeUndefined();
  });

  it.each([
    ['arn:aws:s3:::bucket', ['s3:bucket']],
    ['arn:aws:s3:::bucket/key', ['s3:object']],
    ['arn:aws:s3:::bucket/dir/key:with:colons.txt', ['s3:object']],
    [`arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders`, ['dynamodb:table']],
    [`arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders/index/byDate`, ['dynamodb:index']],
    [`arn:aws:lambda:us-east-1:${ACCOUNT}:function:resize`, ['lambda:function']],
    [
      `arn:aws:lambda:us-east-1:${ACCOUNT}:function:resize:live`,
      ['lambda:function alias', 'lambda:function version'],
    ],
    [`arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`, ['sqs:queue']],
    [`arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:db-AbCdEf`, ['secretsmanager:Secret']],
    [`arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/app/prod/db-url`, ['ssm:parameter']],
    [`arn:aws:eks:us-east-1:${ACCOUNT}:cluster/prod`, ['eks:cluster']],
    [`arn:aws:rds:us-east-1:${ACCOUNT}:cluster:orders`, ['rds:cluster']],
    [`arn:aws:iam::${ACCOUNT}:role/path/deploy`, ['iam:role', 'sts:role']],
    [`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/resize`, ['logs:log-group']],
    [
      `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/resize:log-stream:2024/01/01`,
      ['logs:log-stream'],
    ],
    [`arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`, ['kms:key']],
    [`arn:aws-cn:dynamodb:cn-north-1:${ACCOUNT}:table/orders`, ['dynamodb:table']],
  ])('knows %s is %j', (arn, expected) => {
    // Act
    const types = catalog.resourceTypesForArn(arn).map((type) => type.id);

    // Assess: other services may document the same template (sts:role, kinesis:kmsKey) and tie with
    // it; within the expected services the answer is exact
    const services = new Set(expected.map((id) => id.split(':')[0]));
    expect(types.filter((id) => services.has(id.split(':')[0]))).toEqual(expected);
  });

  it.each([
    `arn:aws:nosuchservice:us-east-1:${ACCOUNT}:thing/x`,
    `arn:aws:dynamodb:us-east-1:${ACCOUNT}:tables/orders`,
    'arn:aws:dynamodb::111122223333:table/orders',
    `arn:aws:s3:us-east-1:${ACCOUNT}:bucket`,
  ])('knows no resource type for %s', (arn) => {
    // Act
    const types = catalog.resourceTypesForArn(arn);

    // Assess
    expect(types).toEqual([]);
  });

  it('refuses to classify a malformed ARN', () => {
    // Act
    const act = () => catalog.resourceTypesForArn('arn:aws:s3:::bucket/*');

    // Assess
    expect(act).toThrow(ValidationError);
  });

  it.each([
    ['s3:GetObject', 'arn:aws:s3:::bucket/key', true, undefined],
    ['s3:ListBucket', 'arn:aws:s3:::bucket', true, undefined],
    ['s3:ListBucket', 'arn:aws:s3:::bucket/key', false, 'not-applicable'],
    ['s3:GetObject', 'arn:aws:s3:::bucket', false, 'not-applicable'],
    [
      'dynamodb:PutItem',
      `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders/index/byDate`,
      false,
      'not-applicable',
    ],
    ['s3:ListAllMyBuckets', 'arn:aws:s3:::bucket', false, 'resource-star-only'],
    ['sts:AssumeRole', `arn:aws:iam::${ACCOUNT}:role/deploy`, true, undefined],
  ])('says whether %s can be granted on %s', (name, arn, applies, reason) => {
    // Prepare
    const action = catalog.lookupAction(name)!;

    // Act
    const result = catalog.applicability(action, catalog.resourceTypesForArn(arn));

    // Assess
    expect(result.applies).toBe(applies);
    if (!result.applies) {
      expect(result.reason).toBe(reason);
      expect(result.message).toContain(action.action);
    }
  });

  it('says plainly that a Resource "*" action cannot be granted on an ARN', () => {
    // Prepare
    const action = catalog.lookupAction('s3:ListAllMyBuckets')!;

    // Act
    const result = catalog.applicability(action, catalog.resourceTypesForArn('arn:aws:s3:::bucket'));

    // Assess
    expect(result).toEqual({
      applies: false,
      reason: 'resource-star-only',
      message: 's3:ListAllMyBuckets supports only Resource "*" and cannot be granted on a single resource',
    });
  });

  it.each([
    ['many slashes', `arn:aws:eks:us-east-1:${ACCOUNT}:${'a/'.repeat(1_000)}`],
    ['many colons and slashes', `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${'a:/'.repeat(650)}`],
    ['a long API Gateway path', `arn:aws:apigateway:us-east-1::/restapis/${'x/'.repeat(1_000)}`],
  ])('classifies a hostile 2 KB ARN (%s) without catastrophic backtracking', (_name, arn) => {
    // Prepare
    catalog.resourceTypesForArn(arn); // compile the service's templates outside the timing
    const started = performance.now();

    // Act
    for (let i = 0; i < 10; i++) catalog.resourceTypesForArn(arn);

    // Assess
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe('IamCatalog template matching', () => {
  // A small hand-made catalog, so the matching rules are pinned down independently of the data.
  const data: CatalogData = {
    format: 1,
    source: 'test',
    levels: [['Read'], ['Permissions management', 'Write']],
    services: {
      demo: {
        t: [
          ['thing', 'demo:${Region}:${Account}:thing/${ThingName}'],
          ['part', 'demo:${Region}:${Account}:thing/${ThingName}/part/${PartName}'],
          ['global', 'demo::${Account}:global/${Name}'],
          ['fixed', 'demo:us-west-2:${Account}:thing/${ThingName}'],
          ['anywhere', 'demo:*:*:anywhere/${Name}'],
          ['twin', 'demo:${Region}:${Account}:a/${A}', 'demo:${Region}:${Account}:b/${B}'],
          ['dashed', 'demo:${Region}:${Account}:plan:${Name}-${Id}'],
        ],
        a: ['GetThing 0 0', 'PutPolicy 1 0 1', 'ListEverything 0', 'GetTwin 0 5'],
      },
      vendor: { t: [['point', '${Vendor}:${Region}:*:point:${Id}']], a: ['GetPoint 0 0'] },
    },
  };
  const demo = new IamCatalog(data);
  const ids = (arn: string) => demo.resourceTypesForArn(arn).map((type) => type.id);

  it.each([
    [`arn:aws:demo:us-east-1:${ACCOUNT}:thing/t1`, ['demo:thing']],
    [`arn:aws:demo:us-east-1:${ACCOUNT}:thing/t1/part/p1`, ['demo:part']],
    [`arn:aws:demo:us-east-1:${ACCOUNT}:thing/t1/deeper/still`, ['demo:thing']],
    [`arn:aws:demo:us-west-2:${ACCOUNT}:thing/t1`, ['demo:fixed']],
    [`arn:aws:demo::${ACCOUNT}:global/g`, ['demo:global']],
    [`arn:aws:demo:us-east-1:${ACCOUNT}:global/g`, []],
    ['arn:aws:demo:::anywhere/x', ['demo:anywhere']],
    [`arn:aws:demo:eu-west-1:${ACCOUNT}:anywhere/x`, ['demo:anywhere']],
    [`arn:aws:demo:us-east-1:${ACCOUNT}:a/1`, ['demo:twin']],
    [`arn:aws:demo:us-east-1:${ACCOUNT}:b/2`, ['demo:twin']],
    [`arn:aws:demo:us-east-1:${ACCOUNT}:plan:nightly-backup-0001`, ['demo:dashed']],
    [`arn:aws:othersvc:us-east-1:${ACCOUNT}:point:7`, ['vendor:point']],
    [`arn:aws:demo:us-east-1:${ACCOUNT}:other/x`, []],
  ])('%s is %j', (arn, expected) => {
    // Act / Assess
    expect(ids(arn)).toEqual(expected);
  });

  it('decodes compound access levels and resource-type references', () => {
    // Act
    const action = demo.lookupAction('DEMO:putpolicy');

    // Assess
    expect(action).toMatchObject({
      action: 'demo:PutPolicy',
      accessLevels: ['Permissions management', 'Write'],
    });
    expect(action?.resourceTypes.map((type) => type.name)).toEqual(['thing', 'part']);
    expect(action?.resourceTypes[0]?.arnTemplates).toEqual([
      'arn:${Partition}:demo:${Region}:${Account}:thing/${ThingName}',
    ]);
  });

  it('resolves an ARN without indexing the actions of every service (cold-start cost)', () => {
    // Prepare: another service whose actions cannot even be read; only indexing them would notice.
    const lazy = new IamCatalog({
      ...data,
      services: {
        ...data.services,
        broken: { t: [['x', 'broken:${Region}:${Account}:x/${X}']], a: ['Bad 0 9'] },
      },
    });

    // Act
    const types = lazy.resourceTypesForArn(`arn:aws:demo:us-east-1:${ACCOUNT}:thing/t1`);
    const action = lazy.lookupAction('demo:GetThing')!;

    // Assess: the types found are the very ones the action names, so applicability still holds.
    expect(types.map((type) => type.id)).toEqual(['demo:thing']);
    expect(lazy.applicability(action, types)).toMatchObject({ applies: true });
    expect(() => lazy.lookupAction('broken:Bad')).toThrow('missing resource type');
  });

  it('refuses a catalog with an access level it does not know', () => {
    // Act
    const act = () => new IamCatalog({ ...data, levels: [['Admin']] });

    // Assess
    expect(act).toThrow('unknown access level');
  });
});
