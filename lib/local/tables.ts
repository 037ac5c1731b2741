import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';

/**
 * Tables as CloudFormation creates them from the template (key schema, indexes, TTL): what the
 * handlers find locally is the table the stack deploys, not a hand-kept copy of its design.
 */
export async function createTablesFromTemplate(
  client: DynamoDBClient,
  tables: ReadonlyArray<
    CreateTableCommandInput & { TimeToLive?: { AttributeName?: string; Enabled?: boolean } }
  >,
): Promise<void> {
  for (const { TimeToLive, ...input } of tables) {
    const created = await createIfMissing(client, input);
    if (!created) await addMissingIndexes(client, input);
    if (created && TimeToLive?.Enabled && TimeToLive.AttributeName) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: input.TableName,
          TimeToLiveSpecification: { Enabled: true, AttributeName: TimeToLive.AttributeName },
        }),
      );
    }
  }
}

/**
 * Demo tables of the walk-through (config `local.demoTables`): a plain table keyed by `id`, so an
 * agent's approved PutItem has somewhere to go. They are the "production" data of the local world,
 * not part of Countersign.
 */
export async function seedDemoTables(client: DynamoDBClient, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await createIfMissing(client, {
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    });
  }
}

/**
 * A data directory from an earlier version lacks the indexes the template added since; CloudFormation
 * adds them with UpdateTable (one at a time, as DynamoDB requires), and so does this.
 */
async function addMissingIndexes(client: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
  const existing = new Set((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of input.GlobalSecondaryIndexes ?? []) {
    if (existing.has(index.IndexName)) continue;
    const keys = new Set(index.KeySchema?.map((k) => k.AttributeName));
    await client.send(
      new UpdateTableCommand({
        TableName: input.TableName,
        AttributeDefinitions: input.AttributeDefinitions?.filter((a) => keys.has(a.AttributeName)),
        GlobalSecondaryIndexUpdates: [
          {
            Create: { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection },
          },
        ],
      }),
    );
  }
}

async function createIfMissing(client: DynamoDBClient, input: CreateTableCommandInput): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: input.TableName }));
    return false;
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw error;
  }
  try {
    await client.send(new CreateTableCommand(input));
  } catch (error) {
    if (error instanceof ResourceInUseException) return false;
    throw error;
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
