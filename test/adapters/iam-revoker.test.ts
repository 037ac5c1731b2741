import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbRevocationLedger } from '../../lambdas/adapters/dynamodb-revocation-ledger.js';
import {
  IamSessionRevoker,
  type IamSessionRevokerOptions,
  REVOCATION_POLICY_NAME,
} from '../../lambdas/adapters/iam-revoker.js';
import { DependencyError, FailClosedError } from '../../lambdas/core/errors.js';
import { createLocalAws, type LocalAws } from '../../lib/local/aws/index.js';
import {
  createLocalDynamoDbClient,
  type DynamoDbLocal,
  ensureTable,
  startDynamoDbLocal,
} from '../../lib/local/dynamodb-local.js';
import { failure } from '../local/helpers.js';

/** Countersign's own account, where the revoke function runs with its own credentials. */
const HOME = '999988887777';
const MEMBER = '444455556666';
const HOME_TARGET = `arn:aws:iam::${HOME}:role/countersign-target`;
const FULL_TARGET = `arn:aws:iam::${HOME}:role/full-target`;
const MEMBER_TARGET = `arn:aws:iam::${MEMBER}:role/ops/member-target`;
const MEMBER_REVOKER = `arn:aws:iam::${MEMBER}:role/countersign-revoker`;
const MISSING_REVOKER = `arn:aws:iam::${MEMBER}:role/not-deployed`;
const TABLE = `arn:aws:dynamodb:us-east-1:${MEMBER}:table/orders`;
const HOME_DIRECT = { account: HOME, roleArn: HOME_TARGET };
const MEMBER_VIA_REVOKER = { account: MEMBER, roleArn: MEMBER_TARGET, revokerRoleArn: MEMBER_REVOKER };
/** The revoke function's execution role (its permissions are the template's business; see test/infra). */
const LAMBDA_ROLE = `arn:aws:iam::${HOME}:role/revoke-request-function`;
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
/** A role that trusts the revoke function's role for AssumeRole (and source identity and tags). */
const TRUSTS_LAMBDA = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: LAMBDA_ROLE },
      Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
    },
  ],
};
/** The Lambda's own credentials: a session of its execution role, as Lambda hands it over. */
let LAMBDA_CREDENTIALS: { accessKeyId: string; secretAccessKey: string; sessionToken: string };

let clock = Date.now();
let sts: LocalAws;
const server = {
  get url() {
    return sts.url;
  },
};
let lambdaSts: STSClient;
let db: DynamoDbLocal;
let ddb: DynamoDBClient;
const clients: Array<{ destroy(): void }> = [];

beforeAll(async () => {
  db = await startDynamoDbLocal({ inMemory: true });
  ddb = createLocalDynamoDbClient(db.endpoint);
  await ensureTable(ddb, 'revoker-test');
  sts = createLocalAws({
    account: HOME,
    region: 'us-east-1',
    dynamodbEndpoint: db.endpoint,
    now: () => new Date(clock),
    log: () => undefined,
  });
  await sts.start();
  sts.createRole(LAMBDA_ROLE, { inline: { all: ALLOW_ALL } });
  for (const target of [HOME_TARGET, MEMBER_TARGET, FULL_TARGET]) {
    sts.createRole(target, { managed: [ALLOW_ALL], trust: TRUSTS_LAMBDA });
  }
  // The member account's revoker role may change only the member target's policies.
  sts.createRole(MEMBER_REVOKER, {
    inline: {
      revocations: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'iam:GetRolePolicy',
              'iam:PutRolePolicy',
              'iam:DeleteRolePolicy',
              'iam:ListRolePolicies',
            ],
            Resource: MEMBER_TARGET,
          },
        ],
      },
    },
    trust: TRUSTS_LAMBDA,
  });
  LAMBDA_CREDENTIALS = sts.issueRoleSession(LAMBDA_ROLE, 'revoke-request');
  lambdaSts = new STSClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: LAMBDA_CREDENTIALS,
    maxAttempts: 1,
  });
  clients.push(lambdaSts);
});

beforeEach(() => {
  clock = Date.now();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  ddb?.destroy();
  await db?.stop();
  await sts.stop();
});

function revokerFor(targets: IamSessionRevokerOptions['targets'], account?: string): IamSessionRevoker {
  return new IamSessionRevoker({
    targets,
    ...(account ? { account } : {}),
    iam: { endpoint: server.url, region: 'us-east-1', credentials: LAMBDA_CREDENTIALS, maxAttempts: 1 },
    sts: lambdaSts,
    ledger: new DynamoDbRevocationLedger(ddb, 'revoker-test'),
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    clock: () => new Date(clock),
  });
}

/** A grant's session, minted as claim-credentials mints it: session name = request id. */
async function mint(roleArn: string, requestId: string) {
  const { Credentials: c } = await lambdaSts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: requestId,
      SourceIdentity: 'deploy-bot',
      DurationSeconds: 3600,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['dynamodb:PutItem'],
            Resource: [TABLE],
            Condition: { DateLessThan: { 'aws:CurrentTime': new Date(clock + 1_800_000).toISOString() } },
          },
        ],
      }),
    }),
  );
  const client = new STSClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: {
      accessKeyId: c!.AccessKeyId!,
      secretAccessKey: c!.SecretAccessKey!,
      sessionToken: c!.SessionToken!,
    },
    maxAttempts: 1,
  });
  clients.push(client);
  return {
    accessKeyId: c!.AccessKeyId!,
    whoami: () => client.send(new GetCallerIdentityCommand({})),
  };
}

const until = () => new Date(clock + 2 * 3_600_000).toISOString();
const revokerSessions = () => sts.sessions().filter((s) => s.roleArn === MEMBER_REVOKER);
/** Every `aws:userid` value the revocation slots on the role deny. */
const revokedOn = (roleName: string): string[] =>
  Object.entries(sts.rolePolicies(roleName))
    .filter(([name]) => name.startsWith(`${REVOCATION_POLICY_NAME}-`))
    .flatMap(([, text]) =>
      (
        JSON.parse(text) as {
          Statement: Array<{ Condition: { StringLike?: { 'aws:userid': string[] } } }>;
        }
      ).Statement.flatMap((st) => st.Condition.StringLike?.['aws:userid'] ?? []),
    );

describe('IamSessionRevoker with a revoker role in the member account', () => {
  it('writes the Deny on the member-account target role through the revoker role, and the session stops working', async () => {
    // Prepare
    const revoker = revokerFor([HOME_DIRECT, MEMBER_VIA_REVOKER], HOME);
    const revoked = await mint(MEMBER_TARGET, 'req_member0000000000001');
    const bystander = await mint(MEMBER_TARGET, 'req_member0000000000002');
    expect((await revoked.whoami()).UserId).toMatch(/:req_member0000000000001$/);
    expect(sts.authorize(revoked.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(true);

    // Act
    await revoker.revoke(MEMBER_TARGET, 'req_member0000000000001', until());

    // Assess: the revoker role was assumed for this request, for STS's shortest session.
    expect(revokerSessions()).toEqual([
      expect.objectContaining({
        roleSessionName: 'countersign-revoke-req_member0000000000001',
        durationSeconds: 900,
      }),
    ]);
    expect(revokerSessions()[0]).not.toHaveProperty('policy');
    // The Deny landed on the member-account role, and only there.
    expect(revokedOn(MEMBER_TARGET)).toEqual(['*:req_member0000000000001']);
    expect(sts.rolePolicies(HOME_TARGET)).toEqual({});
    // The minted session is refused; another request's session on the same role is not.
    // (GetCallerIdentity answers whatever the policies say, on AWS and here: IAM decides the rest.)
    expect(sts.authorize(revoked.accessKeyId, 'dynamodb:PutItem', TABLE)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('explicit deny'),
    });
    expect((await bystander.whoami()).UserId).toMatch(/:req_member0000000000002$/);
    expect(sts.authorize(bystander.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(true);
  });

  it('reuses the revoker session for a retry of the same revoke until shortly before it expires, and assumes afresh for another request', async () => {
    // Prepare
    const revoker = revokerFor([MEMBER_VIA_REVOKER], HOME);
    const before = revokerSessions().length;

    // Act: a revoke, its retry, another request's revoke, then the retry ten minutes later
    await revoker.revoke(MEMBER_TARGET, 'req_reuse0000000000001', until());
    await revoker.revoke(MEMBER_TARGET, 'req_reuse0000000000001', until());
    const afterRetry = revokerSessions().length - before;
    await revoker.revoke(MEMBER_TARGET, 'req_reuse0000000000002', until());
    const afterOther = revokerSessions().length - before;
    clock += 11 * 60_000; // the 900-second session now has 4 minutes left: under the 5-minute margin
    await revoker.revoke(MEMBER_TARGET, 'req_reuse0000000000001', until());

    // Assess
    expect(afterRetry).toBe(1);
    expect(afterOther).toBe(2);
    expect(
      revokerSessions()
        .slice(before)
        .map((s) => s.roleSessionName),
    ).toEqual([
      'countersign-revoke-req_reuse0000000000001',
      'countersign-revoke-req_reuse0000000000002',
      'countersign-revoke-req_reuse0000000000001',
    ]);
    expect(revokedOn(MEMBER_TARGET)).toEqual(
      expect.arrayContaining(['*:req_reuse0000000000001', '*:req_reuse0000000000002']),
    );
  });

  it('fails closed when the revoker role cannot be assumed, writing nothing and never falling back to its own credentials', async () => {
    // Prepare
    const revoker = revokerFor([{ ...MEMBER_VIA_REVOKER, revokerRoleArn: MISSING_REVOKER }], HOME);
    const session = await mint(MEMBER_TARGET, 'req_nope00000000000001');

    // Act
    const first = await failure(revoker.revoke(MEMBER_TARGET, 'req_nope00000000000001', until()));
    const retry = await failure(revoker.revoke(MEMBER_TARGET, 'req_nope00000000000001', until()));

    // Assess: both attempts reached STS (a failure is not cached) and were refused there.
    for (const error of [first, retry]) {
      expect(error).toBeInstanceOf(DependencyError);
      expect(error).toMatchObject({
        message: expect.stringContaining(MISSING_REVOKER),
        cause: expect.objectContaining({ name: 'AccessDenied' }),
      });
    }
    expect(revokedOn(MEMBER_TARGET)).not.toContain('*:req_nope00000000000001');
    expect((await session.whoami()).UserId).toMatch(/:req_nope00000000000001$/);
  });

  it('fails closed when the revoker role cannot reach the target (another account)', async () => {
    // Prepare: a configuration the schema refuses (revoker and target in different accounts).
    const revoker = revokerFor([{ ...HOME_DIRECT, revokerRoleArn: MEMBER_REVOKER }], HOME);

    // Act
    const error = await failure(revoker.revoke(HOME_TARGET, 'req_cross0000000000001', until()));

    // Assess: IAM resolves the role name in the revoker's own account, where it does not exist.
    // IAM refuses before it looks the role up: the revoker role's policy reaches only its own target.
    // Its refusal is translated, never let through as an SDK error.
    expect(error).toBeInstanceOf(DependencyError);
    expect(['AccessDenied', 'NoSuchEntityException']).toContain(((error as Error).cause as Error).name);
    expect(sts.rolePolicies(HOME_TARGET)).toEqual({});
  });
});

describe('IamSessionRevoker without a revoker role', () => {
  it('writes with the function’s own credentials and assumes nothing', async () => {
    // Prepare
    const revoker = revokerFor([HOME_DIRECT, MEMBER_VIA_REVOKER], HOME);
    const session = await mint(HOME_TARGET, 'req_home00000000000001');
    expect(sts.authorize(session.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(true);
    const assumedBefore = sts.sessions().length;

    // Act
    await revoker.revoke(HOME_TARGET, 'req_home00000000000001', until());

    // Assess
    expect(sts.sessions()).toHaveLength(assumedBefore);
    expect(revokedOn(HOME_TARGET)).toContain('*:req_home00000000000001');
    expect(sts.authorize(session.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(false);
  });

  it('refuses a target in another account instead of writing its role name in its own account', async () => {
    // Prepare: a member-account target configured without its revoker role.
    const revoker = revokerFor([HOME_DIRECT, { account: MEMBER, roleArn: MEMBER_TARGET }], HOME);
    const session = await mint(MEMBER_TARGET, 'req_noreach00000000001');

    // Act
    const error = await failure(revoker.revoke(MEMBER_TARGET, 'req_noreach00000000001', until()));

    // Assess
    expect(error).toBeInstanceOf(FailClosedError);
    expect(error).toMatchObject({
      message: expect.stringMatching(/account 444455556666, outside this function's account 999988887777/),
    });
    expect(revokedOn(MEMBER_TARGET)).not.toContain('*:req_noreach00000000001');
    expect((await session.whoami()).UserId).toMatch(/:req_noreach00000000001$/);
  });

  it('refuses a role no target names, rather than guessing which credentials reach it', async () => {
    // Prepare
    const revoker = revokerFor([HOME_DIRECT], HOME);

    // Act
    const error = await failure(revoker.revoke(MEMBER_TARGET, 'req_unknown00000000001', until()));

    // Assess
    expect(error).toBeInstanceOf(FailClosedError);
    expect(error).toMatchObject({ message: expect.stringMatching(/no configured target/) });
    expect(sts.sessions().filter((s) => s.roleSessionName.endsWith('req_unknown00000000001'))).toEqual([]);
  });
});

describe('IamSessionRevoker: capacity and concurrency', () => {
  const sessionUntil = () => new Date(clock + 3_600_000).toISOString();

  it('writes one compact statement per slot, spread over several slots, all within IAM’s 10,240 characters', async () => {
    // Prepare
    const revoker = revokerFor([HOME_DIRECT], HOME);
    const ids = Array.from({ length: 40 }, (_, i) => `req_spread${String(i).padStart(14, '0')}`);

    // Act
    for (const id of ids) await revoker.revoke(HOME_TARGET, id, sessionUntil());

    // Assess
    const policies = Object.entries(sts.rolePolicies(HOME_TARGET)).filter(([n]) =>
      n.startsWith(`${REVOCATION_POLICY_NAME}-`),
    );
    expect(policies.length).toBeGreaterThan(1);
    for (const [, text] of policies) expect(JSON.parse(text).Statement.length).toBeLessThanOrEqual(1);
    expect(revokedOn(HOME_TARGET)).toEqual(expect.arrayContaining(ids.map((id) => `*:${id}`)));
    const total = Object.values(sts.rolePolicies(HOME_TARGET)).reduce((n, t) => n + t.length, 0);
    expect(total).toBeLessThanOrEqual(10_240);
  });

  it('prunes entries whose sessions have expired on the next write of their slot', async () => {
    // Prepare: a fresh role so that every slot is written
    const revoker = revokerFor([MEMBER_VIA_REVOKER], HOME);
    const ids = Array.from({ length: 12 }, (_, i) => `req_prune${String(i).padStart(15, '0')}`);
    for (const id of ids) await revoker.revoke(MEMBER_TARGET, id, new Date(clock + 60_000).toISOString());
    expect(revokedOn(MEMBER_TARGET)).toEqual(expect.arrayContaining(ids.map((id) => `*:${id}`)));

    // Act: two minutes on, the sessions have expired; more revokes write every slot again
    clock += 120_000;
    const later = Array.from({ length: 12 }, (_, i) => `req_later${String(i).padStart(15, '0')}`);
    for (const id of later) await revoker.revoke(MEMBER_TARGET, id, sessionUntil());

    // Assess
    const denied = revokedOn(MEMBER_TARGET);
    expect(denied).toEqual(expect.arrayContaining(later.map((id) => `*:${id}`)));
    for (const id of ids) expect(denied).not.toContain(`*:${id}`);
  });

  it('50 concurrent revokes converge: every revoked session is denied afterwards, and bystanders are not', async () => {
    // Prepare
    const ids = Array.from({ length: 50 }, (_, i) => `req_burst${String(i).padStart(15, '0')}`);
    const sessions = await Promise.all(ids.map((id) => mint(HOME_TARGET, id)));
    const bystander = await mint(HOME_TARGET, 'req_burstbystander0001');
    // One revoker per concurrent Lambda instance, as on AWS.
    const revokers = ids.map(() => revokerFor([HOME_DIRECT], HOME));

    // Act
    const results = await Promise.allSettled(
      ids.map((id, i) => revokers[i]!.revoke(HOME_TARGET, id, sessionUntil())),
    );

    // Assess
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const denied = revokedOn(HOME_TARGET);
    for (const [i, id] of ids.entries()) {
      expect(denied).toContain(`*:${id}`);
      expect(sts.authorize(sessions[i]!.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(false);
    }
    expect(sts.authorize(bystander.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(true);
  });

  it('when every slot is full, denies every older session of the role instead of failing, and later revokes still land', async () => {
    // Prepare: a role of its own, filled by one agent's revokes of its own requests
    const target = { account: HOME, roleArn: FULL_TARGET };
    const warnings: string[] = [];
    const revoker = new IamSessionRevoker({
      targets: [target],
      account: HOME,
      iam: { endpoint: server.url, region: 'us-east-1', credentials: LAMBDA_CREDENTIALS, maxAttempts: 1 },
      sts: lambdaSts,
      ledger: new DynamoDbRevocationLedger(ddb, 'revoker-test'),
      logger: {
        info: () => undefined,
        warn: (_m, f) => warnings.push(String(f?.code)),
        error: () => undefined,
      },
      clock: () => new Date(clock),
    });
    const victim = await mint(FULL_TARGET, 'req_victim000000000001');
    const attacker = Array.from({ length: 400 }, (_, i) => `req_flood${String(i).padStart(15, '0')}`);
    for (const id of attacker) await revoker.revoke(FULL_TARGET, id, sessionUntil());

    // Act: the auditor's revoke of another agent's grant
    await revoker.revoke(FULL_TARGET, 'req_victim000000000001', sessionUntil());
    clock += 2000;
    const fresh = await mint(FULL_TARGET, 'req_fresh0000000000001');
    await revoker.revoke(FULL_TARGET, 'req_fresh0000000000001', sessionUntil());

    // Assess
    expect(warnings).toContain('RevocationCapacityExhausted');
    expect(sts.authorize(victim.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(false);
    expect(sts.authorize(fresh.accessKeyId, 'dynamodb:PutItem', TABLE).allowed).toBe(false);
    const total = Object.values(sts.rolePolicies(FULL_TARGET)).reduce((n, t) => n + t.length, 0);
    expect(total).toBeLessThanOrEqual(10_240);
  });
});
