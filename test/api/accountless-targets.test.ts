import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';

const ROLE = 'arn:aws:iam::111122223333:role/countersign-target';
const OBJECT = 'arn:aws:s3:::acme-prod-reports/2026/q3/summary.csv';

/** S3 ARNs carry no account: `targets[].resources` says which target role reaches them. */
describe('account-less ARNs through targets[].resources', () => {
  let stack: TestStack;
  let agent: string;

  beforeAll(async () => {
    const config = loadConfigFile(TEST_CONFIG_PATH);
    stack = await TestStack.start({
      config: {
        ...config,
        targets: config.targets.map((t) => ({ ...t, resources: ['arn:aws:s3:::acme-prod-*'] })),
        local: { ...config.local!, demoBuckets: ['acme-prod-reports'] },
      },
    });
    agent = await stack.agentToken('report-bot');
  }, 60_000);
  afterAll(() => stack?.stop());

  it('approves an S3 object write and mints its session on the target whose patterns match', async () => {
    const id = await stack.approvedRequest(agent, 'unused', {
      resource: OBJECT,
      actions: ['s3:PutObject'],
    });
    const request = await stack.call('GET', `/v1/requests/${id}`, { token: agent });
    expect(request.body).toMatchObject({
      status: 'APPROVED',
      resource: OBJECT,
      grant: { resource: OBJECT, actions: ['s3:PutObject'], roleArn: ROLE },
    });

    const claim = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(claim.status).toBe(200);
    expect(claim.body).toMatchObject({ Version: 1 });
    const sessions = await stack.call<Array<Record<string, unknown>>>('GET', '/local/sts/sessions');
    const mine = sessions.body.filter((s) => JSON.stringify(s).includes(id));
    expect(mine).toHaveLength(1);
    expect(JSON.stringify(mine[0])).toContain(ROLE);
    expect(JSON.stringify(mine[0])).toContain(OBJECT);

    // The agent uses it through the local AWS: the approved object is written, another key is refused.
    const creds = claim.body as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
    const s3 = new S3Client({ ...stack.awsClientConfig(creds), forcePathStyle: true, maxAttempts: 1 });
    try {
      const [bucket, ...key] = OBJECT.replace('arn:aws:s3:::', '').split('/');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key.join('/'), Body: 'q3,total\n' }));
      const other = await s3
        .send(new PutObjectCommand({ Bucket: bucket, Key: 'elsewhere.csv', Body: 'x' }))
        .catch((error: Error) => error);
      expect(other).toMatchObject({ name: 'AccessDenied' });
    } finally {
      s3.destroy();
    }
  });

  it('records a DENIED request with the reason when no target covers the bucket', async () => {
    const answer = await stack.request(agent, {
      resource: 'arn:aws:s3:::someone-elses-bucket/data.csv',
      actions: ['s3:PutObject'],
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ status: 'DENIED', policy: { rule: 'writes' } });
    expect(String((answer.body.outcome as { reason: string }).reason)).toContain(
      'No target covers arn:aws:s3:::someone-elses-bucket/data.csv',
    );
  });
});
