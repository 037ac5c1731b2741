import { canSeeAll, isRequester } from './access.js';
import {
  CallOnlyError,
  ConflictError,
  FailClosedError,
  ForbiddenError,
  GrantExpiredError,
  NotApprovedError,
  NotFoundError,
  RevokedError,
} from './errors.js';
import type { AccessRequest, Caller, MintedSession, ProcessCredentials } from './model.js';
import type { ApprovalWorkflow, Clock, CredentialMinter, RequestStore, SessionRevoker } from './ports.js';
import { sanitizeSourceIdentity } from './session-policy.js';
import { effectiveStatus } from './status.js';
import { changeRequest } from './transitions.js';

/** STS limits for role chaining: at least 15 minutes, at most one hour. */
export const MIN_SESSION_SECONDS = 900;
export const MAX_CHAINED_SESSION_SECONDS = 3600;

/** How long the access-key → request link outlives a session, for CloudTrail's late deliveries. */
const LINK_RETENTION_SECONDS = 7 * 86_400;

export interface CredentialDeps {
  store: RequestStore;
  minter: CredentialMinter;
  clock: Clock;
}

/**
 * `DurationSeconds` for AssumeRole: the grant's remaining time, within STS's bounds. A session may
 * outlive `notAfter` (STS's floor is 900 s) — the session policy's `aws:CurrentTime` condition is what
 * ends access exactly on time.
 */
export function sessionDurationSeconds(notAfter: string, now: Date): number {
  const remaining = Math.ceil((Date.parse(notAfter) - now.getTime()) / 1000);
  return Math.min(MAX_CHAINED_SESSION_SECONDS, Math.max(MIN_SESSION_SECONDS, remaining));
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
    const sourceIdentity = sanitizeSourceIdentity(request.requester.sub);
    const session = await minter.assumeRole({
      roleArn: grant.roleArn,
      sessionName: request.id,
      sourceIdentity,
      policy: JSON.stringify(grant.sessionPolicy),
      durationSeconds: sessionDurationSeconds(grant.notAfter, now),
      tags: [
        { Key: 'countersign:request', Value: request.id },
        { Key: 'countersign:agent', Value: sourceIdentity },
      ],
    });
    const record: MintedSession = {
      requestId: request.id,
      accessKeyId: session.credentials.AccessKeyId,
      assumedRoleId: session.assumedRoleId,
      roleArn: grant.roleArn,
      sourceIdentity,
      issuedAt: now.toISOString(),
      expiresAt: session.credentials.Expiration,
    };
    // Unrecorded credentials are never handed out: if this write fails the agent gets a 503 and
    // the session (unusable without its secret, which is dropped here) is still revocable by name.
    await store.putSession(record, Math.floor(Date.parse(record.expiresAt) / 1000) + LINK_RETENTION_SECONDS);
    return session.credentials;
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
      // Until a little past the latest possible session end: after that no session of it can exist.
      const until = new Date(
        Math.max(Date.parse(request.grant.notAfter), this.deps.clock.now().getTime()) +
          MAX_CHAINED_SESSION_SECONDS * 1000,
      ).toISOString();
      try {
        await this.deps.revoker.revoke(request.grant.roleArn, request.id, until);
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
}
