import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLocalDynamoDbClient,
  type DynamoDbLocal,
  ensureTable,
  startDynamoDbLocal,
} from '../../lib/local/dynamodb-local.js';
import { failure } from './helpers.js';

describe('DynamoDB Local', () => {
  let db: DynamoDbLocal;
  let client: DynamoDBClient;

  beforeAll(async () => {
    db = await startDynamoDbLocal({ inMemory: true });
    client = createLocalDynamoDbClient(db.endpoint);
  });

  afterAll(async () => {
    client?.destroy();
    await db?.stop();
  });

  it("answers on 127.0.0.1 only, not on the machine's other addresses", async (ctx) => {
    // Prepare: an address of this machine that is not loopback (a CI runner always has one).
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!external) ctx.skip();
    const tryConnect = (host: string) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host, port: db.port });
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });

    // Act
    const loopback = await tryConnect('127.0.0.1');
    const other = await tryConnect(external as string);

    // Assess
    expect(loopback).toBe('connected');
    expect(other).toBe('ECONNREFUSED');
  });

  it('starts on a free 127.0.0.1 port and reports how long it took', () => {
    // Assess
    expect(db.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(db.startMs).toBeGreaterThan(0);
    expect(db.startMs).toBeLessThan(20_000);
    console.info(`DynamoDB Local answered ${db.startMs} ms after spawn`);
  });

  it('ensureTable creates the table of TABLE_DESIGN once: keys, its GSIs projecting ALL, on-demand, TTL', async () => {
    // Act
    const first = await ensureTable(client, 'countersign-test');
    const second = await ensureTable(client, 'countersign-test');
    const { Table } = await client.send(new DescribeTableCommand({ TableName: 'countersign-test' }));
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: 'countersign-test' }));

    // Assess
    expect([first, second]).toEqual(['created', 'exists']);
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const indexes = Object.fromEntries(
      (Table?.GlobalSecondaryIndexes ?? []).map((i) => [
        i.IndexName,
        {
          keys: i.KeySchema?.map((k) => `${k.AttributeName}:${k.KeyType}`),
          projection: i.Projection?.ProjectionType,
        },
      ]),
    );
    expect(indexes).toEqual({
      byAgent: { keys: ['GSI1PK:HASH', 'GSI1SK:RANGE'], projection: 'ALL' },
      byDay: { keys: ['GSI2PK:HASH', 'GSI2SK:RANGE'], projection: 'ALL' },
      byStatus: { keys: ['status:HASH', 'GSI2SK:RANGE'], projection: 'ALL' },
    });
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  });

  it('serves the same data whatever dummy credentials a client uses (shared database)', async () => {
    // Prepare
    await ensureTable(client, 'countersign-shared');
    await client.send(
      new PutItemCommand({
        TableName: 'countersign-shared',
        Item: {
          PK: { S: 'REQ#1' },
          SK: { S: 'REQUEST' },
          GSI1PK: { S: 'AGENT#iss#bot' },
          GSI1SK: { S: '2026-01-01T00:00:00Z#1' },
        },
      }),
    );
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const other = new DynamoDBClient({
      endpoint: db.endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'someone', secretAccessKey: 'else' },
    });

    // Act
    const found = await other.send(
      new QueryCommand({
        TableName: 'countersign-shared',
        IndexName: 'byAgent',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': { S: 'AGENT#iss#bot' } },
      }),
    );
    other.destroy();

    // Assess
    expect(found.Items?.map((i) => i.PK?.S)).toEqual(['REQ#1']);
  });
});

describe('DynamoDB Local start-up and shutdown', () => {
  it('keeps tables in dataDir across restarts, and stop() ends the process', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'countersign-ddb-'));
    try {
      const first = await startDynamoDbLocal({ dataDir: dir });
      const c1 = createLocalDynamoDbClient(first.endpoint);
      await ensureTable(c1, 'countersign-disk');
      c1.destroy();

      // Act
      await first.stop();
      const afterStop = await failure(
        createLocalDynamoDbClient(first.endpoint).send(new ListTablesCommand({})),
      );
      const second = await startDynamoDbLocal({ dataDir: dir });
      const c2 = createLocalDynamoDbClient(second.endpoint);
      const again = await ensureTable(c2, 'countersign-disk');
      c2.destroy();
      await second.stop();

      // Assess
      expect(afterStop).toBeInstanceOf(Error);
      expect(again).toBe('exists');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says Java is missing when it is not on PATH', async () => {
    // Prepare
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      // Act
      const error = await failure(startDynamoDbLocal({ inMemory: true }));

      // Assess
      expect(String(error)).toMatch(/needs Java 17 or later on PATH/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('gives up with a clear error when the emulator does not answer in time', async () => {
    // Act
    const error = await failure(startDynamoDbLocal({ inMemory: true, startTimeoutMs: 1 }));

    // Assess
    expect(String(error)).toMatch(/did not answer on http:\/\/127\.0\.0\.1:\d+ within 1 ms/);
  });

  it('refuses inMemory together with dataDir', async () => {
    // Act
    const error = await failure(startDynamoDbLocal({ inMemory: true, dataDir: '/tmp/x' }));

    // Assess
    expect(String(error)).toMatch(/inMemory or dataDir/);
  });
});
