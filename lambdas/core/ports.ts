import type {
  AccessRequest,
  Decision,
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

/** The request store. Every state change is a conditional write; losing a race throws ConditionFailedError. */
export interface RequestStore {
  /** Stores a new request (and its idempotency record, atomically, when a key is given). */
  create(request: AccessRequest, idempotency?: { agentKey: string; key: string; bodyHash: string }): Promise<void>;
  get(id: string, options?: { consistent?: boolean }): Promise<AccessRequest | undefined>;
  findIdempotent(agentKey: string, key: string): Promise<{ requestId: string; bodyHash: string } | undefined>;
  /**
   * Moves a request from one of `from` to a new state (or patches it in place when `to` is omitted),
   * conditioned on its current status and version. Returns the stored result.
   */
  update(
    request: AccessRequest,
    change: { from: readonly RequestStatus[]; patch: Partial<AccessRequest>; history: string },
  ): Promise<AccessRequest>;
  /** Records one approver's decision; ConditionFailedError when that approver already decided. */
  putDecision(requestId: string, decision: Decision): Promise<void>;
  putTaskToken(requestId: string, token: string): Promise<void>;
  getTaskToken(requestId: string): Promise<string | undefined>;
  putSession(session: MintedSession, ttlEpochSeconds: number): Promise<void>;
  listSessions(requestId: string): Promise<MintedSession[]>;
  /** Counts one request for `agentKey` in the current minute; returns the count so far. */
  countRequest(agentKey: string, minute: string, ttlEpochSeconds: number): Promise<number>;
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
 * Makes minted sessions stop working before they expire. STS credentials cannot be recalled, so on
 * AWS this writes a Deny on the target role matching the sessions' `aws:userid`.
 */
export interface SessionRevoker {
  revoke(roleArn: string, sessions: readonly MintedSession[], until: string): Promise<void>;
}

/** Where linked CloudTrail events are kept and read back. */
export interface EventStore {
  putEvent(event: LinkedEvent): Promise<'stored' | 'duplicate'>;
  listEvents(requestId: string): Promise<LinkedEvent[]>;
  findRequestByAccessKey(accessKeyId: string): Promise<string | undefined>;
}
