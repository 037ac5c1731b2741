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
