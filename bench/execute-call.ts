import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { SigV4CallExecutor } from '../lambdas/adapters/call-executor.js';
import { buildSessionPolicy } from '../lambdas/core/session-policy.js';
import { TABLE, TestStack } from '../test/support/local-stack.js';

/**
 * Execute against its floor, one run on the local stack (`npx tsx bench/execute-call.ts [samples]`):
 *
 * - execute: `POST /v1/requests/{id}/execute` of an approved exact GetItem, over HTTP — JWT check,
 *   the claim (conditional write), AssumeRole, recording the session, the call, masking, the result.
 * - floor: what any design must do for the same call — AssumeRole with the same session policy and
 *   the same signed GetItem with that session — without Countersign's reads and writes.
 *
 * Samples alternate (floor, execute, floor, …) so both see the same machine load.
 */

const samples = Number(process.argv[2] ?? 40);
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

const stack = await TestStack.start();
try {
  const agent = await stack.agentToken('bench-agent');
  const { endpoints, config } = stack.stack;
  // The table's owner seeds it straight into DynamoDB Local, outside Countersign.
  const ddb = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: endpoints.dynamodb,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await ddb.send(
    new CreateTableCommand({
      TableName: 'bench-exec',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await ddb.send(
    new PutItemCommand({ TableName: 'bench-exec', Item: { id: { S: 'k' }, email: { S: 'a@example.com' } } }),
  );
  const input = { TableName: 'bench-exec', Key: { id: { S: 'k' } } };
  // The floor runs as the execute-call function's own role, through the same local AWS.
  const executeRole = stack.stack.functions.find((f) => f.arn.includes('ExecuteCall'))!.roleArn;
  const own = stack.stack.aws.issueRoleSession(executeRole, 'bench-floor');
  const sts = new STSClient({ region: 'us-east-1', endpoint: endpoints.aws, credentials: own });
  const executor = new SigV4CallExecutor({
    defaultRegion: 'us-east-1',
    endpoints: { dynamodb: endpoints.aws },
  });
  const roleArn = config.targets[0]!.roleArn;

  const floor: number[] = [];
  const execute: number[] = [];
  for (let i = 0; i < samples; i++) {
    const created = await stack.request(agent, {
      resource: TABLE('bench-exec'),
      actions: ['dynamodb:GetItem'],
      call: { input },
    });
    if (created.body.status !== 'APPROVED') throw new Error(`not approved: ${JSON.stringify(created.body)}`);

    let started = performance.now();
    const notAfter = new Date(Date.now() + 300_000);
    const minted = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: `floor-${i}`,
        SourceIdentity: 'bench-agent',
        Policy: buildSessionPolicy({ actions: ['dynamodb:GetItem'], resource: TABLE('bench-exec'), notAfter })
          .json,
        DurationSeconds: 900,
      }),
    );
    const c = minted.Credentials!;
    await executor.execute({
      operation: 'dynamodb:GetItem',
      input,
      region: 'us-east-1',
      credentials: {
        Version: 1,
        AccessKeyId: c.AccessKeyId!,
        SecretAccessKey: c.SecretAccessKey!,
        SessionToken: c.SessionToken!,
        Expiration: new Date(c.Expiration!).toISOString(),
      },
    });
    floor.push(performance.now() - started);

    started = performance.now();
    const answer = await stack.call('POST', `/v1/requests/${created.body.id}/execute`, { token: agent });
    if (answer.status !== 200) throw new Error(`execute: ${answer.status}`);
    execute.push(performance.now() - started);
  }
  // The first samples warm up connections and JIT; the figures are over the rest.
  const warm = Math.min(5, Math.floor(samples / 4));
  const f = floor.slice(warm);
  const e = execute.slice(warm);
  const p50 = (v: number[]) => percentile(v, 50).toFixed(1);
  const p90 = (v: number[]) => percentile(v, 90).toFixed(1);
  console.log(
    JSON.stringify(
      {
        samples: f.length,
        floorMs: { p50: p50(f), p90: p90(f) },
        executeMs: { p50: p50(e), p90: p90(e) },
        ratioP50: (percentile(e, 50) / percentile(f, 50)).toFixed(2),
      },
      null,
      2,
    ),
  );
  sts.destroy();
  ddb.destroy();
} finally {
  await stack.stop();
}
