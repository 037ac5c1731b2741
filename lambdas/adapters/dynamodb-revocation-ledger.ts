import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dependencyFailure, keys } from './dynamodb-table.js';
import type { RevocationLedger, RevocationSlotState } from './iam-revoker.js';

/** How long a revocation slot's ledger item outlives its last entry (its TTL). */
const REVOCATION_LEDGER_RETENTION_SECONDS = 86_400;

/**
 * The versioned content of each target role's revocation policies (`REVOKE#<roleArn>` /
 * `SLOT#<n>`): the source of truth the revoker writes IAM from, since IAM itself has no
 * conditional write. Each write is conditional on the slot's previous version.
 */
export class DynamoDbRevocationLedger implements RevocationLedger {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async read(roleArn: string): Promise<RevocationSlotState[]> {
    try {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
          ExpressionAttributeValues: marshall({ ':pk': `REVOKE#${roleArn}`, ':sk': 'SLOT#' }),
          ConsistentRead: true,
        }),
      );
      return (out.Items ?? []).map((item) => {
        const { slot, version, entries, issuedBefore } = unmarshall(item);
        return {
          slot: Number(slot),
          version: Number(version),
          entries: Array.isArray(entries) ? entries : [],
          ...(issuedBefore ? { issuedBefore } : {}),
        } as RevocationSlotState;
      });
    } catch (error) {
      throw dependencyFailure('read revocations', error);
    }
  }

  async write(roleArn: string, next: RevocationSlotState): Promise<boolean> {
    const lastMs = Math.max(
      0,
      ...next.entries.map((e) => Date.parse(e.until)),
      next.issuedBefore ? Date.parse(next.issuedBefore.until) : 0,
    );
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(
            {
              ...keys.revocationSlot(roleArn, next.slot),
              slot: next.slot,
              version: next.version,
              entries: next.entries.map((e) => ({ userId: e.userId, until: e.until })),
              ...(next.issuedBefore ? { issuedBefore: { ...next.issuedBefore } } : {}),
              expiresAt: Math.floor(lastMs / 1000) + REVOCATION_LEDGER_RETENTION_SECONDS,
            },
            { removeUndefinedValues: true },
          ),
          ConditionExpression: next.version === 1 ? 'attribute_not_exists(PK)' : '#version = :previous',
          ...(next.version === 1
            ? {}
            : {
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: marshall({ ':previous': next.version - 1 }),
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw dependencyFailure('write revocations', error);
    }
  }
}
