import { agentKey, canSeeAll, isRequester } from './access.js';
import {
  CallOnlyError,
  ConflictError,
  FailClosedError,
  ForbiddenError,
  GrantEndingSoonError,
  GrantExpiredError,
  NotApprovedError,
  NotFoundError,
  RateLimitedError,
  RevokedError,
} from './errors.js';
import { MIN_SESSION_SECONDS } from './grants.js';
import { canonicalJson, verifyKeyedHistory } from './history.js';
import type { AccessRequest, Caller, MintedSession, ProcessCredentials } from './model.js';
import type {
  ApprovalWorkflow,
  Clock,
  CredentialMinter,
  Mac,
  RequestStore,
  SessionRevoker,
} from './ports.js';
import { buildSessionPolicy, sanitizeSourceIdentity } from './session-policy.js';
import { effectiveStatus } from './status.js';
import { changeRequest } from './transitions.js';

/** STS limits for role chaining: at least 15 minutes (MIN_SESSION_SECONDS), at most one hour. */
export { MIN_SESSION_SECONDS };
export const MAX_CHAINED_SESSION_SECONDS = 3600;

/** How long the access-key → request link outlives a session, for CloudTrail's late deliveries. */
const LINK_RETENTION_SECONDS = 7 * 86_400;

export interface CredentialDeps {
  store: RequestStore;
  minter: CredentialMinter;
  clock: Clock;
  /** `limits.claimsPerMinutePerAgent` and `limits.liveSessionsPerGrant`; unlimited when absent. */
  limits?: { claimsPerMinutePerAgent: number; liveSessionsPerGrant: number };
  /**
   * The history key: a session is minted only for a request whose keyed history verifies and last
   * recorded exactly this request (someone with write access to the table could otherwise rewrite
   * the resource, the actions and the grant together, or drop an exact call's `call`).
   */
  mac?: Mac;
}

/**
 * `DurationSeconds` for AssumeRole: the grant's remaining time (whole seconds, rounded down, so the
 * session never outlives `notAfter`), at most the role-chaining hour. Claims with less than STS's
 * 900-second floor left are refused before this (CredentialClaims.claim).
 */
export function sessionDurationSeconds(notAfter: string, now: Date): number {
  const remaining = Math.floor((Date.parse(notAfter) - now.getTime()) / 1000);
  return Math.min(MAX_CHAINED_SESSION_SECONDS, Math.max(MIN_SESSION_SECONDS, remaining));
}

/**
 * The `Expiration` handed to the agent: the earlier of the session's and the grant's end, so SDKs
 * (and `credential_process` users) stop using and refresh the credentials when the grant ends.
 */
export function effectiveExpiration(sessionExpiration: string, notAfter: string): string {
  const end = Math.min(Date.parse(sessionExpiration), Date.parse(notAfter));
  return new Date(end).toISOString();
}

/** Minting: `POST /v1/requests/{id}/credentials`. Credentials are returned, never stored. */
export class CredentialClaims {
  constructor(private readonly deps: CredentialDeps) {}

  async claim(caller: Caller, requestId: string): Promise<ProcessCredentials> {
    const { store, clock, minter } = this.deps;
    const request = await store.get(requestId, { consistent: true });
    // Only the requester may claim; to anyone else the request does not exist.
    if (!request || !isRequester(caller, request)) throw new NotFoundError(`No request ${requestId}.`);
    if (request.call) {
      throw new CallOnlyError(
        'This request is for one exact call: Countersign makes it (POST /v1/requests/{id}/execute); no credentials are handed out.',
      );
    }
    const now = clock.now();
    assertClaimable(request, now);
    const grant = request.grant!;
    // STS cannot mint a session shorter than 900 s, and one that outlives the grant keeps working
    // for identity-based logins (GetCallerIdentity ignores session policies): refuse instead.
    const claimableUntil = new Date(Date.parse(grant.notAfter) - MIN_SESSION_SECONDS * 1000);
    if (now.getTime() > claimableUntil.getTime()) {
      throw new GrantEndingSoonError(
        `The grant ends at ${grant.notAfter}; STS sessions last at least ${MIN_SESSION_SECONDS} s, so no session that ends with it can be minted after ${claimableUntil.toISOString()}.`,
        { details: { notAfter: grant.notAfter, claimableUntil: claimableUntil.toISOString() } },
      );
    }
    // Refusals above need no proof; a session does: the request must be what its history recorded.
    if (this.deps.mac) {
      const verdict = await verifyKeyedHistory(request.history ?? [], request, this.deps.mac);
      if (!verdict.valid) {
        throw new FailClosedError('The request no longer matches its recorded history; nothing is minted.', {
          details: { requestId, problem: verdict.problem },
        });
      }
    }
    const policy = rebuiltSessionPolicy(request);
    await claimLimits(this.deps, caller, request.id, now);
    const session = await mintSession(minter, request, {
      policy,
      durationSeconds: sessionDurationSeconds(grant.notAfter, now),
      now,
    });
    // Unrecorded credentials are never handed out: if this write fails the agent gets a 503 and
    // the session (unusable without its secret, which is dropped here) is still revocable by name.
    await recordSession(store, session.record);
    // A revoke denies the sessions it finds recorded. It marks the request REVOKED before it lists
    // them, and this session was recorded before this re-read: either the revoke lists it, or this
    // read sees REVOKED and the credentials are dropped unseen.
    const latest = await store.get(requestId, { consistent: true });
    if (!latest) throw new NotFoundError(`No request ${requestId}.`);
    assertClaimable(latest, clock.now());
    return {
      ...session.credentials,
      Expiration: effectiveExpiration(session.credentials.Expiration, grant.notAfter),
    };
  }
}

/**
 * Mints a session of the grant's target role for `request` (grant present): named after the
 * request, with the requester as SourceIdentity and both as session tags, so every CloudTrail event
 * made with it names them. Returns its credentials and the record that links its access key to the
 * request, not yet written (recordSession): credentials claims and exact calls both mint this way.
 */
export async function mintSession(
  minter: CredentialMinter,
  request: AccessRequest,
  o: { policy: string; durationSeconds: number; now: Date },
): Promise<{ credentials: ProcessCredentials; record: MintedSession }> {
  const grant = request.grant!;
  const sourceIdentity = sanitizeSourceIdentity(request.requester.sub);
  const session = await minter.assumeRole({
    roleArn: grant.roleArn,
    sessionName: request.id,
    sourceIdentity,
    policy: o.policy,
    durationSeconds: o.durationSeconds,
    tags: [
      { Key: 'countersign:request', Value: request.id },
      { Key: 'countersign:agent', Value: sourceIdentity },
    ],
  });
  return {
    credentials: session.credentials,
    record: {
      requestId: request.id,
      accessKeyId: session.credentials.AccessKeyId,
      assumedRoleId: session.assumedRoleId,
      roleArn: grant.roleArn,
      sourceIdentity,
      issuedAt: o.now.toISOString(),
      expiresAt: session.credentials.Expiration,
    },
  };
}

/** Writes a minted session's record; its access-key link outlives the session by LINK_RETENTION_SECONDS. */
export const recordSession = (store: RequestStore, record: MintedSession): Promise<void> =>
  store.putSession(record, Math.floor(Date.parse(record.expiresAt) / 1000) + LINK_RETENTION_SECONDS);

/**
 * The session policy to mint with, rebuilt from what was approved (`grant.actions` on
 * `grant.resource` until `grant.notAfter`, the same as the request's) rather than taken from the
 * stored document: someone with write access to the table could otherwise widen a grant to
 * `Action: *, Resource: *` and have it minted verbatim. A stored document that differs from the
 * rebuilt one is refused (fail closed), never repaired silently.
 */
export function rebuiltSessionPolicy(request: AccessRequest): string {
  const grant = request.grant!;
  const sameTarget =
    grant.resource === request.resource &&
    canonicalJson([...grant.actions].sort()) === canonicalJson([...request.actions].sort());
  const { document, json } = buildSessionPolicy({
    actions: grant.actions,
    resource: grant.resource,
    notAfter: grant.notAfter,
  });
  if (!sameTarget || canonicalJson(document) !== canonicalJson(grant.sessionPolicy)) {
    throw new FailClosedError(
      'The stored grant does not match what was approved; no session was minted. This is logged for review.',
      { details: { requestId: request.id, problem: sameTarget ? 'sessionPolicy' : 'grantTarget' } },
    );
  }
  return json;
}

/**
 * Each claim mints an STS session and writes two items: one agent may hold only a few live sessions
 * of a grant (SDKs refresh one at a time; more is a flood), and make only so many claims a minute.
 */
async function claimLimits(
  deps: CredentialDeps,
  caller: Caller,
  requestId: string,
  now: Date,
): Promise<void> {
  const { limits, store } = deps;
  if (!limits) return;
  const live = (await store.listSessions(requestId))
    .map((s) => Date.parse(s.expiresAt))
    .filter((end) => end > now.getTime())
    .sort((a, b) => a - b);
  if (live.length >= limits.liveSessionsPerGrant) {
    // Room comes back when the earliest of them expires.
    const nextFree = live[live.length - limits.liveSessionsPerGrant]!;
    throw new RateLimitedError(
      `This grant already has ${live.length} live sessions (at most ${limits.liveSessionsPerGrant}); reuse one.`,
      { retryAfterSeconds: (nextFree - now.getTime()) / 1000 },
    );
  }
  const count = await store.countRequest(
    `claim#${agentKey(caller)}`,
    now.toISOString().slice(0, 16),
    Math.floor(now.getTime() / 1000) + 120,
  );
  if (count > limits.claimsPerMinutePerAgent) {
    throw new RateLimitedError(
      `More than ${limits.claimsPerMinutePerAgent} claims in a minute; slow down and retry.`,
      { retryAfterSeconds: secondsToNextMinute(now) },
    );
  }
}

export function assertClaimable(request: AccessRequest, now: Date): void {
  const status = effectiveStatus(request, now);
  if (status === 'REVOKED') throw new RevokedError('The grant was revoked.');
  if (status === 'EXPIRED') {
    throw new GrantExpiredError(`The grant ended at ${request.grant?.notAfter}.`, {
      details: { notAfter: request.grant?.notAfter },
    });
  }
  if (status !== 'APPROVED' || !request.grant) {
    throw new NotApprovedError(`The request is ${status}, not APPROVED.`, { details: { status } });
  }
}

export interface RevocationDeps {
  store: RequestStore;
  /** Revokes one agent may make per minute of its own requests (`limits.revokesPerMinutePerAgent`). */
  revokesPerMinutePerAgent?: number;
  revoker: SessionRevoker;
  workflow: ApprovalWorkflow;
  clock: Clock;
  /** Called after the state change to rewrite the approval message; failures do not undo a revoke. */
  onRevoked?: (request: AccessRequest) => Promise<void>;
}

/**
 * Revoking: `POST /v1/requests/{id}/revoke`. The state change comes first (no new claim succeeds
 * once it is written), then the deny on the target role for the request's sessions, then the
 * workflow stops. Repeating a revoke re-applies all of it, so a failure part-way converges on retry.
 */
export class Revocations {
  constructor(private readonly deps: RevocationDeps) {}

  async revoke(caller: Caller, requestId: string, reason?: string): Promise<AccessRequest> {
    const current = await this.deps.store.get(requestId, { consistent: true });
    const mayRevoke = current && (canSeeAll(caller) || isRequester(caller, current));
    if (!current || !mayRevoke) throw new NotFoundError(`No request ${requestId}.`);
    if (!canSeeAll(caller) && !caller.roles.has('agent'))
      throw new ForbiddenError('You may not revoke this request.');
    if (!canSeeAll(caller)) await this.countRevoke(caller);

    const { request } = await changeRequest(this.deps, requestId, (latest, now) => {
      const status = effectiveStatus(latest, now);
      if (status === 'REVOKED') return undefined;
      if (status !== 'PENDING' && status !== 'APPROVED') {
        throw new ConflictError(`The request is ${status}; there is nothing to revoke.`, {
          details: { status },
        });
      }
      const by = isRequester(caller, latest) ? `${caller.sub} (requester)` : caller.sub;
      return {
        patch: {
          status: 'REVOKED',
          outcome: {
            reason: reason ? `Revoked: ${reason}` : 'Revoked.',
            by: caller.sub,
            at: now.toISOString(),
          },
        },
        event: `revoked by ${by}`,
      };
    });

    if (request.grant) {
      // Deny only sessions that were minted, and only until the last of them expires. The request is
      // REVOKED before this (consistent) read, so a claim racing with it either is listed here or
      // sees REVOKED after recording its session and hands nothing out (CredentialClaims.claim).
      const now = this.deps.clock.now().getTime();
      const live = (await this.deps.store.listSessions(request.id)).filter(
        (s) => s.roleArn === request.grant!.roleArn && Date.parse(s.expiresAt) > now,
      );
      const until = Math.max(...live.map((s) => Date.parse(s.expiresAt)));
      try {
        if (live.length > 0) {
          await this.deps.revoker.revoke(request.grant.roleArn, request.id, new Date(until).toISOString());
        }
      } catch (error) {
        throw new FailClosedError(
          'The request is marked REVOKED and cannot be claimed again, but the deny for its live sessions could not be written yet. Retry the revoke.',
          { cause: error },
        );
      }
    }
    await this.deps.workflow.stop(request.id, `Revoked by ${caller.sub}`);
    if (this.deps.onRevoked) await this.deps.onRevoked(request).catch(() => undefined);
    return request;
  }

  /**
   * Agents revoke their own requests; each revoke with live sessions costs a write on the shared
   * target role, so one agent may only make so many a minute. Approvers and auditors are never
   * limited: their revokes are the ones that must always go through.
   */
  private async countRevoke(caller: Caller): Promise<void> {
    const limit = this.deps.revokesPerMinutePerAgent;
    if (limit === undefined) return;
    const now = this.deps.clock.now();
    const minute = now.toISOString().slice(0, 16);
    const count = await this.deps.store.countRequest(
      `revoke#${agentKey(caller)}`,
      minute,
      Math.floor(now.getTime() / 1000) + 120,
    );
    if (count > limit) {
      throw new RateLimitedError(`More than ${limit} revokes in a minute; slow down and retry.`, {
        retryAfterSeconds: secondsToNextMinute(now),
      });
    }
  }
}

/** Seconds until the next whole minute (the rate windows' boundary), at least 1. */
export function secondsToNextMinute(now: Date): number {
  return Math.max(1, 60 - now.getUTCSeconds());
}
