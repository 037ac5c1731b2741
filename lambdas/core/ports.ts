import type { RecordedActivity } from './activity.js';
import type {
  AccessRequest,
  LinkedEvent,
  MintedSession,
  ProcessCredentials,
  RequestStatus,
  SlackMessageRef,
} from './model.js';

/**
 * The ports the domain talks through. Adapters in `lambdas/adapters` implement them against AWS
 * (or the local stand-ins, which speak the same APIs); tests may implement them in memory.
 */

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Where the domain reports something it handled but an operator should see (a failed re-drive).
 * On AWS a structured log line (adapters/logger.ts); the line's fields are redacted there.
 */
export interface OperatorLog {
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** The request store. Every state change is a conditional write; losing a race throws ConditionFailedError. */
export interface RequestStore {
  /** Stores a new request (and its idempotency record, atomically, when a key is given). */
  create(
    request: AccessRequest,
    idempotency?: { agentKey: string; key: string; bodyHash: string },
  ): Promise<void>;
  get(id: string, options?: { consistent?: boolean }): Promise<AccessRequest | undefined>;
  findIdempotent(agentKey: string, key: string): Promise<{ requestId: string; bodyHash: string } | undefined>;
  /** Frees an Idempotency-Key, if it still names `requestId`, so a retry with it creates a new request. */
  releaseIdempotency(agentKey: string, key: string, requestId: string): Promise<void>;
  /**
   * Replaces the stored request with `next`, on condition that the stored one still has
   * `expectedVersion` and one of the `from` statuses. The caller builds `next` (version + 1, history
   * appended); losing the race throws ConditionFailedError and the caller re-reads.
   */
  replace(
    next: AccessRequest,
    condition: { expectedVersion: number; from: readonly RequestStatus[] },
  ): Promise<void>;
  putTaskToken(requestId: string, token: string): Promise<void>;
  getTaskToken(requestId: string): Promise<string | undefined>;
  putSession(session: MintedSession, ttlEpochSeconds: number): Promise<void>;
  listSessions(requestId: string): Promise<MintedSession[]>;
  /** Counts one request for `agentKey` in the current minute; returns the count so far. */
  countRequest(agentKey: string, minute: string, ttlEpochSeconds: number): Promise<number>;
  /**
   * Takes one of `slots` leases named `name` for `holder` until `untilMs`: a slot is free when it
   * was never taken, was released, or its lease has run out (so a crashed holder frees it by
   * itself). Returns the slot taken, or undefined when all are held.
   */
  acquireLease(
    name: string,
    slots: number,
    holder: string,
    untilMs: number,
    nowMs: number,
  ): Promise<number | undefined>;
  /** Gives a lease back, if `holder` still holds it. */
  releaseLease(name: string, slot: number, holder: string): Promise<void>;
}

/** The approval workflow (Step Functions Standard). */
export interface ApprovalWorkflow {
  /** Starts the workflow for a request; idempotent (the execution name is derived from the request id). */
  start(request: AccessRequest): Promise<void>;
  /** Resumes a waiting task. `gone` when the token already completed or timed out (AWS: TaskTimedOut/InvalidToken). */
  succeed(taskToken: string, output: Record<string, unknown>): Promise<'sent' | 'gone'>;
  fail(taskToken: string, error: string, cause: string): Promise<'sent' | 'gone'>;
  /** Stops the request's execution, if it is still running. */
  stop(requestId: string, cause: string): Promise<void>;
}

/** Block Kit message body: `text` is the notification fallback, `blocks` the layout. */
export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** Slack Web API, the parts Countersign uses. */
export interface ChatNotifier {
  post(channel: string, message: SlackMessage): Promise<SlackMessageRef>;
  update(ref: SlackMessageRef, message: SlackMessage): Promise<void>;
  /** A reply in the message's thread. */
  reply(ref: SlackMessageRef, message: SlackMessage): Promise<void>;
  /** A message only `user` sees. */
  ephemeral(channel: string, user: string, text: string): Promise<void>;
}

export interface AssumeRoleInput {
  roleArn: string;
  sessionName: string;
  sourceIdentity: string;
  /** The session policy, serialised exactly as it is sent (its length is what STS limits). */
  policy: string;
  durationSeconds: number;
  tags: Array<{ Key: string; Value: string }>;
}

export interface AssumedSession {
  credentials: ProcessCredentials;
  /** `AROA…:<session name>` */
  assumedRoleId: string;
  arn: string;
}

/** STS: mints the session the grant becomes. */
export interface CredentialMinter {
  assumeRole(input: AssumeRoleInput): Promise<AssumedSession>;
}

/**
 * Makes a request's sessions stop working before they expire. STS credentials cannot be recalled,
 * so on AWS this writes a Deny on the target role matching `aws:userid` `*:<request id>` (the
 * request id is every session's RoleSessionName), which also covers sessions minted concurrently.
 */
export interface SessionRevoker {
  revoke(roleArn: string, requestId: string, until: string): Promise<void>;
}

/** Reads what an approver is shown about the agent's recent behaviour (the approval message). */
export interface AgentHistoryReader {
  /**
   * The agent's requests since `since`, and how many of them were denied. `capped`: there were more
   * than the reader counts, so both numbers are lower bounds.
   */
  recentActivity(
    requester: { issuer: string; sub: string },
    since: string,
  ): Promise<{ requests: number; denied: number; capped: boolean }>;
}

/** Where linked CloudTrail events are kept and read back. */
export interface EventStore {
  putEvent(event: LinkedEvent): Promise<'stored' | 'duplicate'>;
  /**
   * What the request's sessions did, for the end-of-grant summary: its events (the first ones when
   * there are too many to read, then `truncated`) and the linker's counters, which saw them all.
   */
  readActivity(requestId: string): Promise<RecordedActivity>;
  findRequestByAccessKey(accessKeyId: string): Promise<string | undefined>;
}

/**
 * A keyed MAC (HMAC-SHA-256) over the evidence: on AWS a KMS HMAC key whose material never leaves
 * KMS (GenerateMac/VerifyMac), locally a key in the data directory. Without the key, nobody with
 * write access to the table can forge or recompute the history chain and the items' MACs.
 */
export interface Mac {
  /** The MAC of `data`, base64. */
  sign(data: string): Promise<string>;
  /** Whether `mac` is the MAC of `data`; false (never a throw) for a wrong or malformed one. */
  verify(data: string, mac: string): Promise<boolean>;
}
