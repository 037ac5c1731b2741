/**
 * The domain's nouns. These shapes are what DynamoDB stores (through the adapter) and what the
 * HTTP contract returns (DESIGN.md §4), so a field added here is a field clients may see.
 */

export const REQUEST_STATUSES = [
  'PENDING',
  'APPROVED',
  'DENIED',
  'TIMED_OUT',
  'EXPIRED',
  'REVOKED',
  'EXECUTED',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export type Effect = 'deny' | 'allow' | 'approve';
export type Role = 'agent' | 'approver' | 'auditor';
export type Channel = 'slack' | 'api' | 'policy' | 'system';

/** A verified caller: who the JWT says it is, and what its groups let it do. */
export interface Caller {
  /** The JWT `sub`: the identity approvers are named by and agents are filed under. */
  readonly sub: string;
  readonly issuer: string;
  readonly groups: readonly string[];
  readonly roles: ReadonlySet<Role>;
}

export interface Requester {
  readonly sub: string;
  readonly issuer: string;
  readonly groups: readonly string[];
}

/** Agent-supplied context. Untrusted text: stored and shown escaped, never decides anything. */
export interface RequestContext {
  task?: string;
  runId?: string;
  toolCallId?: string;
  model?: string;
  onBehalfOf?: string;
}

/** What the policy engine concluded, frozen onto the request when it was made. */
export interface PolicyOutcome {
  /** The matching rule's name, or `default` (or `never-grantable` / `resource-alias`, see never-grantable.ts). */
  rule: string;
  effect: Effect;
  /** Why, when the rule alone does not say: set for never-grantable refusals. */
  reason?: string;
  /** Access levels of the requested actions, from the IAM catalog (e.g. `Write`, `Permissions management`). */
  accessLevels: string[];
  quorum?: number;
  /** Approver identities or `group:NAME` entries, as the rule names them. */
  approvers?: string[];
  approvalTimeoutSeconds?: number;
  maxDurationSeconds?: number;
  minReviewSeconds?: number;
  /** `refuse` answers a too-fast approval with 422 TooFast; `flag` records it as a RUBBER_STAMP finding. */
  minReviewMode?: 'refuse' | 'flag';
  /** `call`: the rule grants only exact calls. */
  mode?: 'call';
}

export interface Decision {
  approver: string;
  decision: 'approve' | 'deny';
  channel: Channel;
  at: string;
  comment?: string;
  /** Seconds between the request being shown to approvers and this decision. */
  reviewSeconds?: number;
  /** Set when the decision came faster than the rule's minReviewSeconds but the rule only flags. */
  rubberStamp?: boolean;
}

/** IAM policy document as STS accepts it in AssumeRole's `Policy`. */
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Array<{
    Sid?: string;
    Effect: 'Allow' | 'Deny';
    Action: string[];
    Resource: string[];
    Condition?: Record<string, Record<string, string | string[]>>;
  }>;
}

export interface Grant {
  resource: string;
  actions: string[];
  roleArn: string;
  notAfter: string;
  durationSeconds: number;
  grantedAt: string;
  sessionPolicy: PolicyDocument;
}

/** Where the approval message lives in Slack, so it can be updated (`chat.update`) and threaded. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export interface AccessRequest {
  id: string;
  status: RequestStatus;
  requester: Requester;
  resource: string;
  actions: string[];
  reason: string;
  context: RequestContext;
  durationSeconds: number;
  createdAt: string;
  updatedAt: string;
  policy: PolicyOutcome;
  decisions: Decision[];
  grant?: Grant;
  /** When approvers were first shown the request (the Slack message was posted). */
  shownAt?: string;
  /** Why the request ended where it did, in one sentence (deny comment, timeout, revoke by …). */
  outcome?: { reason: string; by?: string; at: string };
  slack?: SlackMessageRef;
  /** Optimistic-concurrency counter: every conditional state change increments it. */
  version: number;
  /** Decisions that were refused (self-approval, too fast, not an approver): evidence for reviewers. */
  refusals?: Array<{ approver: string; code: string; channel: Channel; at: string }>;
  /** Hash-chained record of every state change (tamper evidence); kept out of API answers. */
  history?: HistoryEntry[];
  /** An exact-call request (DESIGN.md §4 "Exact calls"): the one call an approval allows. */
  call?: ExactCall;
  /** What executing the exact call did; written once (claimed before the call is made). */
  execution?: Execution;
}

/** The exact API call an agent asked to have made, as validated (lambdas/core/calls). */
export interface ExactCall {
  /** The operation, e.g. `dynamodb:PutItem` (the request's one action). */
  operation: string;
  /** The input exactly as the agent sent it and approvers saw it. */
  input: Record<string, unknown>;
  /** SHA-256 (hex) of the input's canonical JSON: what an approver can compare. */
  inputSha256: string;
}

/** The result of executing an exact call (`POST /v1/requests/{id}/execute`). */
export interface Execution {
  /** `running` between the claim and the call's end; a crash in between leaves it so (fail closed). */
  status: 'running' | 'succeeded' | 'failed';
  /** The masked output (size-limited, see lambdas/core/masking.ts). */
  output?: unknown;
  /** True when the masked output was larger than the stored limit and was cut. */
  outputTruncated?: boolean;
  awsError?: { code: string; message: string };
  /** JSON paths (`$.Item.password`) whose values were masked. */
  masked: string[];
  /** SHA-256 (hex) of the masked output's canonical JSON, before any truncation. */
  outputSha256?: string;
  /** The access key id of the session the call was made with (links its CloudTrail event). */
  accessKeyId?: string;
  /** When the execution was claimed, and when it ended. */
  startedAt: string;
  at?: string;
}

/** One AssumeRole made for a request. Never holds the secret key or session token. */
export interface MintedSession {
  requestId: string;
  accessKeyId: string;
  /** `AROA…:req_…` — what `aws:userid` is for this session, used to revoke it. */
  assumedRoleId: string;
  roleArn: string;
  sourceIdentity: string;
  issuedAt: string;
  expiresAt: string;
  /** Keyed MAC over the other fields (history.ts `sessionMacInput`), added by the store. */
  mac?: string;
}

/** The slice of a CloudTrail event a reviewer needs (DESIGN.md §4, CloudTrail linkage). */
export interface LinkedEvent {
  requestId: string;
  eventId: string;
  eventTime: string;
  eventName: string;
  eventSource: string;
  awsRegion?: string;
  resources: string[];
  errorCode?: string;
  errorMessage?: string;
  sourceIpAddress?: string;
  userAgent?: string;
  /** For AssumeRole, the key the call minted; otherwise the key the call was made with. */
  accessKeyId?: string;
  linkedBy: 'roleSessionName' | 'accessKeyId' | 'sourceIdentity';
  /**
   * Whether `accessKeyId` was recorded as minted by Countersign for this request when the event was
   * linked; `false` is UNLINKED_ACTIVITY. Absent when the event carries no key (a failed AssumeRole).
   */
  minted?: boolean;
  /**
   * On AssumeRole events: true when the caller was Countersign's minting role (the record of a
   * session being minted, not a call under a grant); false for anyone else's AssumeRole (an agent's
   * role chaining is a call like any other). Absent on events stored before this was recorded.
   */
  minting?: boolean;
  /** Keyed MAC over the other fields (history.ts `eventMacInput`), added by the event store. */
  mac?: string;
}

/** The credential_process answer (AWS CLI/SDK `credential_process` contract). */
export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

/** One link of a request's hash-chained history (history.ts appends and verifies them). */
export interface HistoryEntry {
  seq: number;
  at: string;
  /** What happened, in a few words: `created`, `decision:approve by alice@example.com`, `approved`, … */
  event: string;
  /** sha256 of the facts after this change (see `snapshotOf`). */
  state: string;
  /** sha256 over the previous hash, seq, at, event and state. */
  hash: string;
  /**
   * The keyed link: MAC (Mac port) over the request id, the previous entry's MAC, seq, at, event and
   * state (`historyMacInput`). Added by the store when it writes the entry; without the key nobody
   * can recompute it after an edit, as anyone can `hash`.
   */
  mac?: string;
}
