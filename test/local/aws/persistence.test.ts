import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, GenerateMacCommand, KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalAws, type LocalAws } from '../../../lib/local/aws/index.js';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/admin`;
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

describe('local AWS state in the data dir', () => {
  const dirs: string[] = [];
  const running: LocalAws[] = [];
  const clients: Array<{ destroy(): void }> = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const aws of running.splice(0)) await aws.stop();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function start(dataDir: string) {
    const aws = createLocalAws({
      account: ACCOUNT,
      region: 'us-east-1',
      dynamodbEndpoint: 'http://127.0.0.1:9',
      dataDir,
      log: () => undefined,
    });
    await aws.start();
    running.push(aws);
    aws.createRole(ROLE, { inline: { all: ALLOW_ALL } });
    const config = {
      endpoint: aws.url,
      region: 'us-east-1',
      credentials: aws.issueRoleSession(ROLE, 'admin-fn'),
      maxAttempts: 1,
    };
    const kms = new KMSClient(config);
    const s3 = new S3Client({ ...config, forcePathStyle: true });
    clients.push(kms, s3);
    return { aws, kms, s3 };
  }

  it('keeps KMS keys (private to the user) and S3 objects across restarts', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'countersign-aws-data-'));
    dirs.push(dataDir);
    const first = await start(dataDir);
    const message = new TextEncoder().encode('head-1');
    const { KeyMetadata } = await first.kms.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    );
    const { Mac } = await first.kms.send(
      new GenerateMacCommand({ KeyId: KeyMetadata!.KeyId!, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    await first.s3.send(new CreateBucketCommand({ Bucket: 'evidence' }));
    await first.s3.send(
      new PutObjectCommand({ Bucket: 'evidence', Key: 'chain/2026/head.json', Body: '{"head":1}' }),
    );
    await first.aws.stop();

    // Act
    const second = await start(dataDir);
    const verified = await second.kms.send(
      new VerifyMacCommand({
        KeyId: KeyMetadata!.KeyId!,
        Message: message,
        Mac: Mac!,
        MacAlgorithm: 'HMAC_SHA_256',
      }),
    );
    const object = await second.s3.send(
      new GetObjectCommand({ Bucket: 'evidence', Key: 'chain/2026/head.json' }),
    );
    const listed = await second.s3.send(new ListObjectsV2Command({ Bucket: 'evidence', Prefix: 'chain/' }));

    // Assess
    expect(verified.MacValid).toBe(true);
    expect(await object.Body?.transformToString()).toBe('{"head":1}');
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['chain/2026/head.json']);
    expect(statSync(join(dataDir, 'kms', 'keys.json')).mode & 0o077).toBe(0);
  });

  it('pages ListObjectsV2 with continuation tokens', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'countersign-aws-data-'));
    dirs.push(dataDir);
    const { s3 } = await start(dataDir);
    await s3.send(new CreateBucketCommand({ Bucket: 'pages' }));
    for (const key of ['a', 'b', 'c', 'd', 'e'])
      await s3.send(new PutObjectCommand({ Bucket: 'pages', Key: key, Body: key }));

    // Act
    const first = await s3.send(new ListObjectsV2Command({ Bucket: 'pages', MaxKeys: 2 }));
    const second = await s3.send(
      new ListObjectsV2Command({
        Bucket: 'pages',
        MaxKeys: 2,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    const third = await s3.send(
      new ListObjectsV2Command({
        Bucket: 'pages',
        MaxKeys: 2,
        ContinuationToken: second.NextContinuationToken,
      }),
    );

    // Assess
    expect([first, second, third].map((p) => p.Contents?.map((c) => c.Key))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect([first.IsTruncated, second.IsTruncated, third.IsTruncated]).toEqual([true, true, false]);
  });
});
