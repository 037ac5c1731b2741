import {
  DeleteRolePolicyCommand,
  GetRolePolicyCommand,
  IAMClient,
  MalformedPolicyDocumentException as IamMalformedPolicyDocument,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  GetCallerIdentityCommand,
  MalformedPolicyDocumentException,
  STSClient,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalServer, listenLocal } from '../../lib/local/http-server.js';
import { createLocalSts, type LocalSts } from '../../lib/local/sts.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import { failure } from './helpers.js';

const ACCOUNT = '111122223333';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/countersign-target`;
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders`;
const LAMBDA_CREDENTIALS = { accessKeyId: 'LOCALLAMBDAROLE00001', secretAccessKey: 'not-verifiable' };

function sessionPolicy(notAfter: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['dynamodb:PutItem'],
        Resource: [TABLE],
        Condition: { DateLessThan: { 'aws:CurrentTime': notAfter } },
      },
    ],
  });
}

/** The statement the IAM revoker writes on the target role. */
function revocation(requestId: string, until: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: `Revoke${requestId.replace(/[^A-Za-z0-9]/g, '')}`,
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: {
          StringLike: { 'aws:userid': `*:${requestId}` },
          DateLessThan: { 'aws:CurrentTime': until },
        },
      },
    ],
  });
}

describe('local STS and IAM through the real SDK clients', () => {
  let clock: number;
  let sts: LocalSts;
  let server: LocalServer;
  let lambdaSts: STSClient;
  let iam: IAMClient;
  const clients: Array<{ destroy(): void }> = [];

  beforeAll(async () => {
    clock = Date.now();
    sts = createLocalSts({ account: ACCOUNT, roles: [ROLE_ARN], now: () => new Date(clock) });
    server = await listenLocal(sts.handle);
    // Mounted-under-a-prefix style endpoints: the SDK sends POST /aws/sts/ and signs that path.
    lambdaSts = new STSClient({
      endpoint: `${server.url}/aws/sts`,
      region: 'us-east-1',
      credentials: LAMBDA_CREDENTIALS,
      maxAttempts: 1,
    });
    iam = new IAMClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: LAMBDA_CREDENTIALS,
      maxAttempts: 1,
    });
    clients.push(lambdaSts, iam);
  });

  beforeEach(() => {
    clock = Date.now();
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await sts.stop();
    await server.close();
  });

  async function assume(input: Partial<AssumeRoleCommandInput> = {}) {
    return lambdaSts.send(
      new AssumeRoleCommand({
        RoleArn: ROLE_ARN,
        RoleSessionName: 'req_01',
        SourceIdentity: 'deploy-bot',
        Policy: sessionPolicy(new Date(clock + 600_000).toISOString()),
        DurationSeconds: 900,
        Tags: [{ Key: 'countersign:request', Value: 'req_01' }],
        ...input,
      }),
    );
  }

  function asSession(credentials: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string }) {
    const client = new STSClient({
      endpoint: `${server.url}/aws/sts`,
      region: 'us-east-1',
      credentials: {
        accessKeyId: credentials.AccessKeyId!,
        secretAccessKey: credentials.SecretAccessKey!,
        sessionToken: credentials.SessionToken!,
      },
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  }

  it('AssumeRole answers ASIA credentials, the assumed-role user and the source identity, and records the call', async () => {
    // Act
    const out = await assume({ RoleSessionName: 'req_assume' });

    // Assess
    const c = out.Credentials!;
    expect(c.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(c.SecretAccessKey).toHaveLength(40);
    expect(c.SessionToken!.length).toBeGreaterThan(100);
    expect(c.Expiration!.getTime()).toBe(Math.floor(clock / 1000) * 1000 + 900_000);
    expect(out.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:req_assume$/);
    expect(out.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${ACCOUNT}:assumed-role/countersign-target/req_assume`,
    );
    expect(out.SourceIdentity).toBe('deploy-bot');
    expect(out.PackedPolicySize).toBeGreaterThan(0);
    const record = sts.sessions().find((s) => s.accessKeyId === c.AccessKeyId);
    expect(record).toMatchObject({
      roleArn: ROLE_ARN,
      roleSessionName: 'req_assume',
      sourceIdentity: 'deploy-bot',
      durationSeconds: 900,
      tags: [{ Key: 'countersign:request', Value: 'req_01' }],
      arn: out.AssumedRoleUser?.Arn,
    });
    expect(JSON.parse(record!.policy!).Statement[0].Action).toEqual(['dynamodb:PutItem']);
    const everything = JSON.stringify(sts.sessions());
    expect(everything).not.toContain(c.SecretAccessKey);
    expect(everything).not.toContain(c.SessionToken);
  });

  it('GetCallerIdentity verifies the signature of a minted session and answers as AWS does', async () => {
    // Prepare
    const { Credentials, AssumedRoleUser } = await assume({ RoleSessionName: 'req_whoami' });

    // Act
    const me = await asSession(Credentials!).send(new GetCallerIdentityCommand({}));

    // Assess
    expect(me.Account).toBe(ACCOUNT);
    expect(me.Arn).toBe(AssumedRoleUser?.Arn);
    expect(me.UserId).toBe(AssumedRoleUser?.AssumedRoleId);
  });

  it('refuses a wrong secret, an unknown key, a wrong session token and an expired session', async () => {
    // Prepare
    const { Credentials } = await assume({ RoleSessionName: 'req_auth' });

    // Act
    const badSecret = await failure(
      asSession({ ...Credentials!, SecretAccessKey: 'x'.repeat(40) }).send(new GetCallerIdentityCommand({})),
    );
    const unknownKey = await failure(
      asSession({ ...Credentials!, AccessKeyId: fakeAccessKeyId('AAAAAAAAAAAAAAAA') }).send(
        new GetCallerIdentityCommand({}),
      ),
    );
    const badToken = await failure(
      asSession({ ...Credentials!, SessionToken: 'forged' }).send(new GetCallerIdentityCommand({})),
    );
    const notSession = await failure(lambdaSts.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(badSecret).toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    expect(unknownKey).toMatchObject({ name: 'InvalidClientTokenId' });
    expect(badToken).toMatchObject({ name: 'InvalidClientTokenId' });
    expect(notSession).toMatchObject({ name: 'InvalidClientTokenId' });

    // Act: 15 minutes later the 900-second session is over
    clock += 900_000;
    const expired = await failure(asSession(Credentials!).send(new GetCallerIdentityCommand({})));

    // Assess
    expect(expired).toMatchObject({ name: 'ExpiredToken' });
  });

  it('a Deny on aws:userid written with PutRolePolicy stops exactly that request’s sessions until deleted', async () => {
    // Prepare
    const revoked = asSession(
      (await assume({ RoleSessionName: 'req_revoked', DurationSeconds: 3600 })).Credentials!,
    );
    const other = asSession(
      (await assume({ RoleSessionName: 'req_other', DurationSeconds: 3600 })).Credentials!,
    );
    await revoked.send(new GetCallerIdentityCommand({}));
    const document = revocation('req_revoked', new Date(clock + 600_000).toISOString());

    // Act
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'countersign-target',
        PolicyName: 'countersign-revocations',
        PolicyDocument: document,
      }),
    );
    const afterRevoke = await failure(revoked.send(new GetCallerIdentityCommand({})));
    const otherAfter = await other.send(new GetCallerIdentityCommand({}));
    const stored = await iam.send(
      new GetRolePolicyCommand({ RoleName: 'countersign-target', PolicyName: 'countersign-revocations' }),
    );
    const listed = await iam.send(new ListRolePoliciesCommand({ RoleName: 'countersign-target' }));

    // Assess
    expect(afterRevoke).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(otherAfter.UserId).toMatch(/:req_other$/);
    expect(stored.PolicyDocument).toBe(encodeURIComponent(document)); // IAM answers URL-encoded
    expect(decodeURIComponent(stored.PolicyDocument!)).toBe(document);
    expect(listed.PolicyNames).toEqual(['countersign-revocations']);
    const key = sts.sessions().find((s) => s.roleSessionName === 'req_revoked')!.accessKeyId;
    expect(sts.authorize(key, 'dynamodb:PutItem', TABLE)).toMatchObject({ allowed: false });

    // Act: deleting the policy gives the session back
    await iam.send(
      new DeleteRolePolicyCommand({ RoleName: 'countersign-target', PolicyName: 'countersign-revocations' }),
    );
    const afterDelete = await revoked.send(new GetCallerIdentityCommand({}));
    const gone = await failure(
      iam.send(
        new GetRolePolicyCommand({ RoleName: 'countersign-target', PolicyName: 'countersign-revocations' }),
      ),
    );

    // Assess
    expect(afterDelete.UserId).toMatch(/:req_revoked$/);
    expect(gone).toBeInstanceOf(NoSuchEntityException);
  });

  it('a revocation Deny stops applying once its own DateLessThan aws:CurrentTime has passed', async () => {
    // Prepare
    const session = asSession(
      (await assume({ RoleSessionName: 'req_lapse', DurationSeconds: 3600 })).Credentials!,
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'countersign-target',
        PolicyName: 'lapse',
        PolicyDocument: revocation('req_lapse', new Date(clock + 60_000).toISOString()),
      }),
    );
    const during = await failure(session.send(new GetCallerIdentityCommand({})));

    // Act
    clock += 120_000;
    const after = await session.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(during).toMatchObject({ name: 'AccessDenied' });
    expect(after.UserId).toMatch(/:req_lapse$/);
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'countersign-target', PolicyName: 'lapse' }));
  });

  it('a session whose session policy ended (DateLessThan aws:CurrentTime) is refused, though STS has not expired it', async () => {
    // Prepare
    const notAfter = new Date(clock + 60_000).toISOString();
    const out = await assume({
      RoleSessionName: 'req_grant',
      Policy: sessionPolicy(notAfter),
      DurationSeconds: 900,
    });
    const session = asSession(out.Credentials!);
    const key = out.Credentials!.AccessKeyId!;

    // Act
    const before = await session.send(new GetCallerIdentityCommand({}));
    const allowedBefore = sts.authorize(key, 'dynamodb:PutItem', TABLE);
    const otherAction = sts.authorize(key, 'dynamodb:DeleteTable', TABLE);
    clock += 120_000;
    const after = await failure(session.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(before.UserId).toMatch(/:req_grant$/);
    expect(allowedBefore.allowed).toBe(true);
    expect(otherAction.allowed).toBe(false);
    expect(after).toMatchObject({ name: 'AccessDenied' });
    expect(sts.authorize(key, 'dynamodb:PutItem', TABLE).allowed).toBe(false);
  });

  it('a minted session cannot write role policies its session policy does not allow', async () => {
    // Prepare
    const { Credentials } = await assume({ RoleSessionName: 'req_escalate' });
    const sessionIam = new IAMClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: {
        accessKeyId: Credentials!.AccessKeyId!,
        secretAccessKey: Credentials!.SecretAccessKey!,
        sessionToken: Credentials!.SessionToken!,
      },
      maxAttempts: 1,
    });
    clients.push(sessionIam);

    // Act
    const attempt = await failure(
      sessionIam.send(
        new PutRolePolicyCommand({
          RoleName: 'countersign-target',
          PolicyName: 'mine',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
          }),
        }),
      ),
    );

    // Assess
    expect(attempt).toMatchObject({ name: 'AccessDenied' });
    expect(Object.keys(sts.rolePolicies('countersign-target'))).not.toContain('mine');
  });

  it('validates AssumeRole as STS does', async () => {
    // Act + Assess
    await expect(assume({ DurationSeconds: 7200 })).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringMatching(/role chaining/),
    });
    await expect(assume({ DurationSeconds: 600 })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(assume({ RoleSessionName: 'has space' })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(assume({ RoleSessionName: 'x' })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(assume({ SourceIdentity: 'bot#1' })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(assume({ Policy: 'x'.repeat(2049) })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(assume({ Policy: '{"Version":' })).rejects.toBeInstanceOf(MalformedPolicyDocumentException);
    await expect(assume({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/someone-else` })).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    await expect(
      assume({ Policy: sessionPolicy('2030-01-01T00:00:00Z').replace('DateLessThan', 'NumericLessThan') }),
    ).rejects.toBeInstanceOf(MalformedPolicyDocumentException);
    expect(sts.sessions().filter((s) => s.roleSessionName === 'has space')).toEqual([]);
  });

  it('refuses role policies it cannot evaluate and roles it does not know', async () => {
    // Act
    const unsupported = await failure(
      iam.send(
        new PutRolePolicyCommand({
          RoleName: 'countersign-target',
          PolicyName: 'p',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Deny',
                Action: '*',
                Resource: '*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              },
            ],
          }),
        }),
      ),
    );
    const unknownRole = await failure(
      iam.send(
        new PutRolePolicyCommand({
          RoleName: 'nope',
          PolicyName: 'p',
          PolicyDocument: revocation('r', '2030-01-01T00:00:00Z'),
        }),
      ),
    );

    // Assess
    expect(unsupported).toBeInstanceOf(IamMalformedPolicyDocument);
    expect(unknownRole).toBeInstanceOf(NoSuchEntityException);
  });
});

describe('local IAM: what a minted session’s role may do to role policies', () => {
  const MEMBER = '444455556666';
  const MEMBER_TARGET = `arn:aws:iam::${MEMBER}:role/ops/member-target`;
  const REVOKER = `arn:aws:iam::${MEMBER}:role/countersign-revoker`;
  const ELSEWHERE = 'arn:aws:iam::777788889999:role/elsewhere-target';
  let sts: LocalSts;
  let server: LocalServer;
  const clients: Array<{ destroy(): void }> = [];

  beforeAll(async () => {
    sts = createLocalSts({ account: ACCOUNT, roles: [MEMBER_TARGET, REVOKER, ELSEWHERE] });
    server = await listenLocal(sts.handle);
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await sts.stop();
    await server.close();
  });

  /** An IAM client signed by a fresh session of `roleArn`, minted with the Lambda's credentials. */
  async function iamAs(roleArn: string, sessionName: string): Promise<IAMClient> {
    const lambdaSts = new STSClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: LAMBDA_CREDENTIALS,
      maxAttempts: 1,
    });
    const { Credentials: c } = await lambdaSts.send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, DurationSeconds: 900 }),
    );
    const client = new IAMClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: {
        accessKeyId: c!.AccessKeyId!,
        secretAccessKey: c!.SecretAccessKey!,
        sessionToken: c!.SessionToken!,
      },
      maxAttempts: 1,
    });
    clients.push(lambdaSts, client);
    return client;
  }

  const put = (client: IAMClient, roleName: string, policyName = 'countersign-revocations') =>
    client.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: policyName,
        PolicyDocument: revocation('req_member', '2030-01-01T00:00:00Z'),
      }),
    );

  it('a countersign-revoker session reads and writes the inline policies of the roles of its account', async () => {
    // Prepare
    const revoker = await iamAs(REVOKER, 'countersign-revoke-req_member');

    // Act
    await put(revoker, 'member-target');
    const read = await revoker.send(
      new GetRolePolicyCommand({ RoleName: 'member-target', PolicyName: 'countersign-revocations' }),
    );
    await revoker.send(
      new DeleteRolePolicyCommand({ RoleName: 'member-target', PolicyName: 'countersign-revocations' }),
    );

    // Assess
    expect(decodeURIComponent(read.PolicyDocument!)).toContain('*:req_member');
    expect(sts.rolePolicies('member-target')).toEqual({});
  });

  it('the revoker reaches no role of another account, cannot edit itself, and may not list', async () => {
    // Prepare
    const revoker = await iamAs(REVOKER, 'countersign-revoke-req_scope');

    // Act
    const otherAccount = await failure(put(revoker, 'elsewhere-target'));
    const itself = await failure(put(revoker, 'countersign-revoker', 'widen'));
    const list = await failure(revoker.send(new ListRolePoliciesCommand({ RoleName: 'member-target' })));

    // Assess: IAM acts in the caller's own account, where no role of that name exists.
    expect(otherAccount).toBeInstanceOf(NoSuchEntityException);
    expect(itself).toMatchObject({ name: 'AccessDenied' });
    expect(list).toMatchObject({ name: 'AccessDenied' });
    expect(sts.rolePolicies('elsewhere-target')).toEqual({});
    expect(sts.rolePolicies('countersign-revoker')).toEqual({});
  });

  it('a session of any other role may not edit role policies, even without a session policy', async () => {
    // Prepare
    const target = await iamAs(MEMBER_TARGET, 'req_no_policy');

    // Act
    const attempt = await failure(put(target, 'member-target'));

    // Assess
    expect(attempt).toMatchObject({ name: 'AccessDenied' });
    expect(sts.rolePolicies('member-target')).toEqual({});
  });
});
