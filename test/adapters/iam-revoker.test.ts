import { NoSuchEntityException } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  IamSessionRevoker,
  type IamSessionRevokerOptions,
  REVOCATION_POLICY_NAME,
} from '../../lambdas/adapters/iam-revoker.js';
import { type LocalServer, listenLocal } from '../../lib/local/http-server.js';
import { createLocalSts, type LocalSts } from '../../lib/local/sts.js';
import { failure } from '../local/helpers.js';

/** Countersign's own account, where the revoke function runs with its own credentials. */
const HOME = '999988887777';
const MEMBER = '444455556666';
const HOME_TARGET = `arn:aws:iam::${HOME}:role/countersign-target`;
const MEMBER_TARGET = `arn:aws:iam::${MEMBER}:role/ops/member-target`;
const MEMBER_REVOKER = `arn:aws:iam::${MEMBER}:role/countersign-revoker`;
const MISSING_REVOKER = `arn:aws:iam::${MEMBER}:role/not-deployed`;
const TABLE = `arn:aws:dynamodb:us-east-1:${MEMBER}:table/orders`;
const HOME_DIRECT = { account: HOME, roleArn: HOME_TARGET };
const MEMBER_VIA_REVOKER = { account: MEMBER, roleArn: MEMBER_TARGET, revokerRoleArn: MEMBER_REVOKER };
/** The Lambda's own credentials: the stand-in cannot verify them, as it never minted them. */
const LAMBDA_CREDENTIALS = { accessKeyId: 'LOCALLAMBDAROLE00001', secretAccessKey: 'not-verifiable' };

let clock: number;
let sts: LocalSts;
let server: LocalServer;
let lambdaSts: STSClient;
const clients: Array<{ destroy(): void }> = [];

beforeAll(async () => {
  sts = createLocalSts({
    account: HOME,
    roles: [HOME_TARGET, MEMBER_TARGET, MEMBER_REVOKER],
    now: () => new Date(clock),
  });
  server = await listenLocal(sts.handle);
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
  await sts.stop();
  await server.close();
});

function revokerFor(targets: IamSessionRevokerOptions['targets'], account?: string): IamSessionRevoker {
  return new IamSessionRevoker({
    targets,
    ...(account ? { account } : {}),
    iam: { endpoint: server.url, region: 'us-east-1', credentials: LAMBDA_CREDENTIALS, maxAttempts: 1 },
    sts: lambdaSts,
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
const revocationOn = (roleName: string) =>
  JSON.parse(sts.rolePolicies(roleName)[REVOCATION_POLICY_NAME] ?? '{"Statement":[]}') as {
    Statement: Array<{ Sid: string; Condition: { StringLike: { 'aws:userid': string } } }>;
  };

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
    expect(revocationOn('member-target').Statement).toEqual([
      expect.objectContaining({
        Sid: 'Revokereqmember0000000000001',
        Condition: expect.objectContaining({
          StringLike: { 'aws:userid': '*:req_member0000000000001' },
        }),
      }),
    ]);
    expect(sts.rolePolicies('countersign-target')).toEqual({});
    // The minted session is refused; another request's session on the same role is not.
    expect(await failure(revoked.whoami())).toMatchObject({ name: 'AccessDenied' });
    expect(sts.authorize(revoked.accessKeyId, 'dynamodb:PutItem', TABLE)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining(REVOCATION_POLICY_NAME),
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
    const sids = revocationOn('member-target').Statement.map((s) => s.Sid);
    expect(sids).toEqual(
      expect.arrayContaining(['Revokereqreuse0000000000001', 'Revokereqreuse0000000000002']),
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
      expect(error).toMatchObject({
        message: expect.stringContaining(MISSING_REVOKER),
        cause: expect.objectContaining({ name: 'AccessDenied' }),
      });
    }
    expect(revocationOn('member-target').Statement.map((s) => s.Sid)).not.toContain(
      'Revokereqnope00000000000001',
    );
    expect((await session.whoami()).UserId).toMatch(/:req_nope00000000000001$/);
  });

  it('fails closed when the revoker role cannot reach the target (another account)', async () => {
    // Prepare: a configuration the schema refuses (revoker and target in different accounts).
    const revoker = revokerFor([{ ...HOME_DIRECT, revokerRoleArn: MEMBER_REVOKER }], HOME);

    // Act
    const error = await failure(revoker.revoke(HOME_TARGET, 'req_cross0000000000001', until()));

    // Assess: IAM resolves the role name in the revoker's own account, where it does not exist.
    expect(error).toBeInstanceOf(NoSuchEntityException);
    expect(sts.rolePolicies('countersign-target')).toEqual({});
  });
});

describe('IamSessionRevoker without a revoker role', () => {
  it('writes with the function’s own credentials and assumes nothing', async () => {
    // Prepare
    const revoker = revokerFor([HOME_DIRECT, MEMBER_VIA_REVOKER], HOME);
    const session = await mint(HOME_TARGET, 'req_home00000000000001');
    const assumedBefore = sts.sessions().length;

    // Act
    await revoker.revoke(HOME_TARGET, 'req_home00000000000001', until());

    // Assess
    expect(sts.sessions()).toHaveLength(assumedBefore);
    expect(revocationOn('countersign-target').Statement.map((s) => s.Sid)).toContain(
      'Revokereqhome00000000000001',
    );
    expect(await failure(session.whoami())).toMatchObject({ name: 'AccessDenied' });
  });

  it('refuses a target in another account instead of writing its role name in its own account', async () => {
    // Prepare: a member-account target configured without its revoker role.
    const revoker = revokerFor([HOME_DIRECT, { account: MEMBER, roleArn: MEMBER_TARGET }], HOME);
    const session = await mint(MEMBER_TARGET, 'req_noreach00000000001');

    // Act
    const error = await failure(revoker.revoke(MEMBER_TARGET, 'req_noreach00000000001', until()));

    // Assess
    expect(error).toMatchObject({
      message: expect.stringMatching(/account 444455556666, outside this function's account 999988887777/),
    });
    expect(revocationOn('member-target').Statement.map((s) => s.Sid)).not.toContain(
      'Revokereqnoreach00000000001',
    );
    expect((await session.whoami()).UserId).toMatch(/:req_noreach00000000001$/);
  });

  it('refuses a role no target names, rather than guessing which credentials reach it', async () => {
    // Prepare
    const revoker = revokerFor([HOME_DIRECT], HOME);

    // Act
    const error = await failure(revoker.revoke(MEMBER_TARGET, 'req_unknown00000000001', until()));

    // Assess
    expect(error).toMatchObject({ message: expect.stringMatching(/no configured target/) });
    expect(sts.sessions().filter((s) => s.roleSessionName.endsWith('req_unknown00000000001'))).toEqual([]);
  });
});
