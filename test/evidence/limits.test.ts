import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRequestStore } from '../../lambdas/adapters/dynamodb-store.js';
import { CredentialClaims } from '../../lambdas/core/credentials.js';
import { RequestReader } from '../../lambdas/core/request-reader.js';
import type { DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import { failure } from '../local/helpers.js';
import { caller, FakeMinter, lifecycle, startTable, TABLE_ARN, TestClock } from './support.js';

/**
 * Threat (issue 12, item 7): one agent using up shared resources — 510 sessions minted for one
 * grant in 6 s (each an STS call and two writes), 60 long-polls held open at once. Guards:
 * `limits.liveSessionsPerGrant` and `limits.claimsPerMinutePerAgent` (CredentialClaims),
 * `limits.concurrentWaitsPerCaller` (RequestReader, with leases in DynamoDB), each answered
 * `429 RateLimited` with `retryAfterSeconds` (the HTTP layer sends it as `Retry-After`).
 */

let db: DynamoDbLocal;
let client: DynamoDBClient;
let table: string;
const clock = new TestClock(Date.parse('2025-07-01T10:00:20.000Z'));
let life: ReturnType<typeof lifecycle>;
let store: DynamoDbRequestStore;

beforeAll(async () => {
  ({ db, client, table } = await startTable());
  life = lifecycle(client, table, clock);
  store = new DynamoDbRequestStore(client, table);
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

async function approved(agent: string): Promise<string> {
  const request = await life.ask(agent, TABLE_ARN('orders'), ['dynamodb:PutItem'], { durationSeconds: 3600 });
  await life.approve(request.id);
  return request.id;
}

const limited = (limits: { claimsPerMinutePerAgent: number; liveSessionsPerGrant: number }) =>
  new CredentialClaims({ store, minter: new FakeMinter(clock), clock, limits });

describe('per-agent bounds on claims', () => {
  it('a grant has at most liveSessionsPerGrant live sessions: the next claim is 429 until one expires', async () => {
    // Prepare
    const claims = limited({ claimsPerMinutePerAgent: 1000, liveSessionsPerGrant: 3 });
    const id = await approved('greedy-claims');
    const agent = caller('greedy-claims', 'agent');
    for (let i = 0; i < 3; i++) {
      await claims.claim(agent, id);
      clock.advance(1);
    }

    // Act
    const refused = await failure(claims.claim(agent, id));

    // Assess: room comes back when the earliest session expires (with this one-hour grant, at its end)
    expect(refused).toMatchObject({ status: 429, code: 'RateLimited' });
    expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(3500);
    expect(await life.store.listSessions(id)).toHaveLength(3);
    // The bound is per grant: the agent's other grant is still claimable.
    const other = await approved('greedy-claims');
    expect((await claims.claim(agent, other)).AccessKeyId).toMatch(/^ASIA/);
  });

  it('an agent makes at most claimsPerMinutePerAgent claims a minute, across its grants', async () => {
    // Prepare
    const claims = limited({ claimsPerMinutePerAgent: 4, liveSessionsPerGrant: 100 });
    const agent = caller('busy-claims', 'agent');
    clock.set(Date.parse('2025-07-01T11:00:05.000Z'));
    const ids = await Promise.all([approved('busy-claims'), approved('busy-claims')]);

    // Act
    const answers = [];
    for (let i = 0; i < 6; i++) {
      answers.push(
        await claims.claim(agent, ids[i % 2]!).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      );
    }

    // Assess
    expect(answers.slice(0, 4)).toEqual(['ok', 'ok', 'ok', 'ok']);
    for (const refused of answers.slice(4)) {
      expect(refused).toMatchObject({ status: 429, code: 'RateLimited', retryAfterSeconds: 55 });
    }
    // Another agent is not slowed by it.
    const other = await approved('calm-claims');
    expect((await claims.claim(caller('calm-claims', 'agent'), other)).AccessKeyId).toMatch(/^ASIA/);
  });
});

describe('per-caller bound on long-polls', () => {
  it('holds at most concurrentWaitsPerCaller long-polls open; the next is 429, and a finished one frees its slot', async () => {
    // Prepare: a pending request, and a reader whose waits end only when the test says so
    const request = await life.ask('polling-bot', TABLE_ARN('orders'), ['dynamodb:PutItem']);
    const agent = caller('polling-bot', 'agent');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reader = new RequestReader({
      store,
      clock,
      concurrentWaitsPerCaller: 2,
      // The first sleep waits for the gate, then the clock passes the deadline.
      sleep: async () => {
        await gate;
        clock.advance(30);
      },
    });
    const open = [reader.get(agent, request.id, 20), reader.get(agent, request.id, 20)];
    await new Promise((r) => setTimeout(r, 300));

    // Act
    const third = await failure(reader.get(agent, request.id, 20));
    const plainRead = await reader.get(agent, request.id, 0);
    release();
    await Promise.all(open);
    // Releases are not awaited by the poll's answer: the slot comes back moments later.
    let afterwards: Awaited<ReturnType<typeof reader.get>> | undefined;
    for (let i = 0; i < 50 && !afterwards; i++) {
      afterwards = await reader.get(agent, request.id, 20).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }

    // Assess
    expect(third).toMatchObject({ status: 429, code: 'RateLimited', retryAfterSeconds: 20 });
    expect(plainRead.id).toBe(request.id);
    expect(afterwards?.id).toBe(request.id);
  });

  it('a lease left by a crashed poll runs out by itself', async () => {
    // Prepare: two slots taken and never released
    const now = clock.now().getTime();
    await store.acquireLease('wait#crash-test', 2, 'a', now + 25_000, now);
    await store.acquireLease('wait#crash-test', 2, 'b', now + 25_000, now);
    expect(await store.acquireLease('wait#crash-test', 2, 'c', now + 25_000, now)).toBeUndefined();

    // Act / Assess
    expect(await store.acquireLease('wait#crash-test', 2, 'c', now + 60_000, now + 26_000)).toBe(0);
  });
});
