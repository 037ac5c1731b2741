import type { CountersignConfig } from './config.js';
import type { AccessRequest, Grant } from './model.js';
import { buildSessionPolicy } from './session-policy.js';
import { targetFor } from './targets.js';

/** The target role for the resource (lambdas/core/targets.ts); refuses rather than guess. */
export function targetRoleFor(config: CountersignConfig, resource: string): string {
  return targetFor(config, resource).roleArn;
}

/**
 * What an approval becomes: exactly the requested actions on exactly the requested resource, until
 * `notAfter` = approval time + the (rule-capped) duration. Computed once, at approval, and stored,
 * so what the approver saw is what the agent can claim.
 */
export function computeGrant(
  config: CountersignConfig,
  request: Pick<AccessRequest, 'resource' | 'actions' | 'durationSeconds'>,
  now: Date,
): Grant {
  const notAfter = new Date(now.getTime() + request.durationSeconds * 1000);
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
    durationSeconds: request.durationSeconds,
    grantedAt: now.toISOString(),
    sessionPolicy: document,
  };
}
