import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRequestStore } from '../../lambdas/adapters/dynamodb-store.js';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { CredentialClaims } from '../../lambdas/core/credentials.js';
import type { AssumeRoleInput, CredentialMinter } from '../../lambdas/core/ports.js';
import type { DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import { failure } from '../local/helpers.js';
import { caller, FakeMinter, lifecycle, startTable, TABLE_ARN, TestClock } from './support.js';

/**
 * Threat (issue 12, item 8): sessions that outlive their grant. STS sessions last at least 900 s
 * and `sts:GetCallerIdentity` ignores session policies and denies, so identity-based logins (EKS,
 * Vault's AWS auth) accepted a 60-second grant's session for 14 more minutes. Guards: grants of at
 * least MIN_GRANT_SECONDS (grants.ts), claims refused with less than 900 s left, session durations
 * rounded down to the grant's end, and `Expiration = min(session end, notAfter)`.
 */

let db: DynamoDbLocal;
let client: DynamoDBClient;
let table: string;
const clock = new TestClock(Date.parse('2025-06-01T10:00:00.000Z'));
let life: ReturnType<typeof lifecycle>;

beforeAll(async () => {
  ({ db, client, table } = await startTable());
  life = lifecycle(client, table, clock);
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

async function approved(agent: string, durationSeconds: number) {
  const request = await life.ask(agent, TABLE_ARN('orders'), ['dynamodb:PutItem'], { durationSeconds });
  await life.approve(request.id);
  const stored = (await life.store.get(request.id))!;
  return { id: request.id, grant: stored.grant! };
}

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

describe('sessions never outlive their grant', () => {
  it('a 60-second request becomes a grant long enough to claim, and its session ends no later than the grant', async () => {
    // Prepare
    const { id, grant } = await approved('short-bot', 60);
    clock.advance(5);

    // Act
    const credentials = await life.claim('short-bot', id);

    // Assess
    expect(grant.durationSeconds).toBe(1200);
    expect(seconds(grant.grantedAt, grant.notAfter)).toBe(1200);
    const sent = life.minter.calls.at(-1)!;
    expect(sent.durationSeconds).toBeGreaterThanOrEqual(900);
    expect(Date.parse(clock.now().toISOString()) + sent.durationSeconds * 1000).toBeLessThanOrEqual(
      Date.parse(grant.notAfter),
    );
    expect(Date.parse(credentials.Expiration)).toBeLessThanOrEqual(Date.parse(grant.notAfter));
  });

  it('refuses a claim with less than 900 s of the grant left: 409 GrantEndingSoon, nothing minted', async () => {
    // Prepare
    const { id, grant } = await approved('late-bot', 1800);
    clock.set(Date.parse(grant.notAfter) - 899_000);
    const before = life.minter.calls.length;

    // Act
    const error = await failure(life.claim('late-bot', id));

    // Assess
    expect(error).toMatchObject({
      status: 409,
      code: 'GrantEndingSoon',
      details: {
        notAfter: grant.notAfter,
        claimableUntil: new Date(Date.parse(grant.notAfter) - 900_000).toISOString(),
      },
    });
    expect(life.minter.calls.length).toBe(before);
    expect(await life.store.listSessions(id)).toEqual([]);
  });

  it('a claim with exactly 900 s left gets a 900-second session that ends with the grant', async () => {
    // Prepare
    const { id, grant } = await approved('edge-bot', 1800);
    clock.set(Date.parse(grant.notAfter) - 900_000);

    // Act
    const credentials = await life.claim('edge-bot', id);

    // Assess
    expect(life.minter.calls.at(-1)!.durationSeconds).toBe(900);
    expect(credentials.Expiration).toBe(grant.notAfter);
  });

  it('a one-hour grant claimed 10 s in gets a session of exactly what remains', async () => {
    // Prepare
    const { id, grant } = await approved('long-bot', 3600);
    clock.advance(10);

    // Act
    const credentials = await life.claim('long-bot', id);

    // Assess
    expect(life.minter.calls.at(-1)!.durationSeconds).toBe(3590);
    expect(credentials.Expiration).toBe(grant.notAfter);
  });

  it('answers Expiration = min(session end, notAfter) even when STS reports a later end', async () => {
    // Prepare: an STS whose clock runs 30 s ahead of ours
    const { id, grant } = await approved('skew-bot', 1800);
    const ahead: CredentialMinter = {
      async assumeRole(input: AssumeRoleInput) {
        const session = await new FakeMinter(clock).assumeRole(input);
        const later = new Date(Date.parse(session.credentials.Expiration) + 30_000).toISOString();
        return { ...session, credentials: { ...session.credentials, Expiration: later } };
      },
    };
    const claims = new CredentialClaims({
      store: new DynamoDbRequestStore(client, table),
      minter: ahead,
      clock,
    });

    // Act
    const credentials = await claims.claim(caller('skew-bot', 'agent'), id);

    // Assess
    expect(credentials.Expiration).toBe(grant.notAfter);
    // What is recorded is STS's own end: revocation denies the session until then.
    const [session] = await life.store.listSessions(id);
    expect(Date.parse(session!.expiresAt)).toBeGreaterThan(Date.parse(grant.notAfter));
  });
});

/**
 * Threat (issue 12, item 3): someone with write access to the table widening a stored grant —
 * its session policy edited to `Action: *, Resource: *` was minted verbatim. Guard:
 * `rebuiltSessionPolicy` (credentials.ts) rebuilds the policy from what was approved at every claim.
 */
describe('a grant edited in the table is never minted', () => {
  async function edit(id: string, path: string, value: unknown) {
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall(keys.request(id)),
        UpdateExpression: `SET #g.${path} = :v`,
        ExpressionAttributeNames: { '#g': 'grant' },
        ExpressionAttributeValues: marshall({ ':v': value }),
      }),
    );
  }

  it('refuses a claim whose stored session policy was widened: 500 FailedClosed, nothing minted', async () => {
    // Prepare
    const { id, grant } = await approved('edited-bot', 1800);
    const widened = {
      ...grant.sessionPolicy,
      Statement: grant.sessionPolicy.Statement.map((st) => ({ ...st, Action: ['*'], Resource: ['*'] })),
    };
    await edit(id, 'sessionPolicy', widened);
    const before = life.minter.calls.length;

    // Act
    const error = await failure(life.claim('edited-bot', id));

    // Assess
    expect(error).toMatchObject({ status: 500, code: 'FailedClosed', details: { problem: 'sessionPolicy' } });
    expect(life.minter.calls.length).toBe(before);
    expect(await life.store.listSessions(id)).toEqual([]);
  });

  it('refuses a grant whose actions and policy were both rewritten beyond the request', async () => {
    // Prepare: actions and a matching policy, consistently edited to DeleteTable
    const { id, grant } = await approved('rewritten-bot', 1800);
    await edit(id, 'actions', ['dynamodb:DeleteTable']);
    await edit(id, 'sessionPolicy', {
      ...grant.sessionPolicy,
      Statement: grant.sessionPolicy.Statement.map((st) => ({ ...st, Action: ['dynamodb:DeleteTable'] })),
    });

    // Act
    const error = await failure(life.claim('rewritten-bot', id));

    // Assess
    expect(error).toMatchObject({ status: 500, code: 'FailedClosed', details: { problem: 'grantTarget' } });
  });

  it('mints exactly the rebuilt policy for an untouched grant (control)', async () => {
    // Prepare
    const { id, grant } = await approved('honest-bot', 1800);

    // Act
    await life.claim('honest-bot', id);

    // Assess
    expect(JSON.parse(life.minter.calls.at(-1)!.policy)).toEqual(grant.sessionPolicy);
  });
});
