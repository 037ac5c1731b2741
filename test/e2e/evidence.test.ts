import {
  DeleteTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRecord } from '../evidence/support.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import { eventually, TABLE, TestStack } from '../support/local-stack.js';

type Creds = { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
type Evidence = {
  request: { status: string };
  evidence: { activity: Array<{ eventName: string; errorCode?: string }> };
  findings: Array<{ type: string; detail: string }>;
  complete: boolean;
  integrity: { valid: boolean; problem?: string };
};

/** Issue "Evidence": CloudTrail linkage, the six facts and the reports API, through the local stack. */
describe('evidence and reports on the local stack', () => {
  let stack: TestStack;
  let agent: string;
  let auditor: string;

  beforeAll(async () => {
    // Grants expire 3 s after approval so that expiry-time findings can be observed.
    stack = await TestStack.start({ waitTimeOverrides: { WaitUntilNotAfter: 3_000 } });
    agent = await stack.agentToken('etl-bot');
    auditor = await stack.token('audrey@example.com', ['auditors']);
  }, 60_000);
  afterAll(() => stack?.stop());

  const evidence = async (id: string) =>
    (await stack.call<Evidence>('GET', `/v1/reports/requests/${id}`, { token: auditor })).body;

  async function approvedAfter(table: string, seconds: number): Promise<string> {
    const id = await stack.pendingRequest(agent, table);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    expect((await stack.click({ requestId: id, userId: 'U0ALICE' })).body).toMatchObject({ ok: true });
    return id;
  }

  it('links what the session did, through the local AWS and CloudTrail: six facts, two calls, ACCESS_DENIED, RUBBER_STAMP', async () => {
    // flagged-review: minReviewSeconds 5 in flag mode — an approval after 1 s is accepted and flagged.
    const id = await approvedAfter('flagged-orders', 1);
    const claim = await stack.call<Creds>('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(claim.status).toBe(200);
    // The agent uses its session as it would on AWS: one granted call, one refused by IAM.
    const session = new DynamoDBClient({ ...stack.awsClientConfig(claim.body), maxAttempts: 1 });
    try {
      await session.send(
        new PutItemCommand({ TableName: 'flagged-orders', Item: { id: { S: 'order-8812' } } }),
      );
      const refused = await session
        .send(new DeleteTableCommand({ TableName: 'flagged-orders' }))
        .catch((error: Error) => error);
      expect(refused).toMatchObject({ name: 'AccessDeniedException' });
    } finally {
      session.destroy();
    }
    // CloudTrail hands both calls to EventBridge a moment later; the rules deliver them to the linker.
    await stack.stack.delivery.idle();

    // The local feed links hand-made records too: a duplicate eventID is stored once, an unknown key ignored.
    const handMade = callRecord({
      requestId: id,
      accessKeyId: claim.body.AccessKeyId,
      eventName: 'GetItem',
      eventTime: new Date().toISOString(),
      tableName: 'flagged-orders',
    });
    const fed = [];
    for (const record of [
      handMade,
      handMade,
      callRecord({
        requestId: 'req_someoneElse000000000',
        accessKeyId: fakeAccessKeyId('UNKNOWNKEY'),
        eventName: 'GetItem',
        eventTime: new Date().toISOString(),
      }),
    ])
      fed.push((await stack.call('POST', '/local/cloudtrail', { body: record })).body);
    expect(fed.map((r) => r.stored)).toEqual([1, 0, 0]);
    expect(fed[1]).toMatchObject({ duplicates: 1 });
    expect(fed[2]).toMatchObject({ ignored: 1 });

    // After expiry the record is complete: the grant ended and what it was used for is on record.
    await eventually(
      async () => ((await evidence(id)).request.status === 'EXPIRED' ? true : undefined),
      15_000,
    );
    const record = await evidence(id);
    expect(record.complete).toBe(true);
    expect(record.integrity.valid).toBe(true);
    const calls = record.evidence.activity.filter((a) => a.eventName !== 'AssumeRole');
    expect(calls.map((a) => a.eventName).sort()).toEqual(['DeleteTable', 'GetItem', 'PutItem']);
    expect(calls.find((a) => a.eventName === 'DeleteTable')?.errorCode).toMatch(/^AccessDenied/);
    expect(record.findings.map((f) => f.type).sort()).toEqual(['ACCESS_DENIED', 'RUBBER_STAMP']);

    // The approver's thread got a summary of what the session did.
    const summary = await eventually(() =>
      stack.slackMessages().find((m) => m.thread_ts && JSON.stringify(m).includes('DeleteTable')),
    );
    expect(JSON.stringify(summary)).toMatch(/AccessDenied/);
  }, 60_000);

  it('an approved grant never used shows UNUSED_GRANT after expiry', async () => {
    const id = await approvedAfter('orders', 0);
    await eventually(
      async () => ((await evidence(id)).request.status === 'EXPIRED' ? true : undefined),
      15_000,
    );
    expect((await evidence(id)).findings.map((f) => f.type)).toContain('UNUSED_GRANT');
  }, 30_000);

  it('the access review lists every agent with its counts, as JSON and as CSV', async () => {
    const other = await stack.agentToken('report-bot');
    await stack.request(other, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    await stack.request(other, { resource: TABLE('orders'), actions: ['dynamodb:DeleteTable'] });
    const review = await stack.call<{ agents: Array<Record<string, unknown>> }>(
      'GET',
      '/v1/reports/access-review',
      { token: auditor },
    );
    expect(review.status).toBe(200);
    const rows = JSON.stringify(review.body);
    expect(rows).toContain('report-bot');
    expect(rows).toContain('etl-bot');
    const reportBot = (Object.values(review.body).flat() as Array<Record<string, unknown>>).find(
      (r) => r?.agent === 'report-bot',
    );
    expect(reportBot).toMatchObject({ requests: 2, approved: 1, denied: 1 });
    const csv = await stack.call('GET', '/v1/reports/access-review', {
      token: auditor,
      headers: { accept: 'text/csv' },
    });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    // The header names each column; report-bot's row: 2 requests, 1 APPROVED by policy, 1 DENIED by policy.
    const [header, ...lines] = String(csv.body).trimEnd().split('\r\n');
    // RFC 4180 cells: quoted text (with "" inside) or a bare number, possibly empty.
    const cells = (line: string) =>
      [...`${line},`.matchAll(/("(?:[^"]|"")*"|[^,]*),/g)].map(([, c]) =>
        c!.startsWith('"') ? c!.slice(1, -1).replace(/""/g, '"') : c === '' ? null : Number(c),
      );
    const columns = cells(header!) as string[];
    const row = cells(lines.find((l) => l.startsWith('"report-bot"'))!);
    const cell = (name: string) => row[columns.indexOf(name)];
    expect([
      cell('requests'),
      cell('APPROVED'),
      cell('DENIED'),
      cell('allowedByPolicy'),
      cell('deniedByPolicy'),
    ]).toEqual([2, 1, 1, 1, 1]);
  });

  it('refuses reports to agents (403)', async () => {
    for (const path of ['/v1/reports/requests', '/v1/reports/access-review']) {
      expect(await stack.call('GET', path, { token: agent })).toMatchObject({
        status: 403,
        body: { error: { code: 'Forbidden' } },
      });
    }
  });

  it('a hand edit of the stored request breaks the chain check', async () => {
    const created = await stack.request(agent, {
      resource: TABLE('orders'),
      actions: ['dynamodb:DeleteTable'],
    });
    const id = String(created.body.id);
    expect((await evidence(id)).integrity.valid).toBe(true);
    const db = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: stack.stack.endpoints.dynamodb,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    await db.send(
      new UpdateItemCommand({
        TableName: stack.stack.tableName,
        Key: { PK: { S: `REQ#${id}` }, SK: { S: 'REQUEST' } },
        UpdateExpression: 'SET #s = :approved',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':approved': { S: 'APPROVED' } },
      }),
    );
    db.destroy();
    const tampered = await evidence(id);
    expect(tampered.integrity.valid).toBe(false);
    expect(tampered.findings.map((f) => f.type)).toContain('INTEGRITY_FAILURE');
  });
});
