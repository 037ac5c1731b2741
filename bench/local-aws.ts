import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { marshall } from '@aws-sdk/util-dynamodb';
import { keys } from '../lambdas/adapters/dynamodb-table.js';
import type { BenchStack } from './lib/bench-stack.js';

/**
 * What the local AWS endpoint adds to a call: the same `GetItem` (a consistent read of one small
 * item) sent through the local AWS endpoint — SigV4 verification with the payload hash, IAM
 * evaluation of get-request's execution-role policies, a CloudTrail record — and straight to
 * DynamoDB Local, which the endpoint forwards to. Both clients keep their connections alive;
 * samples alternate which goes first.
 */
export interface LocalAwsSamples {
  viaLocalAws: number[];
  direct: number[];
  /** GetCallerIdentity through the local AWS: SigV4 and a CloudTrail record, no forward, no IAM policy. */
  endpointOnly: number[];
}

export async function measureLocalAwsOverhead(
  stack: BenchStack,
  options: { samples: number; warmup: number },
): Promise<LocalAwsSamples> {
  const table = stack.tableName;
  const id = 'bench-local-aws-overhead';
  await stack.raw.send(
    new PutItemCommand({
      TableName: table,
      Item: marshall({ ...keys.request(id), status: 'APPROVED', note: 'x'.repeat(400) }),
    }),
  );
  const { dynamodb: signed, credentials } = stack.roleClients(stack.fn('GetRequest'));
  const sts = new STSClient({
    region: stack.stack.region,
    endpoint: stack.stack.endpoints.aws,
    credentials,
    maxAttempts: 1,
  });
  const input = { TableName: table, Key: marshall(keys.request(id)), ConsistentRead: true };
  const once = async (client: typeof signed) => {
    const started = performance.now();
    const out = await client.send(new GetItemCommand(input));
    const ms = performance.now() - started;
    if (!out.Item) throw new Error('GetItem found nothing');
    return ms;
  };
  const samples: LocalAwsSamples = { viaLocalAws: [], direct: [], endpointOnly: [] };
  try {
    for (let i = 0; i < options.warmup + options.samples; i++) {
      let a: number;
      let d: number;
      if (i % 2 === 0) {
        a = await once(signed);
        d = await once(stack.raw);
      } else {
        d = await once(stack.raw);
        a = await once(signed);
      }
      const started = performance.now();
      await sts.send(new GetCallerIdentityCommand({}));
      const e = performance.now() - started;
      if (i >= options.warmup) {
        samples.viaLocalAws.push(a);
        samples.direct.push(d);
        samples.endpointOnly.push(e);
      }
    }
  } finally {
    sts.destroy();
  }
  return samples;
}
