import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIVITY_MAC_ATTRIBUTE,
  countersOf,
  DynamoDbEventStore,
} from '../../lambdas/adapters/dynamodb-events.js';
import { DynamoDbRequestStore } from '../../lambdas/adapters/dynamodb-store.js';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { HmacMac } from '../../lambdas/adapters/hmac-mac.js';
import { verifyEvidenceIntegrity } from '../../lambdas/core/evidence.js';
import { canonicalJson, snapshotOf, verifyHistory } from '../../lambdas/core/history.js';
import { CloudTrailLinker } from '../../lambdas/core/linker.js';
import type { AccessRequest, HistoryEntry } from '../../lambdas/core/model.js';
import type { DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import {
  caller,
  callRecord,
  lifecycle,
  MINTING_ROLE_ARN,
  startTable,
  TABLE_ARN,
  TestClock,
} from './support.js';

/**
 * Threat (issue 12, item 3): someone with write access to the table rewriting the evidence. The
 * chain was unkeyed SHA-256 over a snapshot without refusals or `shownAt`, and sessions, events and
 * counters were not covered: removing a refusal erased SELF_APPROVAL_ATTEMPT, deleting an event
 * erased ACCESS_DENIED, rewriting an approver and recomputing the last link kept it valid. Guard:
 * a keyed chain (Mac port; real HMAC-SHA-256 here, KMS on AWS) written by the stores, and
 * `verifyEvidenceIntegrity`.
 */

let db: DynamoDbLocal;
let client: DynamoDBClient;
let table: string;
const clock = new TestClock(Date.parse('2025-08-01T09:00:00.000Z'));
const mac = new HmacMac(randomBytes(32));
let life: ReturnType<typeof lifecycle>;
let events: DynamoDbEventStore;
let linker: CloudTrailLinker;

beforeAll(async () => {
  ({ db, client, table } = await startTable());
  life = lifecycle(client, table, clock, mac);
  events = new DynamoDbEventStore(client, table, mac);
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

/** A request with a refused self-approval, an approval, a claimed session and a denied call. */
async function fullRecord(agent: string): Promise<string> {
  const request = await life.ask(agent, TABLE_ARN('orders'), ['dynamodb:PutItem'], {
    context: { onBehalfOf: 'carol@example.com' },
  });
  await life.decisions
    .decide({
      requestId: request.id,
      caller: caller('carol@example.com', 'approver'),
      decision: 'approve',
      channel: 'api',
    })
    .catch(() => undefined);
  await life.approve(request.id);
  const credentials = await life.claim(agent, request.id);
  await linker.link(
    callRecord({
      requestId: request.id,
      accessKeyId: credentials.AccessKeyId,
      eventName: 'DeleteItem',
      eventTime: '2025-08-01T09:05:00Z',
      errorCode: 'AccessDenied',
    }),
  );
  return request.id;
}

async function verdict(id: string) {
  const item = unmarshall(
    (await client.send(new GetItemCommand({ TableName: table, Key: marshall(keys.request(id)) }))).Item!,
  );
  const request = (await life.store.get(id))!;
  return verifyEvidenceIntegrity(
    {
      request,
      sessions: await life.store.listSessions(id),
      events: await events.listEvents(id),
      counters: { ...countersOf(item), mac: item[ACTIVITY_MAC_ATTRIBUTE] as string | undefined },
    },
    mac,
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** What an attacker without the key can do: recompute the unkeyed link of the last entry. */
function relinkLast(request: AccessRequest): HistoryEntry[] {
  const history = [...request.history!];
  const last = history.at(-1)!;
  const previous = history.at(-2)?.hash ?? '0'.repeat(64);
  const state = snapshotOf(request);
  const hash = sha256(`${previous}|${last.seq}|${last.at}|${last.event}|${state}`);
  history[history.length - 1] = { ...last, state, hash };
  return history;
}

async function setOnRequest(id: string, field: string, value: unknown) {
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: marshall(keys.request(id)),
      UpdateExpression: 'SET #f = :v',
      ExpressionAttributeNames: { '#f': field },
      ExpressionAttributeValues: marshall({ ':v': value }, { removeUndefinedValues: true }),
    }),
  );
}

describe('the keyed history covers every fact a reviewer relies on', () => {
  it('an untouched record verifies (control), and its refusal, session and event are there', async () => {
    const id = await fullRecord('honest-keyed');
    const request = (await life.store.get(id))!;
    expect(request.refusals?.map((r) => r.code)).toContain('SelfApproval');
    expect(request.history!.every((e) => typeof e.mac === 'string')).toBe(true);
    expect(await verdict(id)).toEqual({ valid: true });
  });

  it('removing a refusal and relinking the unkeyed chain is caught', async () => {
    // Prepare
    const id = await fullRecord('refusal-keyed');
    const request = (await life.store.get(id))!;
    const edited = { ...request, refusals: [] };

    // Act: the attacker recomputes what it can
    await setOnRequest(id, 'refusals', []);
    await setOnRequest(id, 'history', relinkLast(edited));

    // Assess: the unkeyed check is fooled; the keyed one is not
    const after = (await life.store.get(id))!;
    expect(verifyHistory(after.history!, after)).toEqual({ valid: true });
    expect(await verdict(id)).toMatchObject({ valid: false, problem: expect.stringMatching(/history key/) });
  });

  it('rewriting an approver and relinking the last entry is caught', async () => {
    const id = await fullRecord('approver-keyed');
    const request = (await life.store.get(id))!;
    const decisions = request.decisions.map((d) => ({ ...d, approver: 'mallory@example.com' }));
    await setOnRequest(id, 'decisions', decisions);
    await setOnRequest(id, 'history', relinkLast({ ...request, decisions }));

    expect(await verdict(id)).toMatchObject({ valid: false });
  });

  it('changing shownAt (to hide a rubber stamp) is caught', async () => {
    const id = await fullRecord('shown-keyed');
    await setOnRequest(id, 'shownAt', '2025-08-01T08:00:00.000Z');

    expect(await verdict(id)).toMatchObject({ valid: false, problem: expect.stringMatching(/differs/) });
  });

  it('deleting the denied event (to erase ACCESS_DENIED) is caught', async () => {
    const id = await fullRecord('event-keyed');
    const [event] = await events.listEvents(id);
    await client.send(
      new DeleteItemCommand({ TableName: table, Key: marshall(keys.event(id, event!.eventId)) }),
    );

    expect(await verdict(id)).toMatchObject({
      valid: false,
      problem: expect.stringMatching(/events may have been deleted/),
    });
  });

  it('editing an event, a session or the counters is caught', async () => {
    const id = await fullRecord('items-keyed');
    const [event] = await events.listEvents(id);
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall(keys.event(id, event!.eventId)),
        UpdateExpression: 'REMOVE errorCode',
      }),
    );
    expect(await verdict(id)).toMatchObject({ valid: false, problem: expect.stringMatching(/^event /) });

    const other = await fullRecord('session-keyed');
    const [session] = await life.store.listSessions(other);
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall(keys.session(other, session!.accessKeyId)),
        UpdateExpression: 'SET expiresAt = :e',
        ExpressionAttributeValues: marshall({ ':e': '2025-08-01T09:01:00.000Z' }),
      }),
    );
    expect(await verdict(other)).toMatchObject({ valid: false, problem: expect.stringMatching(/^session /) });

    const third = await fullRecord('counters-keyed');
    await setOnRequest(third, 'activityDenied', 0);
    expect(await verdict(third)).toMatchObject({ valid: false, problem: expect.stringMatching(/counters/) });
  });

  it('a later legitimate state change does not launder an edit: it is refused, and the edit stays visible', async () => {
    // Prepare: a pending request whose self-approval refusal is removed in the table
    const request = await life.ask('launder-keyed', TABLE_ARN('orders'), ['dynamodb:PutItem'], {
      context: { onBehalfOf: 'carol@example.com' },
    });
    await life.decisions
      .decide({
        requestId: request.id,
        caller: caller('carol@example.com', 'approver'),
        decision: 'approve',
        channel: 'api',
      })
      .catch(() => undefined);
    await setOnRequest(request.id, 'refusals', []);

    // Act: an approver approves, which appends (and would sign) a new entry over the edited facts
    const error = await life.approve(request.id).then(
      () => undefined,
      (e: unknown) => e,
    );

    // Assess
    expect(error).toMatchObject({ status: 500, code: 'FailedClosed' });
    expect((await life.store.get(request.id))!.status).toBe('PENDING');
    expect(await verdict(request.id)).toMatchObject({ valid: false });
  });

  it('a chain signed with another key does not verify', async () => {
    const id = await fullRecord('otherkey-keyed');
    const request = (await life.store.get(id))!;
    const forged = new HmacMac(randomBytes(32));
    const result = await verifyEvidenceIntegrity({ request, sessions: [], events: [] }, forged);
    expect(result).toMatchObject({ valid: false });
    expect(canonicalJson(request.history)).toContain('"mac"');
  });
});
