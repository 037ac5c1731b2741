import type { AccessRequest, Caller } from './model.js';

/** How the byAgent index and the idempotency/rate records name an agent. */
export const agentKey = (requester: { issuer: string; sub: string }) =>
  `${requester.issuer}#${requester.sub}`;

/** Approvers and auditors may read every request; agents only their own. */
export const canSeeAll = (caller: Caller) => caller.roles.has('approver') || caller.roles.has('auditor');

export const isRequester = (caller: Caller, request: AccessRequest) =>
  caller.sub === request.requester.sub && caller.issuer === request.requester.issuer;
