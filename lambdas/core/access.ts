import type { AccessRequest, Caller } from './model.js';

/**
 * An agent's name in Countersign's own records, `<issuer>#<sub>`: an agent is its `sub` at its
 * issuer. The idempotency keys, rate counters and wait leases are filed under it; the byAgent index
 * partition is it behind `AGENT#` (adapters/dynamodb-store.ts `agentPartition`, table-design.ts).
 */
export const agentKey = (requester: { issuer: string; sub: string }) =>
  `${requester.issuer}#${requester.sub}`;

/** Approvers and auditors may read every request; agents only their own. */
export const canSeeAll = (caller: Caller) => caller.roles.has('approver') || caller.roles.has('auditor');

export const isRequester = (caller: Caller, request: AccessRequest) =>
  caller.sub === request.requester.sub && caller.issuer === request.requester.issuer;
