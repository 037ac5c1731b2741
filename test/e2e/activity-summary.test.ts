import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRecord } from '../evidence/support.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import { eventually, TestStack } from '../support/local-stack.js';

type Creds = { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
type Evidence = {
  request: { status: string };
  evidence: {
    activity: Array<{ eventName: string; errorCode?: string; minting?: boolean }>;
    activityTotals: { calls: number; denied: number };
  };
  findings: Array<{ type: string; detail: string }>;
};

const TARGET_ROLE = 'arn:aws:iam::111122223333:role/countersign-target';

/**
 * Issue 14: what a session did is computed once (lambdas/core/activity.ts), so the approver's
 * end-of-grant summary in Slack and the evidence record count the same calls and the same denials.
 * An agent's own AssumeRole (role chaining under its session) is a call, a failed one is denied;
 * only Countersign's minting AssumeRole is left out — in both.
 */
describe('the Slack end-of-grant summary and the evidence record agree', () => {
  let stack: TestStack;
  let agent: string;
  let auditor: string;

  beforeAll(async () => {
    // The grant ends 20 s after approval: time to use it and for CloudTrail to deliver before it does.
    stack = await TestStack.start({ waitTimeOverrides: { WaitUntilNotAfter: 20_000 } });
    agent = await stack.agentToken('chain-bot');
    auditor = await stack.token('audrey@example.com', ['auditors']);
  }, 60_000);
  afterAll(() => stack?.stop());

  const evidence = async (id: string) =>
    (await stack.call<Evidence>('GET', `/v1/reports/requests/${id}`, { token: auditor })).body;

  it('counts the agent’s role chaining, succeeded and refused, alike in both', async () => {
    // Prepare: a granted PutItem on orders, and its session
    const id = await stack.approvedRequest(agent, 'orders');
    const claim = await stack.call<Creds>('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(claim.status).toBe(200);
    const creds = claim.body;

    // Act: the agent uses its grant, then tries to chain into another role — IAM refuses, as the
    // session policy never allows sts:AssumeRole (never-grantable).
    const dynamodb = new DynamoDBClient({ ...stack.awsClientConfig(creds), maxAttempts: 1 });
    const sts = stack.sessionClient(creds);
    try {
      await dynamodb.send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: 'chain-1' } } }));
      const refused = await sts
        .send(new AssumeRoleCommand({ RoleArn: TARGET_ROLE, RoleSessionName: 'chained' }))
        .catch((error: Error) => error);
      expect(refused).toMatchObject({ name: 'AccessDenied' });
    } finally {
      dynamodb.destroy();
      sts.destroy();
    }
    // A role chaining that succeeded cannot be made through IAM here (see above), so CloudTrail's
    // record of one is handed to the local feed, made with the session's own key.
    const chained = callRecord({
      requestId: id,
      accessKeyId: creds.AccessKeyId,
      eventName: 'AssumeRole',
      eventSource: 'sts.amazonaws.com',
      eventTime: new Date().toISOString(),
    });
    const fed = await stack.call('POST', '/local/cloudtrail', {
      body: {
        ...chained,
        requestParameters: { roleArn: TARGET_ROLE, roleSessionName: 'chained-ok' },
        responseElements: {
          credentials: { accessKeyId: fakeAccessKeyId('CHAINEDOK000001'), expiration: 'Jan 1, 2030' },
        },
      },
    });
    expect(fed.body).toMatchObject({ stored: 1 });
    await stack.stack.delivery.idle();
    // The summary is written when the grant ends: everything must be linked by then.
    expect((await evidence(id)).request.status).toBe('APPROVED');

    // Assess: the evidence — Countersign's minting record on file but not counted
    await eventually(
      async () => ((await evidence(id)).request.status === 'EXPIRED' ? true : undefined),
      20_000,
    );
    const record = await evidence(id);
    const assumeRoles = record.evidence.activity.filter((e) => e.eventName === 'AssumeRole');
    expect(assumeRoles.filter((e) => e.minting === true)).toHaveLength(1);
    expect(
      assumeRoles
        .filter((e) => e.minting === false)
        .map((e) => e.errorCode ?? 'ok')
        .sort(),
    ).toEqual(['AccessDenied', 'ok']);
    expect(record.evidence.activityTotals).toMatchObject({ calls: 3, denied: 1 });
    const denied = record.findings.find((f) => f.type === 'ACCESS_DENIED');
    expect(denied?.detail).toContain('1 call(s) under this grant failed');
    expect(denied?.detail).toContain('AssumeRole → AccessDenied ×1');

    // Assess: the approver's thread says the same
    const approval = stack
      .slackMessages()
      .find((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(id));
    expect(approval).toBeDefined();
    const summary = await eventually(() =>
      stack
        .slackMessages()
        .find((m) => m.thread_ts === approval!.ts && String(m.text).startsWith('Grant ended')),
    );
    const headline = /(\d+) API calls? recorded under it, (\d+) denied/.exec(String(summary.text));
    expect(headline?.slice(1).map(Number)).toEqual([
      record.evidence.activityTotals.calls,
      record.evidence.activityTotals.denied,
    ]);
    const lines = JSON.stringify(summary.blocks);
    expect(lines).toContain('• `AssumeRole` ×1\\n');
    expect(lines).toContain('• `AssumeRole` ×1 — :warning: `AccessDenied`');
    expect(lines).toContain('• `PutItem` ×1');
  }, 90_000);

  it('tells the approver what an executed exact call did when its grant ends, as for a session', async () => {
    // Prepare: an exact PutItem, approved in Slack, executed by Countersign
    const input = { TableName: 'orders', Item: { id: { S: 'exact-1' }, status: { S: 'shipped' } } };
    const id = await stack.approvedRequest(agent, 'orders', { call: { input } });
    const executed = await stack.call('POST', `/v1/requests/${id}/execute`, { token: agent });
    expect(executed.status).toBe(200);

    // Act: the grant's window ends (20 s after approval)
    const approval = stack
      .slackMessages()
      .find((m) => m.thread_ts === undefined && JSON.stringify(m.blocks ?? '').includes(id));
    const summary = await eventually(
      () =>
        stack
          .slackMessages()
          .find((m) => m.thread_ts === approval!.ts && String(m.text).startsWith('Grant ended')),
      30_000,
    );

    // Assess: the thread counts the call as the evidence does
    const record = await evidence(id);
    expect(record.request.status).toBe('EXECUTED');
    expect(record.evidence.activityTotals).toMatchObject({ calls: 1, denied: 0 });
    expect(summary.text).toBe('Grant ended. 1 API call recorded under it, 0 denied.');
    expect(JSON.stringify(summary.blocks)).toContain('• `PutItem` ×1');
  }, 90_000);
});
