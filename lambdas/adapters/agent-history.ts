import { type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AgentHistoryReader } from '../core/ports.js';
import { agentPartition, dependencyFailure } from './dynamodb-table.js';

/** How many recent requests the approval message counts; beyond this it says "500+" (`capped`). */
const HISTORY_LIMIT = 500;

/** The agent's recent requests and denials, for the approval message: one Query on byAgent. */
export class DynamoDbAgentHistory implements AgentHistoryReader {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async recentActivity(requester: { issuer: string; sub: string }, since: string) {
    try {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'byAgent',
          KeyConditionExpression: 'GSI1PK = :pk AND GSI1SK >= :since',
          ExpressionAttributeValues: marshall({ ':pk': agentPartition(requester), ':since': since }),
          ExpressionAttributeNames: { '#status': 'status' },
          ProjectionExpression: '#status',
          // One more than is counted: whether it comes back says if there were more.
          Limit: HISTORY_LIMIT + 1,
        }),
      );
      const items = (out.Items ?? []).slice(0, HISTORY_LIMIT);
      return {
        requests: items.length,
        denied: items.filter((i) => i.status?.S === 'DENIED').length,
        capped: (out.Items?.length ?? 0) > HISTORY_LIMIT,
      };
    } catch (error) {
      throw dependencyFailure('agent history', error);
    }
  }
}
