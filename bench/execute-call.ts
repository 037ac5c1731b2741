import {
  BatchWriteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { SigV4CallExecutor } from '../lambdas/adapters/call-executor.js';
import { replaceRequestInput } from '../lambdas/adapters/dynamodb-store.js';
import { fromRequestItem, keys } from '../lambdas/adapters/dynamodb-table.js';
import { KmsClient } from '../lambdas/adapters/kms-client.js';
import { KmsMac } from '../lambdas/adapters/kms-mac.js';
import { CALL_WINDOW_SECONDS } from '../lambdas/core/exact-call-execution.js';
import { MIN_SESSION_SECONDS } from '../lambdas/core/grants.js';
import { historyMacInput } from '../lambdas/core/history.js';
import type { AccessRequest, ProcessCredentials } from '../lambdas/core/model.js';
import { buildSessionPolicy, sanitizeSourceIdentity } from '../lambdas/core/session-policy.js';
import { TABLE } from '../test/support/local-stack.js';
import type { BenchStack } from './lib/bench-stack.js';

/**
 * `POST /v1/requests/{id}/execute` of an approved exact call (a `GetItem` of one small item in the
 * `orders` demo table, allowed by the test configuration's `reads` rule) through the assembly,
 * against two floors, both issued raw with the SDK from this process, signed with a session of
 * **execute-call's own execution role**, against the same local AWS endpoint:
 *
 * - **floor** (what the goal is held to): what any design that makes the call for the agent
 *   must do — AssumeRole of the target role with the same session policy (the one action on the one
 *   ARN), source identity and tags, then the same SigV4-signed `GetItem` with that session.
 * - **same AWS calls raw**: the floor plus the calls execute cannot leave out — the consistent read
 *   of the request, the keyed history's check (VerifyMac of each entry, at once), the once-only claim
 *   (GenerateMac of its history entry, the conditional UpdateItem, while AssumeRole runs), the session
 *   record (GenerateMac, BatchWriteItem of the session and its access-key link, while the call runs)
 *   and the recording of the result (GenerateMac, the conditional UpdateItem) — on a request of its
 *   own, with the items the handler writes.
 *
 * Each sample executes one approved request and runs both floors (the second on another approved
 * request), rotating which goes first. CloudTrail records of the execute-call role and of the
 * sessions it mints are tapped as the local AWS answers them, so the section also reports which
 * calls execute made and when each answered, counted from the moment the HTTP request was sent.
 */
export interface ExecuteSamples {
  handler: number[];
  floor: number[];
  sameCalls: number[];
  /** Per handler sample: the AWS calls execute made, in the order they answered, with their offsets. */
  calls: Array<Array<{ call: string; ms: number }>>;
}

export const EXECUTE_TABLE = 'orders';
const KEY = { id: { S: 'bench-execute' } };

interface Tapped {
  eventName: string;
  eventSource: string;
  userIdentity?: { sessionContext?: { sessionIssuer?: { arn?: string } }; arn?: string };
}

export async function measureExecuteCall(
  stack: BenchStack,
  options: { samples: number; warmup: number },
): Promise<ExecuteSamples> {
  const execute = stack.fn('ExecuteCall');
  const table = stack.tableName;
  const region = stack.stack.region;
  const roleArn = stack.stack.config.targets[0]!.roleArn;
  const historyKey = stack.runnable(execute).env.HISTORY_KEY_ID;
  const agentSub = 'bench-execute-agent';
  const agent = await stack.agent(agentSub);
  const input = { TableName: EXECUTE_TABLE, Key: KEY };
  // The table's owner seeds the item straight into DynamoDB Local, outside Countersign.
  await stack.raw.send(
    new PutItemCommand({
      TableName: EXECUTE_TABLE,
      Item: { ...KEY, status: { S: 'shipped' }, email: { S: 'customer@example.com' } },
    }),
  );

  const { dynamodb, credentials } = stack.roleClients(execute);
  const clientConfig = { region, endpoint: stack.stack.endpoints.aws, credentials, maxAttempts: 1 };
  const sts = new STSClient(clientConfig);
  const kms = new KmsClient(clientConfig);
  const mac = historyKey ? new KmsMac(kms, historyKey) : undefined;
  // The function's executor, as it is built in the function (AWS_ENDPOINT_URL is the local AWS).
  const executor = new SigV4CallExecutor({
    defaultRegion: region,
    env: { AWS_ENDPOINT_URL: stack.stack.endpoints.aws },
  });

  const approved = async (): Promise<string> => {
    const answer = await stack.http.call('POST', '/v1/requests', {
      token: agent,
      body: {
        resource: TABLE(EXECUTE_TABLE),
        actions: ['dynamodb:GetItem'],
        reason: 'Look up order bench-execute (INC-2291)',
        call: { input },
      },
    });
    if (answer.status !== 201 || answer.body.status !== 'APPROVED') {
      throw new Error(`exact call not approved: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    return String(answer.body.id);
  };

  // The floor: mint for exactly this call, then make it.
  let n = 0;
  const mint = async (requestId: string) => {
    const notAfter = new Date(Date.now() + CALL_WINDOW_SECONDS * 1000);
    const source = sanitizeSourceIdentity(agentSub);
    const minted = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: requestId,
        SourceIdentity: source,
        Policy: buildSessionPolicy({
          actions: ['dynamodb:GetItem'],
          resource: TABLE(EXECUTE_TABLE),
          notAfter,
        }).json,
        DurationSeconds: MIN_SESSION_SECONDS,
        Tags: [
          { Key: 'countersign:request', Value: requestId },
          { Key: 'countersign:agent', Value: source },
        ],
      }),
    );
    const c = minted.Credentials!;
    return {
      assumedRoleId: minted.AssumedRoleUser?.AssumedRoleId ?? '',
      credentials: {
        Version: 1,
        AccessKeyId: c.AccessKeyId!,
        SecretAccessKey: c.SecretAccessKey!,
        SessionToken: c.SessionToken!,
        Expiration: new Date(c.Expiration!).toISOString(),
      } satisfies ProcessCredentials,
    };
  };
  const call = async (credentials: ProcessCredentials) => {
    const outcome = await executor.execute({
      operation: 'dynamodb:GetItem',
      input,
      region,
      credentials,
    });
    if (!outcome.ok) throw new Error(`floor call failed: ${outcome.awsError.code}`);
  };
  const floorOnce = async () => {
    const started = performance.now();
    const session = await mint(`bench-floor-${n++}`);
    await call(session.credentials);
    return performance.now() - started;
  };

  const sameCallsOnce = async (requestId: string) => {
    const started = performance.now();
    const read = await dynamodb.send(
      new GetItemCommand({ TableName: table, Key: marshall(keys.request(requestId)), ConsistentRead: true }),
    );
    if (!read.Item) throw new Error(`${requestId} not found`);
    const current = fromRequestItem(unmarshall(read.Item));
    const history = current.history ?? [];
    // KmsMac is the function's own adapter: one VerifyMac or GenerateMac per use, nothing else.
    if (mac) {
      await Promise.all(
        history.map((entry, i) =>
          mac.verify(historyMacInput(requestId, history[i - 1]?.mac ?? '', entry), entry.mac ?? ''),
        ),
      );
    }
    const sign = async (text: string) => {
      if (mac) await mac.sign(text);
    };
    const startedAt = new Date().toISOString();
    const claimed: AccessRequest = {
      ...current,
      status: 'EXECUTED',
      execution: { status: 'running', masked: [], startedAt },
      updatedAt: startedAt,
      version: current.version + 1,
    };
    const [session] = await Promise.all([
      mint(requestId),
      (async () => {
        await sign(`claim ${requestId}`);
        await dynamodb.send(
          new UpdateItemCommand(
            replaceRequestInput(table, claimed, { expectedVersion: current.version, from: ['APPROVED'] }),
          ),
        );
      })(),
    ]);
    await Promise.all([
      call(session.credentials),
      (async () => {
        await sign(`session ${requestId}`);
        await dynamodb.send(
          new BatchWriteItemCommand({
            RequestItems: {
              [table]: [
                {
                  PutRequest: {
                    Item: marshall({
                      ...keys.session(requestId, session.credentials.AccessKeyId),
                      requestId,
                      accessKeyId: session.credentials.AccessKeyId,
                      assumedRoleId: session.assumedRoleId,
                      roleArn,
                      sourceIdentity: sanitizeSourceIdentity(agentSub),
                      issuedAt: startedAt,
                      expiresAt: session.credentials.Expiration,
                    }),
                  },
                },
                {
                  PutRequest: {
                    Item: marshall({
                      ...keys.accessKey(session.credentials.AccessKeyId),
                      requestId,
                      expiresAt: Math.floor(Date.now() / 1000) + 7 * 86_400,
                    }),
                  },
                },
              ],
            },
          }),
        );
      })(),
    ]);
    await sign(`result ${requestId}`);
    const at = new Date().toISOString();
    const done: AccessRequest = {
      ...claimed,
      execution: { status: 'succeeded', masked: [], startedAt, at, output: {} },
      updatedAt: at,
      version: claimed.version + 1,
    };
    await dynamodb.send(
      new UpdateItemCommand(
        replaceRequestInput(table, done, { expectedVersion: claimed.version, from: ['EXECUTED'] }),
      ),
    );
    return performance.now() - started;
  };

  // Tap the CloudTrail records of the execute-call role and of the sessions of the target role.
  const delivery = stack.stack.delivery;
  const original = delivery.record;
  let tap: ((r: Tapped) => void) | undefined;
  delivery.record = (record) => {
    tap?.(record as unknown as Tapped);
    original.call(delivery, record);
  };
  const executeRole = execute.roleArn;
  const handlerOnce = async (requestId: string) => {
    const seen: Array<{ call: string; ms: number }> = [];
    const started = performance.now();
    tap = (r) => {
      const issuer = r.userIdentity?.sessionContext?.sessionIssuer?.arn;
      const mine =
        issuer === executeRole || (issuer === roleArn && r.userIdentity?.arn?.endsWith(`/${requestId}`));
      if (mine) seen.push({ call: r.eventName, ms: performance.now() - started });
    };
    const answer = await stack.http.call('POST', `/v1/requests/${requestId}/execute`, { token: agent });
    tap = undefined;
    const execution = answer.body.execution as { status?: string } | undefined;
    if (answer.status !== 200 || execution?.status !== 'succeeded') {
      throw new Error(`execute: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    return { ms: answer.ms, calls: seen };
  };

  const samples: ExecuteSamples = { handler: [], floor: [], sameCalls: [], calls: [] };
  try {
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const [forHandler, forFloor] = [await approved(), await approved()];
      const runs = [
        async () => ({ handler: await handlerOnce(forHandler) }),
        async () => ({ floor: await floorOnce() }),
        async () => ({ sameCalls: await sameCallsOnce(forFloor) }),
      ];
      const got: {
        handler?: { ms: number; calls: Array<{ call: string; ms: number }> };
        floor?: number;
        sameCalls?: number;
      } = {};
      // Rotate which goes first, so none always follows another's background work.
      for (let k = 0; k < runs.length; k++) Object.assign(got, await runs[(i + k) % runs.length]!());
      if (i >= options.warmup) {
        samples.handler.push(got.handler!.ms);
        samples.calls.push(got.handler!.calls);
        samples.floor.push(got.floor!);
        samples.sameCalls.push(got.sameCalls!);
      }
    }
  } finally {
    delivery.record = original;
    sts.destroy();
  }
  return samples;
}

/** The calls execute made, as the most common sequence, with the median offset at which each answered. */
export function callTimeline(calls: ExecuteSamples['calls']): {
  sequence: string;
  timeline: string;
  share: number;
} {
  const bySequence = new Map<string, Array<Array<{ call: string; ms: number }>>>();
  for (const sample of calls) {
    const key = sample.map((c) => c.call).join(',');
    bySequence.set(key, [...(bySequence.get(key) ?? []), sample]);
  }
  const [sequence, group] = [...bySequence.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [
    '',
    [],
  ];
  const names = sequence ? sequence.split(',') : [];
  const timeline = names
    .map((name, i) => {
      const offsets = group.map((s) => s[i]!.ms).sort((a, b) => a - b);
      return `${name} @${offsets[Math.floor(offsets.length / 2)]!.toFixed(1)}`;
    })
    .join(' → ');
  return { sequence, timeline, share: calls.length ? group.length / calls.length : 0 };
}
