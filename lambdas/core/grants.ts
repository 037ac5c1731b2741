import type { CountersignConfig } from './config.js';
import type { AccessRequest, Grant } from './model.js';
import { buildSessionPolicy } from './session-policy.js';
import { targetFor } from './targets.js';

/** The target role for the resource (lambdas/core/targets.ts); refuses rather than guess. */
export function targetRoleFor(config: CountersignConfig, resource: string): string {
  return targetFor(config, resource).roleArn;
}

/** STS's floor for a session's life: a session minted now lasts at least this long. */
export const MIN_SESSION_SECONDS = 900;
/** How long after approval a grant of the shortest length can still be claimed. */
export const CLAIM_WINDOW_SECONDS = 300;
/**
 * The shortest grant. A session must not outlive its grant — `sts:GetCallerIdentity` ignores
 * session policies and denies, so identity-based logins (EKS, Vault) would accept it past
 * `notAfter` — so a claim needs at least MIN_SESSION_SECONDS left (CredentialClaims.claim), and a
 * shorter request is rounded up to leave a window to claim in. `grant.durationSeconds` says what
 * it became.
 */
export const MIN_GRANT_SECONDS = MIN_SESSION_SECONDS + CLAIM_WINDOW_SECONDS;

/**
 * What an approval becomes: exactly the requested actions on exactly the requested resource, until
 * `notAfter` = approval time + the (rule-capped) duration, at least MIN_GRANT_SECONDS. Computed once, at approval, and stored,
 * so what the approver saw is what the agent can claim.
 */
export function computeGrant(
  config: CountersignConfig,
  request: Pick<AccessRequest, 'resource' | 'actions' | 'durationSeconds'>,
  now: Date,
): Grant {
  const durationSeconds = Math.max(request.durationSeconds, MIN_GRANT_SECONDS);
  const notAfter = new Date(now.getTime() + durationSeconds * 1000);
  // Whole seconds: IAM's date conditions and the credential_process Expiration compare cleanly.
  notAfter.setUTCMilliseconds(0);
  const { document } = buildSessionPolicy({
    actions: request.actions,
    resource: request.resource,
    notAfter: notAfter.toISOString(),
  });
  return {
    resource: request.resource,
    actions: [...request.actions],
    roleArn: targetRoleFor(config, request.resource),
    notAfter: notAfter.toISOString(),
    durationSeconds,
    grantedAt: now.toISOString(),
    sessionPolicy: document,
  };
}
