import { type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AgentHistory } from '../core/ports.js';
import { agentPartition, dependencyFailure } from './dynamodb-store.js';

/** How many recent requests the approval message looks at; beyond this it says "500+". */
const HISTORY_LIMIT = 500;

/** The agent's recent requests and denials, for the approval message: one Query on byAgent. */
export class DynamoDbAgentHistory implements AgentHistory {
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
          Limit: HISTORY_LIMIT,
        }),
      );
      const items = out.Items ?? [];
      return { requests: items.length, denied: items.filter((i) => i.status?.S === 'DENIED').length };
    } catch (error) {
      throw dependencyFailure('agent history', error);
    }
  }
}
