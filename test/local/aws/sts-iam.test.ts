import {
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type STSClientConfig,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CloudTrailRecord, createLocalAws, type LocalAws } from '../../../lib/local/aws/index.js';
import { failure } from '../helpers.js';

/**
 * STS and IAM through the local AWS endpoint (Query protocol). No DynamoDB call is made here, so the
 * endpoint is given an address nothing listens on.
 */

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const role = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const trustOf = (principal: string) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: principal },
      Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
    },
  ],
});

describe('local AWS: STS and IAM', () => {
  let aws: LocalAws;
  let records: CloudTrailRecord[] = [];
  const clients: Array<{ destroy(): void }> = [];
  const config = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) => ({
    endpoint: aws.url,
    region: REGION,
    credentials,
    maxAttempts: 1,
  });
  const sts = (roleName: string) => {
    const c = new STSClient(config(aws.issueRoleSession(role(roleName), `${roleName}-fn`)));
    clients.push(c);
    return c;
  };
  const iam = (roleName: string) => {
    const c = new IAMClient(config(aws.issueRoleSession(role(roleName), `${roleName}-fn`)));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    aws = createLocalAws({
      account: ACCOUNT,
      region: REGION,
      dynamodbEndpoint: 'http://127.0.0.1:9',
      onCloudTrail: (record) => records.push(record),
      log: () => undefined,
    });
    await aws.start();
    aws.createRole(role('minter'), {
      inline: {
        mint: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] },
      },
    });
    aws.createRole(role('target'), { managed: [ALLOW_ALL], trust: trustOf(role('minter')) });
    aws.createRole(role('untrusting'), { managed: [ALLOW_ALL], trust: trustOf(role('someone-else')) });
    aws.createRole(role('revoker'), {
      inline: {
        revoke: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:ListRolePolicies'],
              Resource: role('target'),
            },
          ],
        },
      },
    });
    aws.createRole(role('elsewhere', '444455556666'), { managed: [ALLOW_ALL] });
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await aws?.stop();
  });

  beforeEach(() => {
    records = [];
  });

  it('refuses AssumeRole of a role whose trust policy does not name the caller, with AccessDenied in the Query protocol', async () => {
    // Act
    const error = await failure(
      sts('minter').send(new AssumeRoleCommand({ RoleArn: role('untrusting'), RoleSessionName: 'probe' })),
    );
    const missing = await failure(
      sts('minter').send(new AssumeRoleCommand({ RoleArn: role('nobody'), RoleSessionName: 'probe' })),
    );

    // Assess
    expect((error as Error).name).toBe('AccessDenied');
    expect((error as Error).message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/minter/minter-fn is not authorized to perform: sts:AssumeRole on resource: ${role('untrusting')}`,
    );
    expect((missing as Error).name).toBe('AccessDenied');
    expect(
      records.filter((r) => r.eventName === 'AssumeRole' && r.errorCode === 'AccessDenied'),
    ).toHaveLength(2);
  });

  it("refuses AssumeRole when the caller's own role does not allow it, whatever the trust policy says", async () => {
    // Prepare
    aws.createRole(role('bare'), {});
    aws.createRole(role('trusts-bare'), { managed: [ALLOW_ALL], trust: trustOf(role('bare')) });

    // Act
    const error = await failure(
      sts('bare').send(new AssumeRoleCommand({ RoleArn: role('trusts-bare'), RoleSessionName: 'probe' })),
    );

    // Assess
    expect((error as Error).message).toContain(
      'because no identity-based policy allows the sts:AssumeRole action',
    );
  });

  it('caps chained sessions at one hour and session policies at 2,048 characters', async () => {
    // Prepare
    const big = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'dynamodb:GetItem',
          Resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${'t'.repeat(2100)}`,
        },
      ],
    };

    // Act
    const long = await failure(
      sts('minter').send(
        new AssumeRoleCommand({ RoleArn: role('target'), RoleSessionName: 'long', DurationSeconds: 3601 }),
      ),
    );
    const tooBig = await failure(
      sts('minter').send(
        new AssumeRoleCommand({
          RoleArn: role('target'),
          RoleSessionName: 'big',
          Policy: JSON.stringify(big),
        }),
      ),
    );
    const ok = await sts('minter').send(
      new AssumeRoleCommand({ RoleArn: role('target'), RoleSessionName: 'ok', DurationSeconds: 3600 }),
    );

    // Assess
    expect((long as Error).message).toContain(
      'exceeds the 1 hour session limit for roles assumed by role chaining',
    );
    expect((tooBig as Error).name).toBe('ValidationError');
    expect(ok.Credentials?.Expiration?.getTime()).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('carries the source identity into chained sessions and answers GetCallerIdentity', async () => {
    // Prepare
    const out = await sts('minter').send(
      new AssumeRoleCommand({ RoleArn: role('target'), RoleSessionName: 'req-42', SourceIdentity: 'alice' }),
    );
    const session = new STSClient(
      config({
        accessKeyId: out.Credentials!.AccessKeyId!,
        secretAccessKey: out.Credentials!.SecretAccessKey!,
        sessionToken: out.Credentials!.SessionToken!,
      }),
    );
    clients.push(session);

    // Act
    const who = await session.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(who).toMatchObject({
      Account: ACCOUNT,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/target/req-42`,
    });
    expect(who.UserId).toMatch(/^AROA[A-Z2-7]{17}:req-42$/);
    const record = records.find((r) => r.eventName === 'GetCallerIdentity');
    expect(record).toMatchObject({
      readOnly: true,
      managementEvent: true,
      userIdentity: { sessionContext: { sourceIdentity: 'alice' } },
    });
    expect(aws.sessions().find((s) => s.roleSessionName === 'req-42')).toMatchObject({
      sourceIdentity: 'alice',
      roleArn: role('target'),
    });
  });

  it('lets a revoker write, read and list inline policies of the role its policy names, and nothing else', async () => {
    // Prepare
    const client = iam('revoker');
    const deny = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }],
    });

    // Act
    await client.send(
      new PutRolePolicyCommand({ RoleName: 'target', PolicyName: 'revocations', PolicyDocument: deny }),
    );
    const read = await client.send(
      new GetRolePolicyCommand({ RoleName: 'target', PolicyName: 'revocations' }),
    );
    const listed = await client.send(new ListRolePoliciesCommand({ RoleName: 'target' }));
    const otherRole = await failure(
      client.send(new PutRolePolicyCommand({ RoleName: 'minter', PolicyName: 'x', PolicyDocument: deny })),
    );
    const otherAccount = await failure(
      client.send(new GetRolePolicyCommand({ RoleName: 'elsewhere', PolicyName: 'x' })),
    );

    // Assess
    expect(decodeURIComponent(read.PolicyDocument ?? '')).toBe(deny);
    expect(listed.PolicyNames).toEqual(['revocations']);
    expect((otherRole as Error).name).toBe('AccessDenied');
    // IAM is per account: a role in another account is not even visible.
    expect((otherAccount as Error).name).toBe('AccessDenied');
    expect(aws.rolePolicies(role('target')).revocations).toBe(deny);
    expect(records.find((r) => r.eventName === 'GetRolePolicy')).toMatchObject({
      readOnly: true,
      eventSource: 'iam.amazonaws.com',
    });
  });

  it("enforces the 10,240-character limit on a role's inline policies together", async () => {
    // Prepare
    const client = iam('revoker');
    const statement = (i: number) => ({
      Sid: `S${i}`,
      Effect: 'Deny',
      Action: '*',
      Resource: `arn:aws:s3:::${'b'.repeat(180)}${i}`,
    });
    const doc = (n: number, from = 0) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: Array.from({ length: n }, (_, i) => statement(from + i)),
      });

    // Act
    await client.send(
      new PutRolePolicyCommand({ RoleName: 'target', PolicyName: 'a', PolicyDocument: doc(25) }),
    );
    const over = await failure(
      client.send(
        new PutRolePolicyCommand({ RoleName: 'target', PolicyName: 'b', PolicyDocument: doc(30, 100) }),
      ),
    );

    // Assess
    expect((over as Error).name).toBe('LimitExceededException');
    expect((over as Error).message).toContain('Maximum policy size of 10240 bytes exceeded for role target');
  });

  it('refuses a request without a signature, and a key without its session token, and records both', async () => {
    // Prepare
    const { accessKeyId } = aws.issueRoleSession(role('minter'), 'probe-fn');

    // Act
    const unsigned = await fetch(`${aws.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    const unknownService = await fetch(`${aws.url}/`, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AmazonSQS.SendMessage',
        authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
      },
      body: '{}',
    });

    // Assess
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain('<Code>MissingAuthenticationToken</Code>');
    expect(unknownService.status).toBeGreaterThanOrEqual(400);
    expect(
      records.filter((r) => r.userIdentity.type !== 'AWSService').map((r) => [r.eventSource, r.errorCode]),
    ).toEqual([
      ['sts.amazonaws.com', 'MissingAuthenticationToken'],
      // The token does not match the key, so it is refused before the service is even looked at.
      ['sqs.amazonaws.com', 'UnrecognizedClientException'],
    ]);
  });

  it('refuses, as not emulated, a well-signed call to a service it does not emulate', async () => {
    // Prepare: the SDK's STS client, pointed at a scope the endpoint does not serve.
    const creds = aws.issueRoleSession(role('minter'), 'probe-fn');
    const client = new STSClient({ ...config(creds), signingName: 'sqs' } as STSClientConfig);
    clients.push(client);

    // Act
    const error = await failure(client.send(new GetCallerIdentityCommand({})));

    // Assess
    expect((error as Error).message).toContain("The service 'sqs' is not emulated by the local AWS");
    expect(records.at(-1)).toMatchObject({ eventSource: 'sqs.amazonaws.com', errorCode: 'InvalidAction' });
  });
});
