import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbRequestStore } from '../../lambdas/adapters/dynamodb-store.js';
import { AccessRequests } from '../../lambdas/core/access-requests.js';
import { type CountersignConfig, parseConfig } from '../../lambdas/core/config.js';
import { CredentialClaims, Revocations } from '../../lambdas/core/credentials.js';
import { Decisions } from '../../lambdas/core/decisions.js';
import type { Caller, ProcessCredentials, Role } from '../../lambdas/core/model.js';
import type {
  ApprovalWorkflow,
  AssumeRoleInput,
  Clock,
  CredentialMinter,
  Mac,
} from '../../lambdas/core/ports.js';
import {
  createLocalDynamoDbClient,
  type DynamoDbLocal,
  ensureTable,
  startDynamoDbLocal,
} from '../../lib/local/dynamodb-local.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';

/**
 * What the evidence tests share: DynamoDB Local with the real table, requests made through the
 * lead's real request lifecycle (store, decisions, claims, revocations), and CloudTrail records
 * shaped as CloudTrail writes them. Only AWS itself is stood in for: Step Functions (a workflow
 * that records nothing) and STS (a minter returning ASIA keys, like the local STS).
 */

export const ISSUER = 'https://issuer.example.com';
export const ACCOUNT = '111122223333';
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/countersign-target`;
/** The claim function's role, whose AssumeRole calls mint sessions (as assumeRoleRecord makes them). */
export const MINTING_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/countersign-claim-credentials`;
export const TABLE_ARN = (name: string) => `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${name}`;

export const CONFIG: CountersignConfig = parseConfig({
  identity: { issuer: ISSUER, audience: 'countersign' },
  roles: { agents: ['agents'], approvers: ['approvers'], auditors: ['auditors'] },
  slack: { channel: 'C0123456789', teamId: 'T0123456789', appId: 'A0123456789', users: {} },
  targets: [{ account: ACCOUNT, roleArn: ROLE_ARN }],
  rules: [
    { name: 'deny-destructive', match: { actions: ['dynamodb:DeleteTable'] }, effect: 'deny' },
    { name: 'reads', match: { accessLevels: ['Read', 'List'] }, effect: 'allow', maxDurationSeconds: 3600 },
    {
      name: 'flagged-review',
      match: { accessLevels: ['Write'], resources: [`arn:aws:dynamodb:*:${ACCOUNT}:table/flagged*`] },
      effect: 'approve',
      approvers: ['alice@example.com', 'bob@example.com'],
      minReviewSeconds: 5,
      minReviewMode: 'flag',
    },
    {
      name: 'writes',
      match: { accessLevels: ['Write'] },
      effect: 'approve',
      approvers: ['alice@example.com', 'bob@example.com'],
      approvalTimeoutSeconds: 600,
      maxDurationSeconds: 3600,
    },
  ],
  default: 'deny',
  limits: { requestsPerMinutePerAgent: 10_000 },
});

/** A clock the test moves. */
export class TestClock implements Clock {
  constructor(private time: number) {}
  now(): Date {
    return new Date(this.time);
  }
  set(iso: string | number): void {
    this.time = typeof iso === 'number' ? iso : Date.parse(iso);
  }
  advance(seconds: number): void {
    this.time += seconds * 1000;
  }
}

export const noWorkflow: ApprovalWorkflow = {
  start: async () => undefined,
  succeed: async () => 'sent',
  fail: async () => 'sent',
  stop: async () => undefined,
};

/** STS stand-in: ASIA keys, every call remembered. */
export class FakeMinter implements CredentialMinter {
  readonly calls: AssumeRoleInput[] = [];
  private counter = 0;
  /** `clock`: sessions expire `durationSeconds` after its now, as STS's do. @default the wall clock, one hour */
  constructor(private readonly clock?: Clock) {}
  async assumeRole(input: AssumeRoleInput) {
    this.calls.push(input);
    this.counter += 1;
    const accessKeyId = `ASIA${String(this.counter).padStart(4, '0')}${randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase()}`;
    const credentials: ProcessCredentials = {
      Version: 1,
      AccessKeyId: accessKeyId,
      SecretAccessKey: 'never-stored',
      SessionToken: 'never-stored',
      Expiration: this.clock
        ? new Date(this.clock.now().getTime() + input.durationSeconds * 1000).toISOString()
        : new Date(Date.now() + 3600_000).toISOString(),
    };
    return {
      credentials,
      assumedRoleId: `AROAEXAMPLE:${input.sessionName}`,
      arn: `${assumedRoleArn(input.sessionName)}`,
    };
  }
}

export const assumedRoleArn = (sessionName: string) =>
  `arn:aws:sts::${ACCOUNT}:assumed-role/countersign-target/${sessionName}`;

export function caller(sub: string, ...roles: Role[]): Caller {
  const groups = roles.map((r) => `${r}s`);
  return { sub, issuer: ISSUER, groups, roles: new Set(roles) };
}

/** DynamoDB Local (in memory) with the table, once per test file. */
export async function startTable(): Promise<{ db: DynamoDbLocal; client: DynamoDBClient; table: string }> {
  // A loaded machine (CI runners, shared boxes) can take longer than the default to start the JVM.
  const db = await startDynamoDbLocal({ inMemory: true, startTimeoutMs: 50_000 });
  const client = createLocalDynamoDbClient(db.endpoint);
  const table = 'countersign-evidence-test';
  await ensureTable(client, table);
  return { db, client, table };
}

/** The request lifecycle, wired as the Lambdas wire it, on one table and one test clock. */
export function lifecycle(client: DynamoDBClient, table: string, clock: TestClock, mac?: Mac) {
  const store = new DynamoDbRequestStore(client, table, mac ? { mac } : {});
  const minter = new FakeMinter(clock);
  const deps = { store, workflow: noWorkflow, clock, config: CONFIG };
  const requests = new AccessRequests(deps);
  const decisions = new Decisions(deps);
  const claims = new CredentialClaims({ store, minter, clock });
  const revocations = new Revocations({
    store,
    revoker: { revoke: async () => undefined },
    workflow: noWorkflow,
    clock,
  });

  const ask = async (
    agent: string,
    resource: string,
    actions: string[],
    extra: Record<string, unknown> = {},
  ) => {
    const { request } = await requests.create(
      caller(agent, 'agent'),
      JSON.stringify({
        resource,
        actions,
        reason: 'Backfill after the failed batch (INC-1)',
        durationSeconds: 900,
        ...extra,
      }),
    );
    return request;
  };
  const approve = (requestId: string, approver = 'alice@example.com') =>
    decisions.decide({
      requestId,
      caller: caller(approver, 'approver'),
      decision: 'approve',
      channel: 'api',
    });
  const deny = (requestId: string, approver = 'alice@example.com') =>
    decisions.decide({
      requestId,
      caller: caller(approver, 'approver'),
      decision: 'deny',
      channel: 'api',
      comment: 'not now',
    });
  const claim = (agent: string, requestId: string) => claims.claim(caller(agent, 'agent'), requestId);
  const revoke = (who: Caller, requestId: string) => revocations.revoke(who, requestId);
  return { store, minter, requests, decisions, claims, ask, approve, deny, claim, revoke };
}

let eventCounter = 0;
export const newEventId = () => `${randomUUID()}`;

/** A CloudTrail record of a call made with a session of the target role. */
export function callRecord(options: {
  requestId: string;
  accessKeyId: string;
  eventName: string;
  eventSource?: string;
  eventTime: string;
  sourceIdentity?: string;
  tableName?: string;
  errorCode?: string;
  errorMessage?: string;
  userAgent?: string;
  eventId?: string;
}): Record<string, unknown> {
  eventCounter += 1;
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'AssumedRole',
      principalId: `AROAEXAMPLE:${options.requestId}`,
      arn: assumedRoleArn(options.requestId),
      accountId: ACCOUNT,
      accessKeyId: options.accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: 'AROAEXAMPLE',
          arn: ROLE_ARN,
          accountId: ACCOUNT,
          userName: 'countersign-target',
        },
        attributes: { creationDate: options.eventTime, mfaAuthenticated: 'false' },
        ...(options.sourceIdentity ? { sourceIdentity: options.sourceIdentity } : {}),
      },
    },
    eventTime: options.eventTime,
    eventSource: options.eventSource ?? 'dynamodb.amazonaws.com',
    eventName: options.eventName,
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.7',
    userAgent: options.userAgent ?? 'aws-cli/2.15.0 md/Botocore#1.34.0',
    requestParameters: {
      tableName: options.tableName ?? 'orders',
      key: { id: { S: `order-${eventCounter}` } },
    },
    responseElements: null,
    ...(options.errorCode ? { errorCode: options.errorCode } : {}),
    ...(options.errorMessage ? { errorMessage: options.errorMessage } : {}),
    requestID: randomUUID(),
    eventID: options.eventId ?? newEventId(),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: false,
    recipientAccountId: ACCOUNT,
  };
}

/** CloudTrail's record of the AssumeRole that minted a session (as the minter Lambda's role made it). */
export function assumeRoleRecord(options: {
  requestId: string;
  mintedAccessKeyId?: string;
  sourceIdentity: string;
  eventTime: string;
  eventId?: string;
  errorCode?: string;
  /** The role that minted it (the claim function's). @default MINTING_ROLE_ARN */
  mintingRoleArn?: string;
}): Record<string, unknown> {
  const mintingRole = (options.mintingRoleArn ?? MINTING_ROLE_ARN).split('/').pop();
  return {
    eventVersion: '1.08',
    userIdentity: {
      type: 'AssumedRole',
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${mintingRole}/lambda-session`,
      accountId: ACCOUNT,
      accessKeyId: fakeAccessKeyId('MINTERLAMBDA0001'),
    },
    eventTime: options.eventTime,
    eventSource: 'sts.amazonaws.com',
    eventName: 'AssumeRole',
    awsRegion: 'us-east-1',
    sourceIPAddress: 'lambda.amazonaws.com',
    userAgent: 'aws-sdk-js/3.0',
    requestParameters: {
      roleArn: ROLE_ARN,
      roleSessionName: options.requestId,
      sourceIdentity: options.sourceIdentity,
      durationSeconds: 900,
      policy: '{"Version":"2012-10-17"}',
    },
    responseElements: options.mintedAccessKeyId
      ? {
          credentials: {
            accessKeyId: options.mintedAccessKeyId,
            sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENthatmustneverbestored',
            expiration: 'Jan 1, 2030, 12:00:00 AM',
          },
          assumedRoleUser: {
            assumedRoleId: `AROAEXAMPLE:${options.requestId}`,
            arn: assumedRoleArn(options.requestId),
          },
          sourceIdentity: options.sourceIdentity,
        }
      : null,
    ...(options.errorCode ? { errorCode: options.errorCode } : {}),
    requestID: randomUUID(),
    eventID: options.eventId ?? newEventId(),
    readOnly: true,
    resources: [{ accountId: ACCOUNT, type: 'AWS::IAM::Role', ARN: ROLE_ARN }],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
  };
}

/** As EventBridge delivers a CloudTrail record. */
export function eventBridge(detail: Record<string, unknown>): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: `aws.${String(detail.eventSource).split('.')[0]}`,
    account: ACCOUNT,
    time: detail.eventTime,
    region: 'us-east-1',
    resources: [],
    detail,
  };
}
