import { randomUUID } from 'node:crypto';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbEventStore } from '../../lambdas/adapters/dynamodb-events.js';
import { DynamoDbRequestStore } from '../../lambdas/adapters/dynamodb-store.js';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { KmsClient } from '../../lambdas/adapters/kms-client.js';
import { KmsMac } from '../../lambdas/adapters/kms-mac.js';
import { physicalResources } from '../../lib/local/assembly/physical-resources.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import { TestStack } from '../support/local-stack.js';

/**
 * Threat (issue 12, item 7): an agent that mints many sessions over a long grant, or makes many
 * calls, pushed part of its record past what `GET /v1/reports/requests/{id}` listed (500 sessions,
 * 1,000 events, then `activityTruncated`), and the keyed check of what was cut off — session MACs,
 * and the events adding up to the MAC'd counters — was skipped. Guard: the record pages its
 * sessions and events (`limit`, `nextCursor`), and every page's totals, findings and integrity
 * verdict cover every item of the request. Through the local stack (the synthesized bundles); the
 * extra sessions and events are written with the app's own stores, MAC'd by the local KMS key.
 */

type Record_ = {
  evidence: {
    sessions: Array<{ accessKeyId: string; cloudTrailConfirmed: boolean }>;
    activity: Array<{ eventId: string; eventName: string }>;
    activityTotals: { calls: number; denied: number; unlinked: number };
    recorded: { sessions: number; events: number };
  };
  findings: Array<{ type: string; detail: string }>;
  integrity: { valid: boolean; problem?: string; keyed?: boolean };
  nextCursor: string | null;
};
type Problem = { error: { code: string; details?: { field?: string } } };

/** More sessions than the old record listed (500), so the old code cut them and skipped checks. */
const EXTRA_SESSIONS = 520;
const EXTRA_EVENTS = 40;

let stack: TestStack;
let auditor: string;
let agent: string;
let ddb: DynamoDBClient;
let id: string;
/** The claimed (real) session's key. */
let realKey: string;

beforeAll(async () => {
  stack = await TestStack.start();
  agent = await stack.agentToken('paging-bot');
  auditor = await stack.token('audrey@example.com', ['auditors']);

  // A real grant, a real claim and a real call (CloudTrail → the linker): keyed by the app itself.
  id = await stack.approvedRequest(agent, 'orders');
  const claim = await stack.call<{ AccessKeyId: string; SecretAccessKey: string; SessionToken: string }>(
    'POST',
    `/v1/requests/${id}/credentials`,
    { token: agent },
  );
  expect(claim.status).toBe(200);
  realKey = claim.body.AccessKeyId;
  expect(await stack.putItem(claim.body, 'orders', 'paging-1')).toBe('ok');
  await stack.stack.delivery.idle();

  // Many more, written by the app's stores with the deployment's history key (the local KMS key of
  // the template), as the claim function and the linker write them.
  const local = stack.stack;
  const admin = `arn:aws:iam::${local.account}:role/evidence-paging-setup`;
  local.aws.createRole(admin, {
    inline: { all: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } },
  });
  const creds = local.aws.issueRoleSession(admin, 'setup');
  const keyLogicalId = Object.entries(local.assembly.model.template.Resources ?? {}).find(
    ([, r]) => (r as { Type?: string }).Type === 'AWS::KMS::Key',
  )?.[0];
  const physical = physicalResources(local.assembly.model, {
    account: local.account,
    region: local.region,
    stackName: 'Countersign',
    parameters: { OidcIssuer: local.issuer.issuer, SlackApiUrl: `${local.endpoints.slack}/api` },
  });
  const keyId = physical.resources[keyLogicalId!]!.ref;
  const kms = new KmsClient({
    region: local.region,
    endpoint: local.endpoints.aws,
    credentials: {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
    },
  });
  const mac = new KmsMac(kms, keyId);
  ddb = new DynamoDBClient({
    region: local.region,
    endpoint: local.endpoints.dynamodb,
    credentials: { accessKeyId: 'LOCALTESTSETUP000001', secretAccessKey: 'local-test-setup' },
  });
  const sessions = new DynamoDbRequestStore(ddb, local.tableName, { mac });
  const events = new DynamoDbEventStore(ddb, local.tableName, mac);
  const issued = Date.now();
  for (let i = 0; i < EXTRA_SESSIONS; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, EXTRA_SESSIONS - i) }, (_, j) =>
        sessions.putSession(
          {
            requestId: id,
            accessKeyId: fakeAccessKeyId(`PAGING${String(i + j).padStart(6, '0')}`),
            assumedRoleId: `AROAEXAMPLE:${id}`,
            roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
            sourceIdentity: 'paging-bot',
            issuedAt: new Date(issued + (i + j) * 1000).toISOString(),
            expiresAt: new Date(issued + 900_000 + (i + j) * 1000).toISOString(),
          },
          Math.floor(issued / 1000) + 3600,
        ),
      ),
    );
  }
  for (let i = 0; i < EXTRA_EVENTS; i++) {
    await events.putEvent({
      requestId: id,
      eventId: randomUUID(),
      eventTime: new Date(issued + i * 1000).toISOString(),
      eventName: i % 4 === 0 ? 'DeleteItem' : 'PutItem',
      eventSource: 'dynamodb.amazonaws.com',
      awsRegion: local.region,
      resources: ['arn:aws:dynamodb:us-east-1:111122223333:table/orders'],
      ...(i % 4 === 0 ? { errorCode: 'AccessDenied' } : {}),
      accessKeyId: fakeAccessKeyId(`PAGING${String(i).padStart(6, '0')}`),
      linkedBy: 'accessKeyId',
      minted: true,
    });
  }
}, 180_000);

afterAll(async () => {
  ddb?.destroy();
  await stack?.stop();
});

const record = (requestId: string, query = '') =>
  stack.call<Record_>('GET', `/v1/reports/requests/${requestId}${query}`, { token: auditor });

/** Every page of the record, following `nextCursor` from the first. */
async function allPages(requestId: string, limit?: number): Promise<Record_[]> {
  const pages: Record_[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams();
    if (limit !== undefined) params.set('limit', String(limit));
    if (cursor) params.set('cursor', cursor);
    const query = params.size > 0 ? `?${params}` : '';
    const answer = await record(requestId, query);
    expect(answer.status).toBe(200);
    pages.push(answer.body);
    cursor = answer.body.nextCursor;
  } while (cursor && pages.length < 50);
  return pages;
}

/** Puts an item back as it was, after a test edited or deleted it. */
async function restoring<T>(key: Record<string, string>, change: () => Promise<T>): Promise<T> {
  const table = stack.stack.tableName;
  const before = (await ddb.send(new GetItemCommand({ TableName: table, Key: marshall(key) }))).Item!;
  try {
    return await change();
  } finally {
    await ddb.send(new PutItemCommand({ TableName: table, Item: before }));
  }
}

describe('the evidence record pages its sessions and events', () => {
  it('shows every session and every event across pages, none twice and none missing; each page verifies all', async () => {
    const pages = await allPages(id);
    const truth = {
      sessions: EXTRA_SESSIONS + 1,
      // The extra events, the real PutItem and the real session's minting AssumeRole.
      events: pages[0]!.evidence.recorded.events,
    };
    expect(truth.events).toBeGreaterThanOrEqual(EXTRA_EVENTS + 2);

    const sessions = pages.flatMap((p) => p.evidence.sessions.map((s) => s.accessKeyId));
    const events = pages.flatMap((p) => p.evidence.activity.map((e) => e.eventId));
    expect(pages).toHaveLength(Math.ceil(truth.sessions / 100));
    expect(new Set(sessions).size).toBe(sessions.length);
    expect(new Set(events).size).toBe(events.length);
    expect(sessions).toHaveLength(truth.sessions);
    expect(events).toHaveLength(truth.events);
    expect(sessions).toContain(realKey);
    for (let i = 0; i < EXTRA_SESSIONS; i++) {
      expect(sessions).toContain(fakeAccessKeyId(`PAGING${String(i).padStart(6, '0')}`));
    }
    expect(pages.at(-1)!.nextCursor).toBeNull();
    for (const page of pages) {
      expect(page.evidence.sessions.length).toBeLessThanOrEqual(100);
      expect(page.evidence.activity.length).toBeLessThanOrEqual(100);
      expect(page.evidence.recorded).toEqual(truth);
      // The totals and the keyed verdict are over everything, on every page.
      expect(page.evidence.activityTotals).toMatchObject({
        calls: EXTRA_EVENTS + 1,
        denied: EXTRA_EVENTS / 4,
      });
      expect(page.integrity).toEqual({ valid: true, keyed: true });
      expect(page.findings.map((f) => f.type)).toContain('ACCESS_DENIED');
    }
    // CloudTrail confirmed the real session's minting, on whichever page it is listed.
    const real = pages.flatMap((p) => p.evidence.sessions).find((s) => s.accessKeyId === realKey);
    expect(real?.cloudTrailConfirmed).toBe(true);

    // A smaller limit walks the same items in more pages.
    const small = await allPages(id, 250);
    expect(small).toHaveLength(Math.ceil(truth.sessions / 250));
    expect(small.flatMap((p) => p.evidence.sessions.map((s) => s.accessKeyId)).sort()).toEqual(
      [...sessions].sort(),
    );
  }, 120_000);

  it('a session tampered with on a later page fails the verdict of the first page', async () => {
    // The session listed last: the lowest sort key (pages go down the keys).
    const stored = await new DynamoDbRequestStore(ddb, stack.stack.tableName).listSessions(id);
    const last = stored.map((s) => s.accessKeyId).sort()[0]!;
    expect((await record(id)).body.evidence.sessions.map((s) => s.accessKeyId)).not.toContain(last);

    const first = await restoring(keys.session(id, last), async () => {
      await ddb.send(
        new UpdateItemCommand({
          TableName: stack.stack.tableName,
          Key: marshall(keys.session(id, last)),
          UpdateExpression: 'SET expiresAt = :e',
          ExpressionAttributeValues: marshall({ ':e': '2020-01-01T00:00:00.000Z' }),
        }),
      );
      return (await record(id)).body;
    });

    expect(first.integrity).toEqual({
      valid: false,
      keyed: true,
      problem: `session ${last} does not verify with the history key`,
    });
    expect(first.findings.map((f) => f.type)).toContain('INTEGRITY_FAILURE');
    expect((await record(id)).body.integrity).toEqual({ valid: true, keyed: true });
  }, 60_000);

  it('an event deleted from a later page fails the verdict of the first page', async () => {
    const shown = new Set((await record(id, '?limit=10')).body.evidence.activity.map((e) => e.eventId));
    const stored = await new DynamoDbEventStore(ddb, stack.stack.tableName).listEvents(id);
    const later = stored.find((e) => e.eventName === 'DeleteItem' && !shown.has(e.eventId))!;
    expect(later).toBeDefined();

    const first = await restoring(keys.event(id, later.eventId), async () => {
      await ddb.send(
        new DeleteItemCommand({
          TableName: stack.stack.tableName,
          Key: marshall(keys.event(id, later.eventId)),
        }),
      );
      return (await record(id, '?limit=10')).body;
    });

    expect(first.integrity).toMatchObject({
      valid: false,
      keyed: true,
      problem: expect.stringMatching(/events may have been deleted/),
    });
    expect((await record(id, '?limit=10')).body.integrity).toEqual({ valid: true, keyed: true });
  }, 60_000);

  it('refuses a garbled, forged or foreign cursor, and a bad limit or parameter, with 400', async () => {
    const other = await stack.pendingRequest(agent, 'orders');
    const cursor = (await record(id, '?limit=5')).body.nextCursor!;
    expect(cursor).toEqual(expect.any(String));
    const forged = Buffer.from(JSON.stringify({ v: 1, q: 'AAAAAAAAAAAAAAAA', s: 'ASIA' })).toString(
      'base64url',
    );
    const edited = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(cursor, 'base64url').toString()), s: 7 }),
    ).toString('base64url');

    for (const [requestId, query, field] of [
      [id, '?cursor=not%20a%20cursor', 'cursor'],
      [id, `?cursor=${forged}`, 'cursor'],
      [id, `?cursor=${edited}`, 'cursor'],
      [id, `?cursor=${cursor.slice(0, -4)}`, 'cursor'],
      // A cursor of one request is refused on another.
      [other, `?cursor=${cursor}`, 'cursor'],
      [id, '?limit=0', 'limit'],
      [id, '?limit=501', 'limit'],
      [id, '?page=2', 'page'],
    ] as const) {
      const answer = await stack.call<Problem>('GET', `/v1/reports/requests/${requestId}${query}`, {
        token: auditor,
      });
      expect({
        query,
        status: answer.status,
        error: answer.body.error?.code,
        field: answer.body.error?.details?.field,
      }).toEqual({
        query,
        status: 400,
        error: 'ValidationError',
        field,
      });
    }
    // The same cursor on its own request is the next page.
    expect((await record(id, `?limit=5&cursor=${cursor}`)).status).toBe(200);
  }, 60_000);
});
