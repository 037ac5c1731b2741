import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TABLE, TestStack } from '../support/local-stack.js';

const run = promisify(execFile);
type Creds = {
  Version: number;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
};

/** Issue "Scoped credentials": approve → claim → a working, scoped, revocable session, over HTTP only. */
describe('credentials on the local stack', () => {
  let stack: TestStack;
  let agent: string;
  let approver: string;

  beforeAll(async () => {
    stack = await TestStack.start();
    agent = await stack.agentToken('deploy-bot');
    approver = await stack.token('alice@example.com', ['approvers']);
  }, 60_000);
  afterAll(() => stack?.stop());

  const callerIdentity = (creds: Creds) => stack.sessionClient(creds).send(new GetCallerIdentityCommand({}));
  const approved = (table = 'orders') => stack.approvedRequest(agent, table, { durationSeconds: 900 });

  it('approve → claim gives credential_process credentials whose session is named after the request', async () => {
    const id = await approved();
    const claim = await stack.call<Creds>('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(claim.status).toBe(200);
    expect(claim.body).toMatchObject({ Version: 1 });
    expect(claim.body.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(Object.keys(claim.body).sort()).toEqual([
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
      'Version',
    ]);
    const identity = await callerIdentity(claim.body);
    expect(identity.Arn).toBe(`arn:aws:sts::111122223333:assumed-role/countersign-target/${id}`);

    // The AssumeRole STS saw: the exact session policy, the source identity, the request id.
    const session = stack.stack.aws.sessions().find((s) => s.accessKeyId === claim.body.AccessKeyId)!;
    expect(session).toMatchObject({
      roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
      roleSessionName: id,
      sourceIdentity: 'deploy-bot',
    });
    const policy = JSON.parse(session.policy!);
    expect(policy.Statement).toEqual([
      expect.objectContaining({ Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: [TABLE('orders')] }),
    ]);
    expect(JSON.stringify(policy)).toContain('aws:CurrentTime');
    // Scoped: the action on the table is allowed, a sibling table and another action are not.
    expect(
      stack.stack.aws.authorize(claim.body.AccessKeyId, 'dynamodb:PutItem', TABLE('orders')).allowed,
    ).toBe(true);
    expect(
      stack.stack.aws.authorize(claim.body.AccessKeyId, 'dynamodb:PutItem', TABLE('orders-2')).allowed,
    ).toBe(false);
    expect(
      stack.stack.aws.authorize(claim.body.AccessKeyId, 'dynamodb:DeleteItem', TABLE('orders')).allowed,
    ).toBe(false);

    // Each claim mints a new session.
    const second = await stack.call<Creds>('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(second.body.AccessKeyId).not.toBe(claim.body.AccessKeyId);
  });

  it("another agent's claim is 404; a claim before approval is 409 NotApproved", async () => {
    const id = await approved();
    const other = await stack.agentToken('other-bot');
    expect(await stack.call('POST', `/v1/requests/${id}/credentials`, { token: other })).toMatchObject({
      status: 404,
    });
    const pending = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:PutItem'] });
    const early = await stack.call('POST', `/v1/requests/${pending.body.id}/credentials`, { token: agent });
    expect(early).toMatchObject({ status: 409, body: { error: { code: 'NotApproved' } } });
    const denied = await stack.request(agent, {
      resource: TABLE('orders'),
      actions: ['dynamodb:DeleteTable'],
    });
    expect(
      (await stack.call('POST', `/v1/requests/${denied.body.id}/credentials`, { token: agent })).body,
    ).toMatchObject({ error: { code: 'NotApproved' } });
  });

  it('revoke: 200 REVOKED, the live session stops working, a new claim is 409 Revoked, the message says so', async () => {
    const id = await approved();
    const claim = await stack.call<Creds>('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(await stack.putItem(claim.body, 'orders')).toBe('ok');
    const revoke = await stack.call('POST', `/v1/requests/${id}/revoke`, {
      token: approver,
      body: { reason: 'incident over' },
    });
    expect(revoke).toMatchObject({ status: 200, body: { status: 'REVOKED' } });
    // The revocation deny on the target role stops the live session at once, through IAM.
    expect(await stack.putItem(claim.body, 'orders')).toBe('AccessDeniedException');
    const again = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'Revoked' } } });
    const execution = await eventually(() =>
      stack.stack.sfn.executions().find((e) => e.name === id && e.status !== 'RUNNING'),
    );
    expect(execution.status).toBe('ABORTED');
    const message = stack.approvalMessage(id)!;
    expect(JSON.stringify(message.blocks)).toMatch(/Revoked/i);
    // Revoking twice is harmless and converges.
    expect((await stack.call('POST', `/v1/requests/${id}/revoke`, { token: approver })).status).toBe(200);
  });

  it('the requester may give access back; other agents may not revoke', async () => {
    const id = await approved();
    const other = await stack.agentToken('other-bot');
    expect((await stack.call('POST', `/v1/requests/${id}/revoke`, { token: other })).status).toBe(404);
    expect(await stack.call('POST', `/v1/requests/${id}/revoke`, { token: agent })).toMatchObject({
      status: 200,
      body: { status: 'REVOKED' },
    });
  });

  it('the AWS CLI runs unchanged with credential_process = countersign credential-process', async (ctx) => {
    const aws = ['/usr/bin/aws', 'aws'].find((p) => p === 'aws' || existsSync(p))!;
    const probe = await run(aws, ['--version']).catch(() => undefined);
    if (!probe) {
      // CI installs Debian's awscli; elsewhere the test says why it cannot run instead of passing silently.
      if (process.env.CI) throw new Error('the AWS CLI is required in CI (apt-get install awscli)');
      ctx.skip('no AWS CLI on this machine (apt-get install awscli to run it)');
    }
    const id = await approved();
    const dir = mkdtempSync(join(tmpdir(), 'countersign-aws-'));
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'countersign.js');
    writeFileSync(
      join(dir, 'config'),
      `[profile agent]\nregion = us-east-1\ncredential_process = node ${bin} credential-process --request ${id}\n`,
    );
    const { stdout } = await run(
      aws,
      [
        'sts',
        'get-caller-identity',
        '--profile',
        'agent',
        '--endpoint-url',
        stack.stack.endpoints.aws,
        '--output',
        'json',
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          AWS_CONFIG_FILE: join(dir, 'config'),
          AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
          COUNTERSIGN_ENDPOINT: stack.url,
          COUNTERSIGN_TOKEN: agent,
        },
        timeout: 60_000,
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      Arn: `arn:aws:sts::111122223333:assumed-role/countersign-target/${id}`,
    });
  }, 90_000);
});

describe('grant expiry on the local stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // The Wait until notAfter is shortened so expiry is observable in seconds; everything else is real.
    stack = await TestStack.start({ waitTimeOverrides: { WaitUntilNotAfter: 1_500 } });
  }, 60_000);
  afterAll(() => stack?.stop());

  it('after the workflow expires the grant, a claim is 409 GrantExpired', async () => {
    const agent = await stack.agentToken('deploy-bot');
    const id = await stack.approvedRequest(agent, 'orders');
    await eventually(
      async () =>
        (await stack.call('GET', `/v1/requests/${id}`, { token: agent })).body.status === 'EXPIRED'
          ? true
          : undefined,
      15_000,
    );
    const late = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'GrantExpired' } } });
  });
});
