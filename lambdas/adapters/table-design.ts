/**
 * The single DynamoDB table, described once and used by both assemblies: the CDK stack creates it
 * on AWS from this, and the local stack creates it in DynamoDB Local from this.
 *
 * Items (PK / SK), as the adapters write them (dynamodb-store.ts `keys`, dynamodb-events.ts):
 * - `REQ#<id>` / `REQUEST`            the request: its policy outcome, every decision and refusal,
 *                                     the grant, and its hash-chained `history` (history.ts); also
 *                                     the linker's `activity*` counters (dynamodb-events.ts)
 * - `REQ#<id>` / `TOKEN`              the Step Functions task token (never sent to Slack)
 * - `REQ#<id>` / `SESSION#<akid>`     each minted STS session (never the secret or token)
 * - `REQ#<id>` / `EVENT#<eventID>`    each linked CloudTrail event (conditional put: stored once)
 * - `AKID#<akid>` / `AKID`            access key id -> request id, for the CloudTrail linker (TTL)
 * - `IDEM#<agent>#<key>` / `IDEM`     Idempotency-Key -> request id + body hash (TTL)
 * - `RATE#<name>#<minute>` / `RATE`   a per-minute counter (TTL): `<agent>` for requests,
 *                                     `claim#<agent>` and `revoke#<agent>` for claims and revokes
 * - `LEASE#<name>` / `SLOT#<n>`       one of `name`'s leases (`wait#<agent>`: an agent's concurrent
 *                                     long polls), free once released or run out (TTL)
 * - `REVOKE#<roleArn>` / `SLOT#<n>`   versioned content of a target role's revocation policy n (TTL)
 *
 * `<agent>` is core/access.ts `agentKey`: `<issuer>#<sub>`.
 *
 * Indexes (sparse: only REQUEST items carry their keys):
 * - `byAgent`:  GSI1PK `AGENT#<agent>`,         GSI1SK `<createdAt>#<id>` — one agent over time
 * - `byDay`:    GSI2PK `DAY#<yyyy-mm-dd>`,      GSI2SK `<createdAt>#<id>` — everyone, by time
 * - `byStatus`: `status` (`PENDING`, …),        GSI2SK `<createdAt>#<id>` — everyone in one status,
 *   by time: the approvers' inbox and the status filters. Keyed on the request's own `status`, so
 *   every state change moves the item between partitions with no extra write, and requests stored
 *   before the index existed are in it once DynamoDB backfills it. Only REQUEST items may carry a
 *   top-level `status` attribute (and only as a string): any other item with one would enter the
 *   index, and a non-string one would be refused by DynamoDB.
 */
export const TABLE_DESIGN = {
  partitionKey: 'PK',
  sortKey: 'SK',
  ttlAttribute: 'expiresAt',
  indexes: {
    byAgent: { partitionKey: 'GSI1PK', sortKey: 'GSI1SK' },
    byDay: { partitionKey: 'GSI2PK', sortKey: 'GSI2SK' },
    byStatus: { partitionKey: 'status', sortKey: 'GSI2SK' },
  },
} as const;

export type IndexName = keyof typeof TABLE_DESIGN.indexes;
