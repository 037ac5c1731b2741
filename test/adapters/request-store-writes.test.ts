import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { HmacMac } from '../../lambdas/adapters/hmac-mac.js';
import { FailClosedError } from '../../lambdas/core/errors.js';
import { appendHistory } from '../../lambdas/core/history.js';
import type { AccessRequest } from '../../lambdas/core/model.js';
import type { Mac } from '../../lambdas/core/ports.js';
import type { DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import { lifecycle, startTable, TABLE_ARN, TestClock } from '../evidence/support.js';

/**
 * The request store before a state change: a state it read is checked against its keyed history
 * (an edit made in the table is never extended); a state it wrote itself, and nobody read since,
 * is not read and checked again — the exact call's result write builds on its own claim.
 */
let db: DynamoDbLocal;
let client: DynamoDBClient;
let table: string;
const clock = new TestClock(Date.parse('2025-03-10T09:00:00.000Z'));

class CountingMac implements Mac {
  verifies = 0;
  private readonly inner = new HmacMac(Buffer.alloc(32, 3));
  sign(data: string) {
    return this.inner.sign(data);
  }
  verify(data: string, mac: string) {
    this.verifies += 1;
    return this.inner.verify(data, mac);
  }
}

beforeAll(async () => {
  ({ db, client, table } = await startTable());
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

const changed = (request: AccessRequest, event: string): AccessRequest => {
  const at = clock.now().toISOString();
  const next = { ...request, version: request.version + 1, updatedAt: at };
  return { ...next, history: appendHistory(request.history ?? [], next, event, at) };
};

describe('the request store before a state change', () => {
  it('builds on a state it wrote itself without reading or checking it again', async () => {
    // Prepare
    const mac = new CountingMac();
    const life = lifecycle(client, table, clock, mac);
    const asked = await life.ask('writer-agent', TABLE_ARN('orders'), ['dynamodb:PutItem']);
    const read = (await life.store.get(asked.id))!;
    const first = changed(read, 'first');
    await life.store.replace(first, { expectedVersion: read.version, from: [read.status] });
    mac.verifies = 0;

    // Act: the next change builds on what the store just wrote
    await life.store.replace(changed(first, 'second'), {
      expectedVersion: first.version,
      from: [first.status],
    });

    // Assess
    expect(mac.verifies).toBe(0);
    expect((await life.store.get(asked.id))?.history?.map((h) => h.event).slice(-2)).toEqual([
      'first',
      'second',
    ]);
  });

  it('still refuses to extend a state edited in the table after its own write, once it is read', async () => {
    // Prepare
    const mac = new CountingMac();
    const life = lifecycle(client, table, clock, mac);
    const asked = await life.ask('edited-agent', TABLE_ARN('orders'), ['dynamodb:PutItem']);
    const read = (await life.store.get(asked.id))!;
    const first = changed(read, 'first');
    await life.store.replace(first, { expectedVersion: read.version, from: [read.status] });
    // Someone with write access to the table rewrites the reason, leaving the version alone.
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall(keys.request(asked.id)),
        UpdateExpression: 'SET reason = :r',
        ExpressionAttributeValues: marshall({ ':r': 'approved by the CISO' }),
      }),
    );

    // Act
    const edited = (await life.store.get(asked.id))!;
    const attempt = life.store.replace(changed(edited, 'second'), {
      expectedVersion: edited.version,
      from: [edited.status],
    });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(FailClosedError);
    expect(mac.verifies).toBeGreaterThan(0);
  });
});
