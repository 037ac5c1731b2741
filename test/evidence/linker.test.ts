import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countersOf, DynamoDbEventStore } from '../../lambdas/adapters/dynamodb-events.js';
import { DynamoDbRequestStore } from '../../lambdas/adapters/dynamodb-store.js';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { sanitizeSourceIdentity } from '../../lambdas/core/session-policy.js';
import { createLocalDynamoDbClient } from '../../lib/local/dynamodb-local.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import { TestStack } from '../support/local-stack.js';
import {
  CloudTrailTap,
  deliverThroughEventBridge,
  deployedFunction,
  feedLinker,
  loggedLinkReports,
} from './stack-support.js';
import { assumeRoleRecord, callRecord, TABLE_ARN } from './support.js';

/**
 * The deployed linker (its bundle, role, environment and the template's EventBridge rules) on the
 * local stack. Grants are requested, approved and claimed through the API, so every session is one
 * the local STS minted and the claim function recorded. CloudTrail's own delivery is held back for
 * the whole file: each test hands the linker exactly the records it is about — the real minting
 * AssumeRole the local AWS wrote, or records shaped as CloudTrail writes them — through the
 * template's rules (`deliverThroughEventBridge`) or the local CloudTrail feed (`feedLinker`, which
 * answers the linker's report). What was linked is read from the stack's table.
 */

let stack: TestStack;
let tap: CloudTrailTap;
let db: DynamoDBClient;
let events: DynamoDbEventStore;
let approver: string;
let mintingRoleArn: string;

beforeAll(async () => {
  stack = await TestStack.start();
  tap = new CloudTrailTap(stack);
  tap.hold();
  db = createLocalDynamoDbClient(stack.stack.endpoints.dynamodb);
  events = new DynamoDbEventStore(db, stack.stack.tableName);
  approver = await stack.token('alice@example.com', ['approvers']);
  mintingRoleArn = deployedFunction(stack, 'ClaimCredentialsFunction').roleArn;
}, 120_000);

afterAll(async () => {
  db?.destroy();
  await stack?.stop();
});

type Creds = { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };

/**
 * An approved request whose credentials the agent claimed through the API: the minted key, and the
 * AssumeRole record the local AWS wrote for the minting (held back, not yet delivered).
 */
async function grantedAndClaimed(agent = 'deploy-bot', tableName = 'orders') {
  const token = await stack.agentToken(agent);
  const requestId = await stack.pendingRequest(token, tableName);
  const decided = await stack.call('POST', `/v1/requests/${requestId}/decisions`, {
    token: approver,
    body: { decision: 'approve' },
  });
  expect(decided.status).toBe(200);
  const claim = await stack.call<Creds>('POST', `/v1/requests/${requestId}/credentials`, { token });
  expect(claim.status).toBe(200);
  const mint = tap.seen.find((r) => {
    const params = (r.requestParameters ?? {}) as { roleSessionName?: string };
    return r.eventName === 'AssumeRole' && params.roleSessionName === requestId && !r.errorCode;
  });
  if (!mint) throw new Error(`no AssumeRole record for ${requestId}`);
  return {
    requestId,
    token,
    accessKeyId: claim.body.AccessKeyId,
    sessionToken: claim.body.SessionToken,
    sourceIdentity: sanitizeSourceIdentity(agent),
    mint,
  };
}

async function requestItem(requestId: string) {
  const out = await db.send(
    new GetItemCommand({
      TableName: stack.stack.tableName,
      Key: marshall(keys.request(requestId)),
      ConsistentRead: true,
    }),
  );
  return unmarshall(out.Item!);
}

async function eventItem(requestId: string, eventId: string) {
  const out = await db.send(
    new GetItemCommand({
      TableName: stack.stack.tableName,
      Key: marshall(keys.event(requestId, eventId)),
      ConsistentRead: true,
    }),
  );
  return out.Item ? unmarshall(out.Item) : undefined;
}

/** Delivers through the template's rules; expects one rule to take it. */
async function viaEventBridge(record: Record<string, unknown>) {
  expect(await deliverThroughEventBridge(stack, record)).toBe(1);
}

/** The evidence record the deployed reports give an auditor. */
async function evidenceOf(requestId: string) {
  const auditor = await stack.token('carol-auditor', ['auditors']);
  const answer = await stack.call<{ findings: Array<{ type: string }> }>(
    'GET',
    `/v1/reports/requests/${requestId}`,
    { token: auditor },
  );
  expect(answer.status).toBe(200);
  return answer.body;
}

describe('CloudTrail linker', () => {
  // The first grant starts every function of the flow cold: the first test may take longer.
  it('links the AssumeRole event by its role session name, from EventBridge', async () => {
    // Prepare: the AssumeRole record the local AWS wrote when the claim function minted the session
    const { requestId, accessKeyId, sessionToken, mint: record } = await grantedAndClaimed();
    const logged = stack.logs.length;

    // Act
    await viaEventBridge(record);

    // Assess
    expect(loggedLinkReports(stack, logged)).toEqual([
      { received: 1, stored: 1, duplicates: 0, ignored: 0, ignoredBy: {} },
    ]);
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
    expect(raw).not.toContain(sessionToken);
    expect(raw).not.toContain('requestParameters');
    // AssumeRole is not a call: it does not count as activity.
    expect(countersOf(await requestItem(requestId)).calls).toBe(0);
  }, 90_000);

  it('links a call by its minted access key, from a raw record, with counters on the request', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:01:00Z',
    });

    const report = await feedLinker(stack, record);

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
      // The deployed linker keys the counters with the history key.
      mac: expect.any(String),
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

    await viaEventBridge(record);

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

    const logged = stack.logs.length;
    await viaEventBridge(record);
    const [first] = loggedLinkReports(stack, logged);
    const again = await feedLinker(stack, record);
    const batch = await feedLinker(stack, { Records: [record, record] });

    expect(first?.stored).toBe(1);
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

    const report = await feedLinker(stack, { Records: [foreign, notASession, { eventID: '!!' }] });
    const other = await feedLinker(stack, otherDetailType);

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
    const { requestId, accessKeyId, sourceIdentity, mint } = await grantedAndClaimed();
    const minted = Date.parse(String(mint.eventTime));
    const lateAt = new Date(minted + 15 * 60_000).toISOString();
    const late = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'UpdateItem',
      eventTime: lateAt,
    });
    const early = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: new Date(minted + 5 * 60_000).toISOString(),
    });

    await viaEventBridge(late);
    await viaEventBridge(early);
    await viaEventBridge(mint);

    const stored = await events.listEvents(requestId);
    expect(stored.map((e) => e.eventName)).toEqual(['AssumeRole', 'PutItem', 'UpdateItem']);
    // The latest call stays the latest, whatever arrived last.
    expect(countersOf(await requestItem(requestId))).toMatchObject({
      calls: 2,
      lastAt: lateAt,
    });
  });

  it('links a replayed call after the access-key item expired, through the sessions minted for the request', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    await db.send(
      new DeleteItemCommand({ TableName: stack.stack.tableName, Key: marshall(keys.accessKey(accessKeyId)) }),
    );

    await feedLinker(
      stack,
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

    await feedLinker(
      stack,
      callRecord({
        requestId,
        accessKeyId: stranger,
        sourceIdentity,
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:07:00Z',
      }),
    );
    await feedLinker(
      stack,
      callRecord({
        requestId,
        accessKeyId: stranger,
        eventName: 'GetItem',
        eventTime: '2025-03-10T09:08:00Z',
      }),
    );
    await feedLinker(
      stack,
      assumeRoleRecord({
        requestId,
        mintedAccessKeyId: fakeAccessKeyId('STRANGERKEY00002'),
        sourceIdentity: 'someone-else',
        eventTime: '2025-03-10T09:06:30Z',
        mintingRoleArn,
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

    const report = await feedLinker(stack, record);

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
    await db.send(
      new PutItemCommand({
        TableName: stack.stack.tableName,
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

    const retry = await feedLinker(stack, record);
    const again = await feedLinker(stack, record);

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

    await feedLinker(stack, record);

    const [event] = await events.listEvents(requestId);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting the control characters are gone
    expect(event!.userAgent).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(event!.userAgent!.length).toBeLessThanOrEqual(512);
    expect(event!.userAgent!.startsWith('evilagent =cmd')).toBe(true);
  });

  it('keeps the counters when the request changes state after events were linked', async () => {
    const { requestId, accessKeyId, sourceIdentity, token } = await grantedAndClaimed();
    await feedLinker(
      stack,
      callRecord({
        requestId,
        accessKeyId,
        sourceIdentity,
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:13:00Z',
      }),
    );

    const revoked = await stack.call('POST', `/v1/requests/${requestId}/revoke`, { token });
    expect(revoked.status).toBe(200);

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
    // A state change made by the store the functions use, interleaved by hand.
    const store = new DynamoDbRequestStore(db, stack.stack.tableName);
    await feedLinker(stack, call('2025-03-10T09:14:00Z'));
    const read = await store.get(requestId, { consistent: true });

    // The linker writes between the state change's read and its write.
    await feedLinker(stack, call('2025-03-10T09:14:30Z'));
    await store.replace(
      { ...read!, updatedAt: new Date().toISOString(), version: read!.version + 1 },
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
    const logged = stack.logs.length;
    await viaEventBridge(record);

    // Assess
    expect(loggedLinkReports(stack, logged)).toMatchObject([{ stored: 1 }]);
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
    const report = await feedLinker(stack, record);

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
    await viaEventBridge(record);

    // Assess: the finding in the evidence record the deployed reports give an auditor
    expect((await evidenceOf(own.requestId)).findings.map((f) => f.type)).toContain('ACCESS_DENIED');
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
        mintingRoleArn,
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
    const report = await feedLinker(stack, record);

    // Assess
    expect(report).toMatchObject({ stored: 0, ignored: 1, ignoredBy: { 'not-countersign': 1 } });
    expect(await events.listEvents(victim.requestId)).toEqual([]);
  });
});

describe('the deployed linker function', () => {
  it('answers the invocation with the link report and logs counts only', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:15:00Z',
      userAgent: 'secret-looking-agent',
    });
    const logged = stack.logs.length;

    await viaEventBridge(record);
    const garbage = await stack.call('POST', '/local/cloudtrail', { body: 'not an event' });

    expect(loggedLinkReports(stack, logged)).toContainEqual(expect.objectContaining({ stored: 1 }));
    // What the linker could not read is answered, not thrown: a 400 here, a malformed count logged.
    expect(garbage).toMatchObject({ status: 400, body: { error: { code: 'ValidationError' } } });
    expect(loggedLinkReports(stack, logged)).toContainEqual(
      expect.objectContaining({ ignored: 1, ignoredBy: { malformed: 1 } }),
    );
    expect(stack.logs.join('\n')).not.toContain('secret-looking-agent');
  });

  it('serves POST /local/cloudtrail: 200 with the report, 400 for what is not CloudTrail', async () => {
    const { requestId, accessKeyId, sourceIdentity } = await grantedAndClaimed();
    const record = callRecord({
      requestId,
      accessKeyId,
      sourceIdentity,
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:16:00Z',
    });
    const post = (rawBody: string) =>
      stack.call('POST', '/local/cloudtrail', { rawBody, headers: { 'content-type': 'application/json' } });

    const ok = await post(JSON.stringify({ Records: [record] }));
    const notJson = await post('{"Records": [');
    const wrongShape = await post('{"hello":"world"}');

    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ received: 1, stored: 1 });
    expect(notJson.status).toBe(400);
    expect(wrongShape.status).toBe(400);
    expect((wrongShape.body as { error: { code: string } }).error.code).toBe('ValidationError');
  });
});
