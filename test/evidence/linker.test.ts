import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countersOf, DynamoDbEventStore } from '../../lambdas/adapters/dynamodb-events.js';
import { DynamoDbRequestStore, keys } from '../../lambdas/adapters/dynamodb-store.js';
import type { ApiEvent } from '../../lambdas/adapters/http.js';
import type { Logger } from '../../lambdas/adapters/logger.js';
import { buildEvidenceRecord } from '../../lambdas/core/evidence.js';
import { CloudTrailLinker } from '../../lambdas/core/linker.js';
import { sanitizeSourceIdentity } from '../../lambdas/core/session-policy.js';
import {
  createLinkCloudTrailHandler,
  createLocalCloudTrailEndpoint,
} from '../../lambdas/handlers/link-cloudtrail.js';
import type { DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import {
  assumeRoleRecord,
  callRecord,
  eventBridge,
  lifecycle,
  MINTING_ROLE_ARN,
  startTable,
  TABLE_ARN,
  TestClock,
} from './support.js';

let db: DynamoDbLocal;
let client: DynamoDBClient;
let table: string;
let events: DynamoDbEventStore;
let linker: CloudTrailLinker;
const clock = new TestClock(Date.parse('2025-03-10T09:00:00.000Z'));
let life: ReturnType<typeof lifecycle>;
const logLines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
const logger: Logger = {
  info: (message, fields) => logLines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
  warn: (message, fields) => logLines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
  error: (message, fields) => logLines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
};

beforeAll(async () => {
  ({ db, client, table } = await startTable());
  events = new DynamoDbEventStore(client, table);
  life = lifecycle(client, table, clock);
  linker = new CloudTrailLinker({
    events,
    requests: new DynamoDbRequestStore(client, table),
    mintingRoleArns: [MINTING_ROLE_ARN],
  });
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

/** An approved request whose credentials the agent claimed: the minted access key id. */
async function grantedAndClaimed(agent = 'deploy-bot', tableName = 'orders') {
  const request = await life.ask(agent, TABLE_ARN(tableName), ['dynamodb:PutItem']);
  await life.approve(request.id);
  const credentials = await life.claim(agent, request.id);
  return {
    requestId: request.id,
    accessKeyId: credentials.AccessKeyId,
    sourceIdentity: sanitizeSourceIdentity(agent),
  };
}

async function requestItem(requestId: string) {
  const out = await client.send(
    new GetItemCommand({ TableName: table, Key: marshall(keys.request(requestId)) }),
  );
  return unmarshall(out.Item!);
}

async function eventItem(requestId: string, eventId: string) {
  const out = await client.send(
    new GetItemCommand({ TableName: table, Key: marshall(keys.event(requestId, eventId)) }),
  );
  return out.Item ? unmarshall(out.Item) : undefined;
}

describe('CloudTrail linker', () => {
  it('links the AssumeRole event by its role session name, from EventBridge', async () => {
    // Prepare
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = assumeRoleRecord({
      requestId,
      mintedAccessKeyId: accessKeyId,
      sourceIdentity,
      eventTime: '2025-03-10T09:00:05Z',
    });

    // Act
    const report = await linker.link(eventBridge(record));

    // Assess
    expect(report).toEqual({ received: 1, stored: 1, duplicates: 0, ignored: 0, ignoredBy: {} });
    const stored = await events.listEvents(requestId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      eventName: 'AssumeRole',
      linkedBy: 'roleSessionName',
      accessKeyId,
      minted: true,
      resources: [expect.stringContaining(':role/countersign-target')],
    });
    // Only what a reviewer needs: never the session token CloudTrail logs beside the key.
    const raw = JSON.stringify(await eventItem(requestId, String(record.eventID)));
    expect(raw).not.toContain('IQoJb3JpZ2lu');
    expect(raw).not.toContain('requestParameters');
    // AssumeRole is not a call: it does not count as activity.
    expect(countersOf(await requestItem(requestId)).calls).toBe(0);
  });

  it('links a call by its minted access key, from a raw record, with counters on the request', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:01:00Z',
    });

    const report = await linker.link(record);

    expect(report.stored).toBe(1);
    const [event] = await events.listEvents(requestId);
    expect(event).toMatchObject({
      eventId: record.eventID,
      eventTime: '2025-03-10T09:01:00.000Z',
      eventName: 'PutItem',
      eventSource: 'dynamodb.amazonaws.com',
      awsRegion: 'us-east-1',
      resources: [TABLE_ARN('orders')],
      sourceIpAddress: '203.0.113.7',
      accessKeyId,
      linkedBy: 'accessKeyId',
      minted: true,
    });
    expect(countersOf(await requestItem(requestId))).toEqual({
      calls: 1,
      denied: 0,
      unlinked: 0,
      resources: [TABLE_ARN('orders')],
      lastAt: '2025-03-10T09:01:00.000Z',
    });
  });

  it('records an AccessDenied call with its error and counts it as denied, not as a resource touched', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'DeleteTable',
      eventTime: '2025-03-10T09:02:00Z',
      errorCode: 'AccessDenied',
      errorMessage: 'User is not authorized to perform: dynamodb:DeleteTable',
    });

    await linker.link(eventBridge(record));

    const [event] = await events.listEvents(requestId);
    expect(event).toMatchObject({
      eventName: 'DeleteTable',
      errorCode: 'AccessDenied',
      errorMessage: expect.stringContaining('not authorized'),
    });
    expect(countersOf(await requestItem(requestId))).toMatchObject({ calls: 1, denied: 1, resources: [] });
  });

  it('stores a duplicate delivery once and counts it once', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:03:00Z',
    });

    const first = await linker.link(eventBridge(record));
    const again = await linker.link(record);
    const batch = await linker.link({ Records: [record, record] });

    expect(first.stored).toBe(1);
    expect(again).toMatchObject({ stored: 0, duplicates: 1 });
    expect(batch).toMatchObject({ received: 2, stored: 0, duplicates: 2 });
    expect(await events.listEvents(requestId)).toHaveLength(1);
    expect(countersOf(await requestItem(requestId)).calls).toBe(1);
  });

  it('ignores and counts events it cannot link', async () => {
    const foreign = callRecord({
      requestId: 'req_AAAAAAAAAAAAAAAAAAAA',
      accessKeyId: fakeAccessKeyId('UNKNOWNKEY000001'),
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:04:00Z',
    });
    const notASession = {
      ...foreign,
      userIdentity: {
        type: 'IAMUser',
        arn: `arn:aws:iam::111122223333:user/bob`,
        accessKeyId: fakeAccessKeyId('UNKNOWNKEY000001', 'AKIA'),
      },
    };
    const otherDetailType = { 'detail-type': 'EC2 Instance State-change Notification', detail: {} };

    const report = await linker.link({ Records: [foreign, notASession, { eventID: '!!' }] });
    const other = await linker.link(otherDetailType);

    expect(report).toEqual({
      received: 3,
      stored: 0,
      duplicates: 0,
      ignored: 3,
      ignoredBy: { 'unknown-request': 1, 'not-countersign': 1, malformed: 1 },
    });
    expect(other).toMatchObject({ ignored: 1, ignoredBy: { 'not-cloudtrail': 1 } });
  });

  it('tolerates out-of-order arrival: a later call first, the AssumeRole last', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const late = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'UpdateItem',
      eventTime: '2025-03-10T09:20:00Z',
    });
    const early = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:10:00Z',
    });
    const mint = assumeRoleRecord({
      requestId,
      mintedAccessKeyId: accessKeyId,
      sourceIdentity,
      eventTime: '2025-03-10T09:05:00Z',
    });

    await linker.link(eventBridge(late));
    await linker.link(eventBridge(early));
    await linker.link(eventBridge(mint));

    const stored = await events.listEvents(requestId);
    expect(stored.map((e) => e.eventName)).toEqual(['AssumeRole', 'PutItem', 'UpdateItem']);
    // The latest call stays the latest, whatever arrived last.
    expect(countersOf(await requestItem(requestId))).toMatchObject({
      calls: 2,
      lastAt: '2025-03-10T09:20:00.000Z',
    });
  });

  it('links a replayed call after the access-key item expired, through the sessions minted for the request', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    await client.send(
      new DeleteItemCommand({ TableName: table, Key: marshall(keys.accessKey(accessKeyId)) }),
    );

    await linker.link(
      callRecord({
        requestId,
        accessKeyId,
        sourceIdentity,
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:06:00Z',
      }),
    );

    const [event] = await events.listEvents(requestId);
    expect(event).toMatchObject({ linkedBy: 'accessKeyId', minted: true });
  });

  it('links activity under a request session name with a key Countersign never minted as unlinked', async () => {
    const { requestId, sourceIdentity } = await grantedAndClaimed();
    const stranger = fakeAccessKeyId('STRANGERKEY00001');

    await linker.link(
      callRecord({
        requestId,
        accessKeyId: stranger,
        sourceIdentity,
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:07:00Z',
      }),
    );
    await linker.link(
      callRecord({
        requestId,
        accessKeyId: stranger,
        eventName: 'GetItem',
        eventTime: '2025-03-10T09:08:00Z',
      }),
    );
    await linker.link(
      assumeRoleRecord({
        requestId,
        mintedAccessKeyId: fakeAccessKeyId('STRANGERKEY00002'),
        sourceIdentity: 'someone-else',
        eventTime: '2025-03-10T09:06:30Z',
      }),
    );

    const stored = await events.listEvents(requestId);
    expect(stored.map((e) => [e.eventName, e.linkedBy, e.minted])).toEqual([
      ['AssumeRole', 'roleSessionName', false],
      ['PutItem', 'sourceIdentity', false],
      ['GetItem', 'roleSessionName', false],
    ]);
    expect(countersOf(await requestItem(requestId)).unlinked).toBe(3);
  });

  it('never links by source identity alone: it is the same for all of an agent’s requests', async () => {
    const { sourceIdentity } = await grantedAndClaimed('lonely-bot');
    const record = callRecord({
      requestId: 'not-a-request-session',
      accessKeyId: fakeAccessKeyId('STRANGERKEY00003'),
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:09:00Z',
    });

    const report = await linker.link(record);

    expect(report.ignoredBy).toEqual({ 'not-countersign': 1 });
  });

  it('counts an event stored before a crash when the delivery is retried', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:11:00Z',
    });
    // As if the first delivery stored the event and died before counting it.
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: marshall({
          ...keys.event(requestId, String(record.eventID)),
          requestId,
          eventId: record.eventID,
          eventTime: '2025-03-10T09:11:00.000Z',
          eventName: 'PutItem',
          eventSource: 'dynamodb.amazonaws.com',
          resources: [TABLE_ARN('orders')],
          linkedBy: 'accessKeyId',
          accessKeyId,
          minted: true,
        }),
      }),
    );

    const retry = await linker.link(record);
    const again = await linker.link(record);

    expect(retry.duplicates).toBe(1);
    expect(again.duplicates).toBe(1);
    expect(countersOf(await requestItem(requestId)).calls).toBe(1);
  });

  it('keeps untrusted CloudTrail text as one clean, bounded line', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:12:00Z',
      userAgent: `evil\u202e\u0000agent\n=cmd|' /C calc'!A0 ${'x'.repeat(2000)}`,
    });

    await linker.link(record);

    const [event] = await events.listEvents(requestId);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting the control characters are gone
    expect(event!.userAgent).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(event!.userAgent!.length).toBeLessThanOrEqual(512);
    expect(event!.userAgent!.startsWith('evilagent =cmd')).toBe(true);
  });

  it('keeps the counters when the request changes state after events were linked', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    await linker.link(
      callRecord({
        requestId,
        accessKeyId,
        sourceIdentity,
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:13:00Z',
      }),
    );

    await life.revoke({ sub: 'auditor-1', issuer: 'x', groups: [], roles: new Set(['auditor']) }, requestId);

    const item = await requestItem(requestId);
    expect(item.status).toBe('REVOKED');
    expect(countersOf(item).calls).toBe(1);
  });

  // Regression: the store once read the counters back into the request and SET them on the next
  // state change, losing events linked in between.
  it('does not lose an event linked while a state change is in flight', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const call = (eventTime: string) =>
      callRecord({ requestId, accessKeyId, sourceIdentity, eventName: 'PutItem', eventTime });
    await linker.link(call('2025-03-10T09:14:00Z'));
    const read = await life.store.get(requestId);

    // The linker writes between the state change's read and its write.
    await linker.link(call('2025-03-10T09:14:30Z'));
    await life.store.replace(
      { ...read!, updatedAt: clock.now().toISOString(), version: read!.version + 1 },
      { expectedVersion: read!.version, from: [read!.status] },
    );

    expect(countersOf(await requestItem(requestId)).calls).toBe(2);
  });
});

/**
 * CloudTrail's record of an AssumeRole made by a grant's own session (role chaining, or probing
 * another role), asking for whatever session name it likes.
 */
function chainedAssumeRole(options: {
  callerRequestId: string;
  callerAccessKeyId: string;
  roleArn: string;
  roleSessionName: string;
  eventTime: string;
  errorCode?: string;
}): Record<string, unknown> {
  const base = callRecord({
    requestId: options.callerRequestId,
    accessKeyId: options.callerAccessKeyId,
    eventName: 'AssumeRole',
    eventSource: 'sts.amazonaws.com',
    eventTime: options.eventTime,
    ...(options.errorCode ? { errorCode: options.errorCode, errorMessage: 'not authorized' } : {}),
  });
  return {
    ...base,
    requestParameters: { roleArn: options.roleArn, roleSessionName: options.roleSessionName },
    responseElements: options.errorCode
      ? null
      : { credentials: { accessKeyId: fakeAccessKeyId('CHAINED00000001'), sessionToken: 'x' } },
  };
}

describe('CloudTrail linker: AssumeRole by anyone but the minting role', () => {
  const ADMIN_ROLE = 'arn:aws:iam::111122223333:role/admin';

  it('files an agent’s role chaining that names another request under the agent’s own request, not the named one', async () => {
    // Prepare
    const own = await grantedAndClaimed('chain-bot');
    const other = await grantedAndClaimed('other-bot');
    const record = chainedAssumeRole({
      callerRequestId: own.requestId,
      callerAccessKeyId: own.accessKeyId,
      roleArn: ADMIN_ROLE,
      roleSessionName: other.requestId,
      eventTime: '2025-03-10T09:05:00Z',
    });

    // Act
    const report = await linker.link(eventBridge(record));

    // Assess
    expect(report.stored).toBe(1);
    expect(await events.listEvents(other.requestId)).toEqual([]);
    const [event] = await events.listEvents(own.requestId);
    expect(event).toMatchObject({
      eventName: 'AssumeRole',
      linkedBy: 'accessKeyId',
      accessKeyId: own.accessKeyId,
      minted: true,
      minting: false,
    });
    // Role chaining is a call made under the grant.
    expect(countersOf(await requestItem(own.requestId)).calls).toBe(1);
  });

  it('records an agent’s probing AssumeRole with any session name in its own request', async () => {
    // Prepare
    const own = await grantedAndClaimed('probe-bot');
    const record = chainedAssumeRole({
      callerRequestId: own.requestId,
      callerAccessKeyId: own.accessKeyId,
      roleArn: ADMIN_ROLE,
      roleSessionName: 'just-looking',
      eventTime: '2025-03-10T09:06:00Z',
    });

    // Act
    const report = await linker.link(record);

    // Assess
    expect(report).toMatchObject({ stored: 1, ignored: 0 });
    expect((await events.listEvents(own.requestId)).map((e) => e.eventName)).toEqual(['AssumeRole']);
  });

  it('a failed AssumeRole by a grant’s session raises ACCESS_DENIED on its request', async () => {
    // Prepare
    const own = await grantedAndClaimed('denied-bot');
    const record = chainedAssumeRole({
      callerRequestId: own.requestId,
      callerAccessKeyId: own.accessKeyId,
      roleArn: ADMIN_ROLE,
      roleSessionName: 'escalate',
      eventTime: '2025-03-10T09:07:00Z',
      errorCode: 'AccessDenied',
    });

    // Act
    await linker.link(eventBridge(record));

    // Assess
    const request = (await life.store.get(own.requestId))!;
    const evidence = buildEvidenceRecord({
      request,
      sessions: await life.store.listSessions(own.requestId),
      events: await events.listEvents(own.requestId),
      now: clock.now(),
    });
    expect(evidence.findings.map((f) => f.type)).toContain('ACCESS_DENIED');
    expect(countersOf(await requestItem(own.requestId))).toMatchObject({ calls: 1, denied: 1 });
  });

  it('never files an AssumeRole by a role other than the minting role under the request it names', async () => {
    // Prepare: someone else's principal (not a grant's session, not the claim function) naming a request
    const victim = await grantedAndClaimed('named-bot');
    const record = {
      ...assumeRoleRecord({
        requestId: victim.requestId,
        mintedAccessKeyId: fakeAccessKeyId('FORGED000000001'),
        sourceIdentity: victim.sourceIdentity,
        eventTime: '2025-03-10T09:08:00Z',
      }),
      userIdentity: {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::111122223333:assumed-role/some-other-role/someone',
        accountId: '111122223333',
        accessKeyId: fakeAccessKeyId('SOMEONEELSE0001'),
        sessionContext: {
          sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/some-other-role' },
        },
      },
    };

    // Act
    const report = await linker.link(record);

    // Assess
    expect(report).toMatchObject({ stored: 0, ignored: 1, ignoredBy: { 'not-countersign': 1 } });
    expect(await events.listEvents(victim.requestId)).toEqual([]);
  });

  it('links the minting role’s AssumeRole by its session issuer, whatever the role’s path', async () => {
    // Prepare: CloudTrail names the issuer with its path; the configured ARN may carry one or not
    const pathLinker = new CloudTrailLinker({
      events,
      requests: new DynamoDbRequestStore(client, table),
      mintingRoleArns: ['arn:aws:iam::111122223333:role/service/countersign-claim-credentials'],
    });
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed('path-bot');
    const record = assumeRoleRecord({
      requestId,
      mintedAccessKeyId: accessKeyId,
      sourceIdentity,
      eventTime: '2025-03-10T09:09:00Z',
    });

    // Act
    await pathLinker.link(record);

    // Assess
    expect(await events.listEvents(requestId)).toEqual([
      expect.objectContaining({ linkedBy: 'roleSessionName', minting: true, minted: true }),
    ]);
    expect(countersOf(await requestItem(requestId)).calls).toBe(0);
  });

  it('refuses to start with a minting role that is not a role ARN', () => {
    expect(
      () =>
        new CloudTrailLinker({
          events,
          requests: new DynamoDbRequestStore(client, table),
          mintingRoleArns: ['countersign-claim-credentials'],
        }),
    ).toThrow(/not an IAM role ARN/);
  });
});

describe('link-cloudtrail handler', () => {
  const apiEvent = (body: string): ApiEvent => ({
    httpMethod: 'POST',
    path: '/local/cloudtrail',
    headers: { 'content-type': 'application/json' },
    queryStringParameters: null,
    pathParameters: null,
    body,
  });

  it('answers the Lambda invocation with the link report and logs counts only', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const handler = createLinkCloudTrailHandler({ linker, logger });
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:15:00Z',
      userAgent: 'secret-looking-agent',
    });

    const report = await handler(eventBridge(record));
    const garbage = await handler('not an event');

    expect(report).toMatchObject({ stored: 1 });
    expect(garbage).toMatchObject({ ignored: 1, ignoredBy: { malformed: 1 } });
    expect(JSON.stringify(logLines)).not.toContain('secret-looking-agent');
  });

  it('serves POST /local/cloudtrail: 200 with the report, 400 for what is not CloudTrail', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const endpoint = createLocalCloudTrailEndpoint({ linker, logger });
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:16:00Z',
    });

    const ok = await endpoint(apiEvent(JSON.stringify({ Records: [record] })), {} as never);
    const notJson = await endpoint(apiEvent('{"Records": ['), {} as never);
    const wrongShape = await endpoint(apiEvent('{"hello":"world"}'), {} as never);

    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ received: 1, stored: 1 });
    expect(notJson.statusCode).toBe(400);
    expect(wrongShape.statusCode).toBe(400);
    expect(JSON.parse(wrongShape.body).error.code).toBe('ValidationError');
  });
});
