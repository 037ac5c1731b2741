import {
  BatchWriteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIVITY_ATTRIBUTES,
  countersOf,
  DynamoDbEventStore,
} from '../../lambdas/adapters/dynamodb-events.js';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { HmacMac } from '../../lambdas/adapters/hmac-mac.js';
import { summarizeActivity } from '../../lambdas/core/activity.js';
import { FailClosedError } from '../../lambdas/core/errors.js';
import { countersMacInput } from '../../lambdas/core/history.js';
import type { LinkedEvent } from '../../lambdas/core/model.js';
import type { DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import { lifecycle, startTable, TABLE_ARN, TestClock } from '../evidence/support.js';

let db: DynamoDbLocal;
let client: DynamoDBClient;
let table: string;
let events: DynamoDbEventStore;
let life: ReturnType<typeof lifecycle>;
const clock = new TestClock(Date.parse('2025-03-10T09:00:00.000Z'));

beforeAll(async () => {
  ({ db, client, table } = await startTable());
  events = new DynamoDbEventStore(client, table);
  life = lifecycle(client, table, clock);
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

async function grantedRequest(agent: string): Promise<string> {
  const request = await life.ask(agent, TABLE_ARN('orders'), ['dynamodb:PutItem']);
  await life.approve(request.id);
  return request.id;
}

const call = (requestId: string, i: number, over: Partial<LinkedEvent> = {}): LinkedEvent => ({
  requestId,
  eventId: `event-${String(i).padStart(5, '0')}`,
  eventTime: new Date(Date.parse('2025-03-10T09:05:00Z') + i * 1000).toISOString(),
  eventName: 'PutItem',
  eventSource: 'dynamodb.amazonaws.com',
  resources: [TABLE_ARN('orders')],
  linkedBy: 'accessKeyId',
  minted: true,
  ...over,
});

/** Stores `count` events straight into the table (as the linker stores them, without counting). */
async function storeEvents(requestId: string, count: number): Promise<void> {
  for (let from = 0; from < count; from += 25) {
    const batch = Array.from({ length: Math.min(25, count - from) }, (_, k) => call(requestId, from + k));
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table]: batch.map((e) => ({
            PutRequest: { Item: marshall({ ...keys.event(requestId, e.eventId), ...e }) },
          })),
        },
      }),
    );
  }
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: marshall(keys.request(requestId)),
      UpdateExpression: 'SET #calls = :n',
      ExpressionAttributeNames: { '#calls': ACTIVITY_ATTRIBUTES.calls },
      ExpressionAttributeValues: marshall({ ':n': count }),
    }),
  );
}

describe('DynamoDbEventStore.readActivity (the end-of-grant summary’s read)', () => {
  it('returns the events and the linker’s counters, which summarize alike', async () => {
    // Prepare: the linker stores a call and the session's refused AssumeRole
    const id = await grantedRequest('summary-bot');
    await events.putEvent(call(id, 1));
    await events.putEvent(
      call(id, 2, {
        eventName: 'AssumeRole',
        eventSource: 'sts.amazonaws.com',
        resources: [],
        minting: false,
        errorCode: 'AccessDenied',
      }),
    );
    // Act
    const activity = await events.readActivity(id);
    // Assess
    expect(activity.truncated).toBe(false);
    expect(activity.events.map((e) => e.eventName)).toEqual(['PutItem', 'AssumeRole']);
    expect(activity.counters).toMatchObject({ calls: 2, denied: 1 });
    expect(summarizeActivity(activity).totals).toMatchObject({ calls: 2, denied: 1 });
  });

  it('says when the events were cut short, so the summary takes the counters', async () => {
    // Prepare: one event more than the read takes
    const id = await grantedRequest('busy-bot');
    await storeEvents(id, 2001);
    // Act
    const activity = await events.readActivity(id);
    // Assess
    expect(activity.events).toHaveLength(2000);
    expect(activity.truncated).toBe(true);
    expect(summarizeActivity(activity).totals.calls).toBe(2001);
  }, 60_000);

  it('does not call a read of exactly the cap cut short', async () => {
    const id = await grantedRequest('exact-bot');
    await storeEvents(id, 2000);
    const activity = await events.readActivity(id);
    expect(activity.events).toHaveLength(2000);
    expect(activity.truncated).toBe(false);
  }, 60_000);
});

describe('the counters and their MAC', () => {
  it('change in one write: a reader never sees counters their MAC does not cover, and none is lost', async () => {
    // Prepare: a keyed store, as deployed, and 24 events of one request counted at once.
    const mac = new HmacMac(Buffer.alloc(32, 5));
    const keyed = new DynamoDbEventStore(client, table, mac);
    const id = await grantedRequest('racing-agent');
    const all = Array.from({ length: 24 }, (_, i) =>
      call(id, i, i % 4 === 0 ? { errorCode: 'AccessDenied' } : {}),
    );
    let done = false;
    const seen: boolean[] = [];
    const reader = (async () => {
      while (!done) {
        const out = await client.send(
          new GetItemCommand({ TableName: table, Key: marshall(keys.request(id)), ConsistentRead: true }),
        );
        const item = unmarshall(out.Item!);
        const counters = countersOf(item);
        if (counters.calls > 0)
          seen.push(await mac.verify(countersMacInput(id, counters), counters.mac ?? ''));
      }
    })();

    // Act
    await Promise.all(all.map((event) => keyed.putEvent(event)));
    done = true;
    await reader;

    // Assess
    const final = countersOf(
      unmarshall(
        (await client.send(new GetItemCommand({ TableName: table, Key: marshall(keys.request(id)) }))).Item!,
      ),
    );
    expect(final).toMatchObject({ calls: 24, denied: 6 });
    expect(await mac.verify(countersMacInput(id, final), final.mac!)).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((valid) => !valid)).toEqual([]);
  });
});

describe('counters edited in the table', () => {
  it('are never signed over by the next event: the edit stays visible and the linker fails closed', async () => {
    // Prepare: two denied calls counted and sealed, then a table writer lowers the counters.
    const mac = new HmacMac(Buffer.alloc(32, 6));
    const keyed = new DynamoDbEventStore(client, table, mac);
    const id = await grantedRequest('lowering-agent');
    await keyed.putEvent(call(id, 0, { errorCode: 'AccessDenied' }));
    await keyed.putEvent(call(id, 1, { errorCode: 'AccessDenied' }));
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall(keys.request(id)),
        UpdateExpression: 'SET #calls = :zero, #denied = :zero',
        ExpressionAttributeNames: {
          '#calls': ACTIVITY_ATTRIBUTES.calls,
          '#denied': ACTIVITY_ATTRIBUTES.denied,
        },
        ExpressionAttributeValues: marshall({ ':zero': 0 }),
      }),
    );

    // Act: the agent's next call is linked
    const next = keyed.putEvent(call(id, 2));

    // Assess
    await expect(next).rejects.toBeInstanceOf(FailClosedError);
    const counters = countersOf(
      unmarshall(
        (await client.send(new GetItemCommand({ TableName: table, Key: marshall(keys.request(id)) }))).Item!,
      ),
    );
    expect(counters).toMatchObject({ calls: 0, denied: 0 });
    expect(await mac.verify(countersMacInput(id, counters), counters.mac!)).toBe(false);
  });
});

describe('one event delivered several times at once', () => {
  it('is stored once and counted once, so the counters never exceed the events', async () => {
    const mac = new HmacMac(Buffer.alloc(32, 8));
    const keyed = new DynamoDbEventStore(client, table, mac);
    const id = await grantedRequest('redelivered-agent');
    const once = call(id, 0, { errorCode: 'AccessDenied' });

    const results = await Promise.all(Array.from({ length: 6 }, () => keyed.putEvent(once)));

    expect(results.filter((r) => r === 'stored')).toHaveLength(1);
    const counters = countersOf(
      unmarshall(
        (await client.send(new GetItemCommand({ TableName: table, Key: marshall(keys.request(id)) }))).Item!,
      ),
    );
    expect(counters).toMatchObject({ calls: 1, denied: 1 });
    expect(await mac.verify(countersMacInput(id, counters), counters.mac!)).toBe(true);
  });
});
