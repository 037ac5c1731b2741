import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { expect } from 'vitest';
import { agentPartition, keys } from '../../lambdas/adapters/dynamodb-table.js';
import { TABLE_DESIGN } from '../../lambdas/adapters/table-design.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/dynamodb-local.js';
import { LOCAL_BOT_TOKEN } from '../../lib/local/stack.js';
import type { ApiAnswer, TestStack } from '../support/local-stack.js';

/**
 * What the security and resilience suites share: reading DynamoDB Local directly (so "nothing was
 * stored" is checked where it would be stored, not through the API under test), the contract's
 * error-body shape, and the ledger of secrets no log line may contain.
 */

/** A DynamoDB client on the stack's DynamoDB Local (the same table the handlers write). */
export function tableClient(stack: TestStack): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: stack.stack.endpoints.dynamodb,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 2,
  });
}

/** The ids of every request `sub` has stored, read with a Query on the byAgent index. */
export async function storedRequestIds(
  stack: TestStack,
  client: DynamoDBClient,
  sub: string,
): Promise<string[]> {
  const { partitionKey } = TABLE_DESIGN.indexes.byAgent;
  const ids: string[] = [];
  let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const out = await client.send(
      new QueryCommand({
        TableName: stack.stack.tableName,
        IndexName: 'byAgent',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': partitionKey },
        ExpressionAttributeValues: marshall({
          ':pk': agentPartition({ issuer: stack.stack.issuer.issuer, sub }),
        }),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) ids.push(String(unmarshall(item).id));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return ids;
}

/** The stored REQUEST item (keys and all), or undefined. */
export async function storedRequest(
  stack: TestStack,
  client: DynamoDBClient,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  const out = await client.send(
    new GetItemCommand({
      TableName: stack.stack.tableName,
      Key: marshall(keys.request(id)),
      ConsistentRead: true,
    }),
  );
  return out.Item ? unmarshall(out.Item) : undefined;
}

/** The Step Functions task token stored for a request (a secret: it resumes the workflow). */
export async function storedTaskToken(
  stack: TestStack,
  client: DynamoDBClient,
  id: string,
): Promise<string | undefined> {
  const out = await client.send(
    new GetItemCommand({
      TableName: stack.stack.tableName,
      Key: marshall(keys.token(id)),
      ConsistentRead: true,
    }),
  );
  return out.Item ? String(unmarshall(out.Item).token) : undefined;
}

/**
 * The contract's error body (DESIGN.md §4): `{"error":{"code","message","details"?}}` and nothing
 * else — no stack trace, no SDK text.
 */
export function expectContractError(answer: ApiAnswer, status: number, code: string): void {
  expect({
    status: answer.status,
    code: (answer.body as { error?: { code?: unknown } }).error?.code,
  }).toEqual({
    status,
    code,
  });
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  const body = answer.body as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(['error']);
  const error = body.error as Record<string, unknown>;
  expect(Object.keys(error).filter((k) => !['code', 'message', 'details'].includes(k))).toEqual([]);
  expect(typeof error.message).toBe('string');
  expect(String(error.message)).not.toMatch(/\n\s+at |\.ts:\d+|node_modules|Exception/);
}

/**
 * Every secret a test saw: minted secret keys and session tokens, the Slack signing secret and bot
 * token, bearer JWTs, task tokens. `leaks` lists each one found in any log line of the stack.
 */
export class SecretLedger {
  private readonly secrets = new Map<string, string>();

  constructor(stack: TestStack) {
    this.add('Slack signing secret', stack.stack.slackSigningSecret);
    this.add('Slack bot token', LOCAL_BOT_TOKEN);
  }

  add(kind: string, value: string | undefined): void {
    // Short values would match by accident; every real secret here is far longer.
    if (value && value.length >= 16) this.secrets.set(value, kind);
  }

  /** Records the secrets of a `credential_process` answer. */
  addCredentials(body: unknown): void {
    const credentials = body as { SecretAccessKey?: string; SessionToken?: string };
    this.add('secret access key', credentials.SecretAccessKey);
    this.add('session token', credentials.SessionToken);
  }

  count(kind?: string): number {
    return [...this.secrets.values()].filter((k) => kind === undefined || k === kind).length;
  }

  leaks(lines: readonly string[]): Array<{ kind: string; line: string }> {
    const found: Array<{ kind: string; line: string }> = [];
    for (const line of lines) {
      for (const [secret, kind] of this.secrets) {
        if (line.includes(secret)) found.push({ kind, line: line.slice(0, 300) });
      }
    }
    return found;
  }
}
