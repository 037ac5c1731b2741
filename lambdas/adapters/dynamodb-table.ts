import { marshall } from '@aws-sdk/util-dynamodb';
import { agentKey } from '../core/access.js';
import { DependencyError } from '../core/errors.js';
import type { AccessRequest } from '../core/model.js';

/**
 * The single table's item layout shared by every DynamoDB adapter: item keys, the REQUEST item with
 * its index keys, and the one way a failed call becomes a domain error. dynamodb-store.ts
 * re-exports all of it.
 */

/** Item keys of the single table (see table-design.ts for the whole layout). */
export const keys = {
  request: (id: string) => ({ PK: `REQ#${id}`, SK: 'REQUEST' }),
  token: (id: string) => ({ PK: `REQ#${id}`, SK: 'TOKEN' }),
  session: (id: string, akid: string) => ({ PK: `REQ#${id}`, SK: `SESSION#${akid}` }),
  event: (id: string, eventId: string) => ({ PK: `REQ#${id}`, SK: `EVENT#${eventId}` }),
  accessKey: (akid: string) => ({ PK: `AKID#${akid}`, SK: 'AKID' }),
  idempotency: (agentKey: string, key: string) => ({ PK: `IDEM#${agentKey}#${key}`, SK: 'IDEM' }),
  rate: (agentKey: string, minute: string) => ({ PK: `RATE#${agentKey}#${minute}`, SK: 'RATE' }),
  revocationSlot: (roleArn: string, slot: number) => ({ PK: `REVOKE#${roleArn}`, SK: `SLOT#${slot}` }),
  lease: (name: string, slot: number) => ({ PK: `LEASE#${name}`, SK: `SLOT#${slot}` }),
};

/** `AGENT#<agentKey>`: the byAgent index partition of one agent (core/access.ts `agentKey`). */
export const agentPartition = (requester: { issuer: string; sub: string }) => `AGENT#${agentKey(requester)}`;
export const dayPartition = (isoTime: string) => `DAY#${isoTime.slice(0, 10)}`;

/** The REQUEST item of a request, with its byAgent/byDay index keys (also how the benchmarks load data). */
export const toItem = (request: AccessRequest) =>
  marshall(
    {
      ...request,
      ...keys.request(request.id),
      GSI1PK: agentPartition(request.requester),
      GSI1SK: `${request.createdAt}#${request.id}`,
      GSI2PK: dayPartition(request.createdAt),
      GSI2SK: `${request.createdAt}#${request.id}`,
    },
    { removeUndefinedValues: true, convertClassInstanceToMap: false },
  );

/**
 * Strips the table's key attributes, and the linker's `activity*` counters, from a stored REQUEST
 * item. The counters belong to the linker: a state change that read them and wrote them back would
 * drop every event counted in between.
 */
export function fromRequestItem(item: Record<string, unknown>): AccessRequest {
  const { PK: _pk, SK: _sk, GSI1PK: _g1, GSI1SK: _g1s, GSI2PK: _g2, GSI2SK: _g2s, ...request } = item;
  for (const key of Object.keys(request)) if (key.startsWith('activity')) delete request[key];
  return request as unknown as AccessRequest;
}

/** Turns a failed SDK call into a domain error without leaking the SDK's text to clients. */
export function dependencyFailure(operation: string, error: unknown): DependencyError {
  return new DependencyError(`The request store is unavailable (${operation}); nothing was changed. Retry.`, {
    cause: error,
  });
}
