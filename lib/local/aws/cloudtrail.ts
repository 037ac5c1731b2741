import { randomUUID } from 'node:crypto';
import type { Principal } from './principals.js';
import { isoSeconds } from './principals.js';

/**
 * CloudTrail records as AWS writes them (record format version 1.09), for every call through the
 * local AWS, allowed or refused. What goes in `requestParameters` is trimmed by each service: names
 * and keys, never item values or secrets; `responseElements` is null for data events.
 */

export interface CloudTrailSessionContext {
  sessionIssuer: { type: 'Role'; principalId: string; arn: string; accountId: string; userName: string };
  attributes: { creationDate: string; mfaAuthenticated: 'false' };
  sourceIdentity?: string;
}

export interface CloudTrailUserIdentity {
  type: 'AssumedRole' | 'AWSService' | 'Unknown';
  principalId?: string;
  arn?: string;
  accountId?: string;
  accessKeyId?: string;
  sessionContext?: CloudTrailSessionContext;
  invokedBy?: string;
}

export interface CloudTrailRecord {
  eventVersion: '1.09';
  userIdentity: CloudTrailUserIdentity;
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress: string;
  userAgent: string;
  errorCode?: string;
  errorMessage?: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: Record<string, unknown> | null;
  requestID: string;
  eventID: string;
  readOnly: boolean;
  resources?: Array<{ accountId?: string; type: string; ARN: string }>;
  eventType: 'AwsApiCall';
  managementEvent: boolean;
  recipientAccountId: string;
  eventCategory: 'Management' | 'Data';
}

export function identityOf(principal: Principal): CloudTrailUserIdentity {
  const role = principal.role;
  return {
    type: 'AssumedRole',
    principalId: principal.userId,
    arn: principal.arn,
    accountId: role.account,
    accessKeyId: principal.accessKeyId,
    sessionContext: {
      sessionIssuer: {
        type: 'Role',
        principalId: role.roleId,
        arn: role.arn,
        accountId: role.account,
        userName: role.name,
      },
      attributes: { creationDate: isoSeconds(principal.issuedAt), mfaAuthenticated: 'false' },
      ...(principal.sourceIdentity !== undefined ? { sourceIdentity: principal.sourceIdentity } : {}),
    },
  };
}

export interface RecordInput {
  readonly identity: CloudTrailUserIdentity;
  readonly time: Date;
  readonly eventSource: string;
  readonly eventName: string;
  readonly region: string;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly requestId: string;
  readonly account: string;
  readonly requestParameters: Record<string, unknown> | null;
  readonly responseElements: Record<string, unknown> | null;
  readonly readOnly: boolean;
  readonly managementEvent: boolean;
  readonly resources?: ReadonlyArray<{ readonly type: string; readonly ARN: string }>;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export function cloudTrailRecord(input: RecordInput): CloudTrailRecord {
  const failed = input.errorCode !== undefined;
  return {
    eventVersion: '1.09',
    userIdentity: input.identity,
    eventTime: isoSeconds(input.time),
    eventSource: input.eventSource,
    eventName: input.eventName,
    awsRegion: input.region,
    sourceIPAddress: input.sourceIp,
    userAgent: input.userAgent.slice(0, 1024),
    ...(failed
      ? { errorCode: input.errorCode, errorMessage: (input.errorMessage ?? '').slice(0, 1024) }
      : {}),
    requestParameters: input.requestParameters,
    // A failed call returns nothing; data events never carry response elements.
    responseElements: failed || !input.managementEvent ? null : input.responseElements,
    requestID: input.requestId,
    eventID: randomUUID(),
    readOnly: input.readOnly,
    ...(input.resources && input.resources.length > 0
      ? { resources: input.resources.map((r) => ({ accountId: input.account, type: r.type, ARN: r.ARN })) }
      : {}),
    eventType: 'AwsApiCall',
    managementEvent: input.managementEvent,
    recipientAccountId: input.account,
    eventCategory: input.managementEvent ? 'Management' : 'Data',
  };
}

/** CloudTrail's readOnly: reads, lists, describes, queries, scans, heads. */
export function isReadOnlyOperation(operation: string): boolean {
  return /^(Get|List|Describe|Query|Scan|Head|BatchGet|TransactGet|Verify)/.test(operation);
}
