import { randomUUID } from 'node:crypto';
import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { marshall } from '@aws-sdk/util-dynamodb';
import { fromRequestItem, keys, toItem } from '../lambdas/adapters/dynamodb-table.js';
import { KmsClient } from '../lambdas/adapters/kms-client.js';
import { KmsMac } from '../lambdas/adapters/kms-mac.js';
import { workflowInput } from '../lambdas/adapters/step-functions-workflow.js';
import { agentKey } from '../lambdas/core/access.js';
import { appendHistory, sealHistory } from '../lambdas/core/history.js';
import { newRequestId } from '../lambdas/core/ids.js';
import type { AccessRequest } from '../lambdas/core/model.js';
import { ALLOW_BODY, APPROVE_BODY, type BenchStack } from './lib/bench-stack.js';

/**
 * `POST /v1/requests` through the assembly (HTTP front door → API Gateway emulation → the
 * request-access bundle in its own Node process → its SDK calls through the local AWS, SigV4 + IAM)
 * against its floor: the same DynamoDB and Step Functions calls the handler must make
 * (lambdas/core/access-requests.ts → dynamodb-store.ts, step-functions-workflow.ts), issued raw
 * from this process with the SDK, signed with a session of request-access's own execution role,
 * against the same local AWS endpoint:
 *
 * - approve rule (PENDING): rate counter UpdateItem, PutItem of the request, StartExecution
 * - allow rule (APPROVED by policy): UpdateItem, PutItem
 * - with an Idempotency-Key: UpdateItem, GetItem of the key, TransactWriteItems, StartExecution
 *
 * The floor has no HTTP hop, no API Gateway event and no process boundary: the ratio charges those
 * to the handler (the `transport` figure measures them alone). Samples alternate which goes first;
 * each StartExecution starts a real execution, and the next sample waits until it has posted.
 */
export type RequestScenario = 'approve' | 'allow' | 'idempotent';

export interface PathSamples {
  /** Round trip of POST /v1/requests seen by the client. */
  handler: number[];
  floor: number[];
  floorCalls: string[];
}

const BODIES: Record<RequestScenario, object> = {
  approve: APPROVE_BODY,
  allow: ALLOW_BODY,
  idempotent: APPROVE_BODY,
};

const RATE_TTL_SECONDS = 120;

export async function measureRequestPath(
  stack: BenchStack,
  options: { scenario: RequestScenario; samples: number; warmup: number; agents: number },
): Promise<PathSamples> {
  const { scenario } = options;
  const table = stack.tableName;
  const issuer = stack.stack.issuer.issuer;
  const body = BODIES[scenario];
  const startsWorkflow = scenario !== 'allow';
  const fn = stack.fn('RequestAccess');
  const { dynamodb, sfn, credentials } = stack.roleClients(fn);
  // The handler seals the request's first history entry with the history key (a GenerateMac); the
  // floor does too, or the workflow it starts would refuse to extend an unsealed history.
  const historyKey = stack.runnable(fn).env.HISTORY_KEY_ID;
  const mac = historyKey
    ? new KmsMac(
        new KmsClient({ region: stack.stack.region, endpoint: stack.stack.endpoints.aws, credentials }),
        historyKey,
      )
    : undefined;
  const agents = await Promise.all(
    Array.from({ length: options.agents }, (_, i) => stack.agent(`rp-${scenario}-agent-${i}`)),
  );

  // The item the floor writes is one the handler wrote, with a new id, requester and times.
  const template = await stack.create(agents[0]!, body);
  const stored = await stack.getItem(template.id);
  if (!stored) throw new Error('template request not found');
  const templateRequest = fromRequestItem(stored);
  let stateMachineArn = '';
  if (startsWorkflow) {
    await stack.waitShown(template.id);
    stateMachineArn = stack.stateMachineArnOf(template.id);
  }

  const floorCalls = [
    ...(mac ? ['GenerateMac (history)'] : []),
    ...(scenario === 'approve'
      ? ['UpdateItem (rate)', 'PutItem (request)', 'StartExecution']
      : scenario === 'allow'
        ? ['UpdateItem (rate)', 'PutItem (request)']
        : [
            'UpdateItem (rate)',
            'GetItem (idempotency key)',
            'TransactWriteItems (request + key)',
            'StartExecution',
          ]),
  ];

  const floorOnce = async (i: number) => {
    const now = new Date();
    const at = now.toISOString();
    const requester = {
      ...templateRequest.requester,
      sub: `rp-${scenario}-floor-${i % options.agents}`,
      issuer,
    };
    const { history: _templateHistory, ...fields } = templateRequest;
    const request: AccessRequest = {
      ...fields,
      id: newRequestId(),
      requester,
      createdAt: at,
      updatedAt: at,
    };
    const agent = agentKey(requester);
    const started = performance.now();
    const history = appendHistory([], request, `created:${request.status}`, at);
    request.history = mac ? await sealHistory(request.id, history, mac) : history;
    await floorCallsOf(dynamodb, sfn, { scenario, table, request, agent, now, stateMachineArn });
    return { ms: performance.now() - started, id: request.id };
  };

  const handlerOnce = async (i: number) => {
    const answer = await stack.http.call('POST', '/v1/requests', {
      token: agents[i % agents.length]!,
      body,
      ...(scenario === 'idempotent' ? { headers: { 'idempotency-key': `bench-${randomUUID()}` } } : {}),
    });
    if (answer.status !== 201)
      throw new Error(`POST /v1/requests: ${answer.status} ${JSON.stringify(answer.body)}`);
    return { ms: answer.ms, id: String(answer.body.id) };
  };

  const samples: PathSamples = { handler: [], floor: [], floorCalls };
  for (let i = 0; i < options.warmup + options.samples; i++) {
    let h: { ms: number; id: string };
    let f: { ms: number; id: string };
    // Alternate which goes first, so neither always follows the other's background work.
    if (i % 2 === 0) {
      h = await handlerOnce(i);
      f = await floorOnce(i);
    } else {
      f = await floorOnce(i);
      h = await handlerOnce(i);
    }
    if (i >= options.warmup) {
      samples.handler.push(h.ms);
      samples.floor.push(f.ms);
    }
    if (startsWorkflow) await Promise.all([stack.waitShown(h.id), stack.waitShown(f.id)]);
  }
  return samples;
}

async function floorCallsOf(
  dynamodb: DynamoDBClient,
  sfn: SFNClient,
  o: {
    scenario: RequestScenario;
    table: string;
    request: AccessRequest;
    agent: string;
    now: Date;
    stateMachineArn: string;
  },
): Promise<void> {
  const at = o.now.toISOString();
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: o.table,
      Key: marshall(keys.rate(o.agent, at.slice(0, 16))),
      UpdateExpression: 'ADD #count :one SET expiresAt = :ttl',
      ExpressionAttributeNames: { '#count': 'count' },
      ExpressionAttributeValues: marshall({
        ':one': 1,
        ':ttl': Math.floor(o.now.getTime() / 1000) + RATE_TTL_SECONDS,
      }),
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const put = {
    TableName: o.table,
    Item: toItem(o.request),
    ConditionExpression: 'attribute_not_exists(PK)',
  };
  if (o.scenario === 'idempotent') {
    const idempotencyKey = `bench-${randomUUID()}`;
    await dynamodb.send(
      new GetItemCommand({
        TableName: o.table,
        Key: marshall(keys.idempotency(o.agent, idempotencyKey)),
        ConsistentRead: true,
      }),
    );
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: put },
          {
            Put: {
              TableName: o.table,
              Item: marshall({
                ...keys.idempotency(o.agent, idempotencyKey),
                requestId: o.request.id,
                bodyHash: 'f'.repeat(64),
                expiresAt: Math.floor(o.now.getTime() / 1000) + 86_400,
              }),
              ConditionExpression: 'attribute_not_exists(PK)',
            },
          },
        ],
      }),
    );
  } else {
    await dynamodb.send(new PutItemCommand(put));
  }
  if (o.scenario !== 'allow') {
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: o.stateMachineArn,
        name: o.request.id,
        input: workflowInput(o.request),
      }),
    );
  }
}
