import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateKeyCommand, GenerateMacCommand, KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { FinalizeHandler, FinalizeHandlerArguments, MetadataBearer } from '@smithy/types';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CloudTrailRecord, createLocalAws, type LocalAws } from '../../../lib/local/aws/index.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../../lib/local/dynamodb-local.js';
import { createLocalStepFunctions, type LocalStepFunctions } from '../../../lib/local/step-functions.js';
import { fakeAccessKeyId } from '../../support/fake-keys.js';
import { failure } from '../helpers.js';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const table = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken: string };

describe('local AWS endpoint', () => {
  let db: DynamoDbLocal;
  let sfn: LocalStepFunctions;
  let aws: LocalAws;
  let dataDir: string;
  let records: CloudTrailRecord[] = [];
  const logs: string[] = [];
  let clockOffsetMs = 0;
  const clients: Array<{ destroy(): void }> = [];

  const config = (credentials: Credentials) => ({
    endpoint: aws.url,
    region: REGION,
    credentials,
    maxAttempts: 1,
  });
  const dynamo = (credentials: Credentials) => {
    const c = new DynamoDBClient(config(credentials));
    clients.push(c);
    return c;
  };
  const lambdaCredentials = (roleName: string, session = 'fn-session') =>
    aws.issueRoleSession(role(roleName), session);
  const lastRecord = (eventName: string) =>
    [...records].reverse().find((r) => r.eventName === eventName) as CloudTrailRecord;

  beforeAll(async () => {
    db = await startDynamoDbLocal({ inMemory: true, startTimeoutMs: 60_000 });
    dataDir = mkdtempSync(join(tmpdir(), 'countersign-aws-'));
    sfn = createLocalStepFunctions({
      account: ACCOUNT,
      region: REGION,
      functions: {},
      stateMachines: [
        { name: 'allowed', definition: { StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } } },
        { name: 'other', definition: { StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } } },
      ],
      log: () => undefined,
    });
    aws = createLocalAws({
      account: ACCOUNT,
      region: REGION,
      dynamodbEndpoint: db.endpoint,
      stepFunctions: sfn,
      dataDir,
      now: () => new Date(Date.now() + clockOffsetMs),
      onCloudTrail: (record) => records.push(record),
      log: (line) => logs.push(line),
    });
    await aws.start();
    aws.createRole(role('admin'), { inline: { all: ALLOW_ALL } });
    aws.createRole(role('reader'), {
      inline: {
        read: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: table('alpha') }],
        },
      },
    });
    // The minting function's role and the target role it assumes (as lib/aws/target-role.ts writes them).
    aws.createRole(role('minter'), {
      inline: {
        mint: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
              Resource: role('target'),
            },
          ],
        },
      },
    });
    aws.createRole(role('target'), {
      managed: [ALLOW_ALL],
      trust: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: role('minter') },
            Action: 'sts:AssumeRole',
            Condition: { Null: { 'sts:SourceIdentity': 'false' } },
          },
          {
            Effect: 'Allow',
            Principal: { AWS: role('minter') },
            Action: ['sts:SetSourceIdentity', 'sts:TagSession'],
          },
        ],
      },
    });
    aws.createRole(role('revoker'), {
      inline: {
        revoke: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['iam:PutRolePolicy', 'iam:GetRolePolicy'], Resource: role('target') },
          ],
        },
      },
    });
    // get-request's lease policy (lib/aws/countersign-stack.ts): writes only items whose partition key is a lease.
    aws.createRole(role('leases'), {
      inline: {
        leases: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
              Resource: table('alpha'),
              Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LEASE#wait#*'] } },
            },
          ],
        },
      },
    });
    const admin = dynamo(lambdaCredentials('admin', 'setup'));
    for (const name of ['alpha', 'beta']) {
      await admin.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      await admin.send(
        new PutItemCommand({ TableName: name, Item: { pk: { S: 'k' }, secret: { S: 'item-value' } } }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await aws?.stop();
    await sfn?.stop();
    await db?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    records = [];
    logs.length = 0;
    clockOffsetMs = 0;
  });

  async function assumeTarget(policy?: object, sessionName = 'req-0001') {
    const sts = new STSClient(config(lambdaCredentials('minter', 'minter-fn')));
    clients.push(sts);
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: role('target'),
        RoleSessionName: sessionName,
        SourceIdentity: 'alice',
        DurationSeconds: 900,
        ...(policy ? { Policy: JSON.stringify(policy) } : {}),
        Tags: [{ Key: 'countersign:agent', Value: 'agent-1' }],
      }),
    );
    const c = out.Credentials!;
    return {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    };
  }

  it('allows what the role allows and refuses the rest as DynamoDB does, both recorded as data events', async () => {
    // Prepare
    const reader = dynamo(lambdaCredentials('reader'));

    // Act
    const allowed = await reader.send(new GetItemCommand({ TableName: 'alpha', Key: { pk: { S: 'k' } } }));
    const denied = await failure(
      reader.send(new GetItemCommand({ TableName: 'beta', Key: { pk: { S: 'k' } } })),
    );

    // Assess
    expect(allowed.Item?.pk?.S).toBe('k');
    expect((denied as Error).name).toBe('AccessDeniedException');
    expect((denied as Error).message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/reader/fn-session is not authorized to perform: dynamodb:GetItem on resource: ${table('beta')} because no identity-based policy allows the dynamodb:GetItem action`,
    );
    const [ok, refused] = records.filter((r) => r.eventName === 'GetItem');
    expect(ok).toMatchObject({
      eventVersion: '1.09',
      eventSource: 'dynamodb.amazonaws.com',
      awsRegion: REGION,
      readOnly: true,
      managementEvent: false,
      eventCategory: 'Data',
      eventType: 'AwsApiCall',
      recipientAccountId: ACCOUNT,
      responseElements: null,
      requestParameters: { tableName: 'alpha', key: { pk: { S: 'k' } } },
      resources: [{ accountId: ACCOUNT, type: 'AWS::DynamoDB::Table', ARN: table('alpha') }],
      userIdentity: {
        type: 'AssumedRole',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/reader/fn-session`,
        accountId: ACCOUNT,
        sessionContext: {
          sessionIssuer: { type: 'Role', arn: role('reader'), accountId: ACCOUNT, userName: 'reader' },
          attributes: { mfaAuthenticated: 'false' },
        },
      },
    });
    expect(ok?.userIdentity.principalId).toMatch(/^AROA[A-Z2-7]{17}:fn-session$/);
    expect(ok?.errorCode).toBeUndefined();
    expect(refused).toMatchObject({
      errorCode: 'AccessDeniedException',
      eventCategory: 'Data',
      readOnly: true,
    });
    expect(refused?.errorMessage).toContain('because no identity-based policy allows');
    expect(JSON.stringify(records)).not.toContain('item-value');
  });

  it('authorizes table and account operations as dynamodb:<Operation> on the table, or on * when they name none', async () => {
    // Prepare
    const admin = dynamo(lambdaCredentials('admin', 'setup'));
    const reader = dynamo(lambdaCredentials('reader'));

    // Act
    const listed = await admin.send(new ListTablesCommand({}));
    const described = await failure(reader.send(new DescribeTableCommand({ TableName: 'alpha' })));
    const notListed = await failure(reader.send(new ListTablesCommand({})));

    // Assess
    expect(listed.TableNames).toEqual(expect.arrayContaining(['alpha', 'beta']));
    expect((described as Error).message).toContain(
      `perform: dynamodb:DescribeTable on resource: ${table('alpha')}`,
    );
    expect((notListed as Error).message).toContain('perform: dynamodb:ListTables on resource: *');
    expect(lastRecord('DescribeTable')).toMatchObject({
      managementEvent: true,
      eventCategory: 'Management',
      readOnly: true,
    });
  });

  it('refuses a wrong secret, a body changed after signing, and an unknown key', async () => {
    // Prepare
    const good = lambdaCredentials('reader');
    const wrongSecret = dynamo({ ...good, secretAccessKey: `${good.secretAccessKey.slice(0, -2)}xx` });
    const tampering = dynamo(good);
    tampering.middlewareStack.addRelativeTo(
      (next: FinalizeHandler<object, MetadataBearer>) => async (args: FinalizeHandlerArguments<object>) => {
        // Same length, so only the signature can tell.
        const request = args.request as { body: string | Uint8Array };
        const text =
          typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
        expect(text).toContain('"alpha"');
        request.body = text.replace('"alpha"', '"omega"');
        return next(args);
      },
      { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'tamper' },
    );
    const unknown = dynamo({ ...good, accessKeyId: fakeAccessKeyId('UNKNOWN') });
    const input = { TableName: 'alpha', Key: { pk: { S: 'k' } } };

    // Act
    const bad = await failure(wrongSecret.send(new GetItemCommand(input)));
    const tampered = await failure(tampering.send(new GetItemCommand(input)));
    const unknownKey = await failure(unknown.send(new GetItemCommand(input)));

    // Assess
    expect((bad as Error).name).toBe('InvalidSignatureException');
    expect((tampered as Error).name).toBe('InvalidSignatureException');
    expect((unknownKey as Error).name).toBe('UnrecognizedClientException');
    expect(records.filter((r) => r.eventName === 'GetItem').map((r) => r.errorCode)).toEqual([
      'InvalidSignatureException',
      'InvalidSignatureException',
      'UnrecognizedClientException',
    ]);
  });

  it('serves exactly what it authorized when a body names the table twice', async () => {
    // Prepare: an item only in beta, which the reader may not read; a signed body naming beta, then alpha.
    const admin = dynamo(lambdaCredentials('admin', 'setup'));
    await admin.send(new PutItemCommand({ TableName: 'beta', Item: { pk: { S: 'only-beta' } } }));
    const reader = dynamo(lambdaCredentials('reader'));
    reader.middlewareStack.add(
      (next: FinalizeHandler<object, MetadataBearer>) => async (args: FinalizeHandlerArguments<object>) => {
        const request = args.request as { body: string | Uint8Array; headers: Record<string, string> };
        const text =
          typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
        request.body = text
          .replace('{"TableName":"alpha",', '{"TableName":"beta",')
          .replace(/}$/, ',"TableName":"alpha"}');
        request.headers['content-length'] = String(Buffer.byteLength(request.body));
        return next(args);
      },
      { step: 'build', name: 'duplicateTableName' },
    );

    // Act
    const answer = await reader.send(
      new GetItemCommand({ TableName: 'alpha', Key: { pk: { S: 'only-beta' } } }),
    );

    // Assess: authorized as alpha, so served from alpha (where there is no such item), never from beta.
    expect(answer.Item).toBeUndefined();
    expect(lastRecord('GetItem')).toMatchObject({ requestParameters: { tableName: 'alpha' } });
    expect(lastRecord('GetItem').errorCode).toBeUndefined();
  });

  it('limits an AssumeRole session to the intersection of its session policy and the role, and records the AssumeRole', async () => {
    // Prepare
    const creds = await assumeTarget({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: table('alpha') }],
    });
    const assume = lastRecord('AssumeRole');
    const session = dynamo(creds);
    const key = { pk: { S: 'k' } };

    // Act
    const read = await session.send(new GetItemCommand({ TableName: 'alpha', Key: key }));
    const write = await failure(
      session.send(new PutItemCommand({ TableName: 'alpha', Item: { pk: { S: 'x' } } })),
    );
    const other = await failure(session.send(new GetItemCommand({ TableName: 'beta', Key: key })));

    // Assess
    expect(read.Item).toBeDefined();
    expect((write as Error).message).toContain(
      'because no session policy allows the dynamodb:PutItem action',
    );
    expect((other as Error).name).toBe('AccessDeniedException');
    expect(assume).toMatchObject({
      eventSource: 'sts.amazonaws.com',
      readOnly: true,
      managementEvent: true,
      eventCategory: 'Management',
      requestParameters: { roleArn: role('target'), roleSessionName: 'req-0001', sourceIdentity: 'alice' },
      responseElements: {
        credentials: { accessKeyId: creds.accessKeyId },
        assumedRoleUser: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/target/req-0001` },
      },
    });
    expect(JSON.stringify(assume)).not.toContain(creds.sessionToken);
    expect(JSON.stringify(assume)).not.toContain(creds.secretAccessKey);
    expect(lastRecord('GetItem').userIdentity.sessionContext?.sourceIdentity).toBe('alice');
  });

  it('refuses an AssumeRole the trust policy does not allow (no SourceIdentity) with AccessDenied', async () => {
    // Prepare
    const sts = new STSClient(config(lambdaCredentials('minter', 'minter-fn')));
    clients.push(sts);

    // Act
    const error = await failure(
      sts.send(new AssumeRoleCommand({ RoleArn: role('target'), RoleSessionName: 'no-source' })),
    );

    // Assess
    expect((error as Error).name).toBe('AccessDenied');
    expect(lastRecord('AssumeRole')).toMatchObject({ errorCode: 'AccessDenied', responseElements: null });
  });

  it('stops a live session once a revocation Deny is put on its role', async () => {
    // Prepare
    const creds = await assumeTarget(undefined, 'req-revoked');
    const session = dynamo(creds);
    const key = { pk: { S: 'k' } };
    await session.send(new GetItemCommand({ TableName: 'alpha', Key: key }));
    const iam = new IAMClient(config(lambdaCredentials('revoker', 'revoke-fn')));
    clients.push(iam);

    // Act
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'target',
        PolicyName: 'countersign-revocations',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Deny',
              Action: '*',
              Resource: '*',
              Condition: { StringLike: { 'aws:userid': '*:req-revoked' } },
            },
          ],
        }),
      }),
    );
    const after = await failure(session.send(new GetItemCommand({ TableName: 'alpha', Key: key })));
    const identity = await new STSClient(config(creds)).send(new GetCallerIdentityCommand({}));

    // Assess
    expect((after as Error).message).toContain('with an explicit deny in an identity-based policy');
    expect(aws.rolePolicies('target')['countersign-revocations']).toContain('req-revoked');
    expect(lastRecord('PutRolePolicy')).toMatchObject({
      eventSource: 'iam.amazonaws.com',
      readOnly: false,
      awsRegion: 'us-east-1',
    });
    // As on AWS, GetCallerIdentity needs no permission and still answers.
    expect(identity.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target/req-revoked`);
  });

  it('ends a session at its DateLessThan aws:CurrentTime', async () => {
    // Prepare
    const notAfter = new Date(Date.now() + 5 * 60_000).toISOString();
    const creds = await assumeTarget(
      {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'dynamodb:GetItem',
            Resource: table('alpha'),
            Condition: { DateLessThan: { 'aws:CurrentTime': notAfter } },
          },
        ],
      },
      'req-timed',
    );
    const session = dynamo(creds);
    const key = { pk: { S: 'k' } };
    const before = await session.send(new GetItemCommand({ TableName: 'alpha', Key: key }));

    // Act
    clockOffsetMs = 6 * 60_000;
    const after = await failure(session.send(new GetItemCommand({ TableName: 'alpha', Key: key })));

    // Assess
    expect(before.Item).toBeDefined();
    expect((after as Error).message).toContain('because no session policy allows');
  });

  it('refuses a signature made more than 15 minutes away from its clock', async () => {
    // Prepare
    const reader = dynamo(lambdaCredentials('reader'));
    clockOffsetMs = 16 * 60_000;

    // Act
    const error = await failure(
      reader.send(new GetItemCommand({ TableName: 'alpha', Key: { pk: { S: 'k' } } })),
    );

    // Assess
    expect((error as Error).name).toBe('InvalidSignatureException');
    expect((error as Error).message).toMatch(
      /^Signature expired: \d{8}T\d{6}Z is now earlier or later than the allowed 15 minutes$/,
    );
  });

  it('refuses an expired session with ExpiredTokenException', async () => {
    // Prepare
    clockOffsetMs = -901_000;
    const creds = aws.issueRoleSession(role('reader'), 'short', 900);
    clockOffsetMs = 0;

    // Act
    const error = await failure(
      dynamo(creds).send(new GetItemCommand({ TableName: 'alpha', Key: { pk: { S: 'k' } } })),
    );

    // Assess
    expect((error as Error).name).toBe('ExpiredTokenException');
  });

  it('fails closed, loudly, on a condition operator it does not know', async () => {
    // Prepare
    aws.createRole(role('odd'), {
      inline: {
        odd: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'dynamodb:GetItem',
              Resource: table('alpha'),
              Condition: { StringFancyMatch: { 'aws:userid': '*' } },
            },
          ],
        },
      },
    });

    // Act
    const error = await failure(
      dynamo(lambdaCredentials('odd')).send(
        new GetItemCommand({ TableName: 'alpha', Key: { pk: { S: 'k' } } }),
      ),
    );

    // Assess
    expect((error as Error).name).toBe('AccessDeniedException');
    expect(logs.join('\n')).toMatch(/FAILED CLOSED.*StringFancyMatch is not supported/);
  });

  it('serves Secrets Manager by name or ARN, only where the role allows it, and never records the value', async () => {
    // Prepare
    const arn = aws.putSecret('countersign/slack', '{"botToken":"local-value"}');
    aws.createRole(role('secret-reader'), {
      inline: {
        read: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'secretsmanager:GetSecretValue',
              Resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:countersign/slack-??????`,
            },
          ],
        },
      },
    });
    aws.putSecret('other', 'x');
    const client = new SecretsManagerClient(config(lambdaCredentials('secret-reader')));
    clients.push(client);

    // Act
    const byName = await client.send(new GetSecretValueCommand({ SecretId: 'countersign/slack' }));
    const byArn = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    const other = await failure(client.send(new GetSecretValueCommand({ SecretId: 'other' })));

    // Assess
    expect(arn).toMatch(
      new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:countersign/slack-[A-Za-z0-9]{6}$`),
    );
    expect(byName.SecretString).toBe('{"botToken":"local-value"}');
    expect(byArn.ARN).toBe(arn);
    expect((other as Error).name).toBe('AccessDeniedException');
    expect(JSON.stringify(records)).not.toContain('local-value');
    expect(lastRecord('GetSecretValue')).toMatchObject({
      readOnly: true,
      managementEvent: true,
      requestParameters: { secretId: 'other' },
    });
  });

  it('generates and verifies HMACs with a KMS key whose material is kept in the data dir and never returned', async () => {
    // Prepare
    const kms = new KMSClient(config(lambdaCredentials('admin', 'kms-fn')));
    clients.push(kms);
    const message = new TextEncoder().encode('chain-head');

    // Act
    const { KeyMetadata } = await kms.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    );
    const { Mac } = await kms.send(
      new GenerateMacCommand({ KeyId: KeyMetadata!.KeyId!, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    const valid = await kms.send(
      new VerifyMacCommand({
        KeyId: KeyMetadata!.Arn!,
        Message: message,
        Mac: Mac!,
        MacAlgorithm: 'HMAC_SHA_256',
      }),
    );
    const forged = await failure(
      kms.send(
        new VerifyMacCommand({
          KeyId: KeyMetadata!.KeyId!,
          Message: new TextEncoder().encode('other'),
          Mac: Mac!,
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
    );

    // Assess
    expect(valid.MacValid).toBe(true);
    expect((forged as Error).name).toBe('KMSInvalidMacException');
    const stored = JSON.parse(readFileSync(join(dataDir, 'kms', 'keys.json'), 'utf8')) as Array<{
      keyId: string;
      material: string;
    }>;
    const material = stored.find((k) => k.keyId === KeyMetadata!.KeyId)?.material;
    expect(material).toBeDefined();
    expect(JSON.stringify(records)).not.toContain(material);
    expect(JSON.stringify(KeyMetadata)).not.toContain(material);
  });

  it('starts executions only of state machines the role allows', async () => {
    // Prepare
    const machine = (name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
    aws.createRole(role('starter'), {
      inline: {
        start: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'states:StartExecution', Resource: machine('allowed') }],
        },
      },
    });
    const client = new SFNClient(config(lambdaCredentials('starter')));
    clients.push(client);

    // Act
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: machine('allowed'), input: '{}' }),
    );
    const denied = await failure(
      client.send(new StartExecutionCommand({ stateMachineArn: machine('other'), input: '{}' })),
    );

    // Assess
    expect(started.executionArn).toContain(':execution:allowed:');
    expect((denied as Error).name).toBe('AccessDeniedException');
  });

  it('serves S3 objects with s3:prefix conditions on ListObjectsV2, answering AccessDenied in XML', async () => {
    // Prepare
    const admin = new S3Client({ ...config(lambdaCredentials('admin', 's3-admin')), forcePathStyle: true });
    clients.push(admin);
    await admin.send(new CreateBucketCommand({ Bucket: 'evidence' }));
    await admin.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'home/a b.txt', Body: 'hello' }));
    await admin.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'private/x', Body: 'no' }));
    aws.createRole(role('lister'), {
      inline: {
        list: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 's3:ListBucket',
              Resource: 'arn:aws:s3:::evidence',
              Condition: { StringLike: { 's3:prefix': 'home/*' } },
            },
            { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::evidence/home/*' },
          ],
        },
      },
    });
    const lister = new S3Client({ ...config(lambdaCredentials('lister')), forcePathStyle: true });
    clients.push(lister);

    // Act
    const listed = await lister.send(new ListObjectsV2Command({ Bucket: 'evidence', Prefix: 'home/' }));
    const wide = await failure(lister.send(new ListObjectsV2Command({ Bucket: 'evidence' })));
    const got = await lister.send(new GetObjectCommand({ Bucket: 'evidence', Key: 'home/a b.txt' }));
    const hidden = await failure(lister.send(new GetObjectCommand({ Bucket: 'evidence', Key: 'private/x' })));

    // Assess
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['home/a b.txt']);
    expect((wide as Error).name).toBe('AccessDenied');
    expect(await got.Body?.transformToString()).toBe('hello');
    expect((hidden as Error).name).toBe('AccessDenied');
    expect(lastRecord('GetObject')).toMatchObject({
      eventSource: 's3.amazonaws.com',
      managementEvent: false,
      eventCategory: 'Data',
      errorCode: 'AccessDenied',
      requestParameters: { bucketName: 'evidence', key: 'private/x' },
    });
  });

  it('records the AssumeRole Lambda makes for a function, by lambda.amazonaws.com', () => {
    // Act
    const creds = aws.issueRoleSession(role('reader'), 'reader-fn');

    // Assess
    expect(lastRecord('AssumeRole')).toMatchObject({
      userIdentity: { type: 'AWSService', invokedBy: 'lambda.amazonaws.com' },
      readOnly: true,
      managementEvent: true,
      responseElements: { credentials: { accessKeyId: creds.accessKeyId } },
    });
    expect(aws.sessions().at(-1)).toMatchObject({ roleArn: role('reader'), roleSessionName: 'reader-fn' });
    expect(JSON.stringify(aws.sessions())).not.toContain(creds.secretAccessKey);
  });

  it('gives dynamodb:LeadingKeys the item’s partition key, so a lease-only role writes leases and nothing else', async () => {
    const leases = dynamo(lambdaCredentials('leases'));
    await leases.send(new PutItemCommand({ TableName: 'alpha', Item: { pk: { S: 'LEASE#wait#1' } } }));
    const other = await failure(
      leases.send(new PutItemCommand({ TableName: 'alpha', Item: { pk: { S: 'REQUEST#req_1' } } })),
    );
    expect(other).toMatchObject({ name: 'AccessDeniedException' });
  });
});
