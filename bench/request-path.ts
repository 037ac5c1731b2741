import { randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import { fromRequestItem, keys, toItem } from '../lambdas/adapters/dynamodb-store.js';
import { workflowInput } from '../lambdas/adapters/step-functions-workflow.js';
import { agentKey } from '../lambdas/core/access.js';
import { newRequestId } from '../lambdas/core/ids.js';
import type { AccessRequest } from '../lambdas/core/model.js';
import { apiEvent } from './lib/api-event.js';
import { ALLOW_BODY, APPROVE_BODY, type BenchStack } from './lib/bench-stack.js';
import type { FloorStep, LambdaHost } from './lib/lambda-env.js';

/**
 * `POST /v1/requests` against its floor: the same DynamoDB and Step Functions calls the handler
 * must make (lambdas/core/access-requests.ts → dynamodb-store.ts, step-functions-workflow.ts),
 * issued raw with the SDK against the same local stack, same item shapes, same client options:
 *
 * - approve rule (PENDING): rate counter UpdateItem, PutItem of the request, StartExecution
 * - allow rule (APPROVED by policy): UpdateItem, PutItem
 * - with an Idempotency-Key: UpdateItem, GetItem of the key, TransactWriteItems (request + key),
 *   StartExecution
 *
 * Both run warm in the Lambda host (the production bundle in its own Node process) and are timed
 * there, sample after sample, alternating which goes first. Each StartExecution (handler's or
 * floor's) starts a real execution whose notify step runs in the local stack; the next sample waits
 * until it has posted, so that work does not queue up behind the requests being timed.
 */
export type RequestScenario = 'approve' | 'allow' | 'idempotent';

export interface PathSamples {
  /** The handler's duration in the Lambda host. */
  handler: number[];
  floor: number[];
  /** Round trips seen by the client (the handler's answer is larger than the floor's). */
  handlerRtt: number[];
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
  host: LambdaHost,
  options: { scenario: RequestScenario; samples: number; warmup: number; agents: number },
): Promise<PathSamples> {
  const { scenario } = options;
  const settings = stack.settings;
  const table = settings.tableName;
  const issuer = settings.jwt.issuer;
  const body = BODIES[scenario];
  const startsWorkflow = scenario !== 'allow';
  const agents = await Promise.all(
    Array.from({ length: options.agents }, (_, i) => stack.agent(`rp-${scenario}-agent-${i}`)),
  );

  // The item the floor writes is one the handler wrote, with a new id, requester and times.
  const template = await stack.create(agents[0]!, body);
  const stored = await stack.getItem(template.id);
  if (!stored) throw new Error('template request not found');
  const templateRequest = fromRequestItem(stored);
  if (startsWorkflow) await stack.waitForTaskToken(template.id);

  const floorCalls =
    scenario === 'approve'
      ? ['UpdateItem (rate)', 'PutItem (request)', 'StartExecution']
      : scenario === 'allow'
        ? ['UpdateItem (rate)', 'PutItem (request)']
        : [
            'UpdateItem (rate)',
            'GetItem (idempotency key)',
            'TransactWriteItems (request + key)',
            'StartExecution',
          ];

  const floorSteps = (i: number): { steps: FloorStep[]; id: string } => {
    const now = new Date();
    const at = now.toISOString();
    const requester = {
      ...templateRequest.requester,
      sub: `rp-${scenario}-floor-${i % options.agents}`,
      issuer,
    };
    const request: AccessRequest = {
      ...templateRequest,
      id: newRequestId(),
      requester,
      createdAt: at,
      updatedAt: at,
    };
    const agent = agentKey(requester);
    const idempotencyKey = `bench-${randomUUID()}`;
    const put = { TableName: table, Item: toItem(request), ConditionExpression: 'attribute_not_exists(PK)' };
    const steps: FloorStep[] = [
      {
        group: 'floor',
        client: 'dynamodb',
        command: 'UpdateItem',
        input: {
          TableName: table,
          Key: marshall(keys.rate(agent, at.slice(0, 16))),
          UpdateExpression: 'ADD #count :one SET expiresAt = :ttl',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: marshall({
            ':one': 1,
            ':ttl': Math.floor(now.getTime() / 1000) + RATE_TTL_SECONDS,
          }),
          ReturnValues: 'UPDATED_NEW',
        },
      },
    ];
    if (scenario === 'idempotent') {
      steps.push(
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'GetItem',
          input: {
            TableName: table,
            Key: marshall(keys.idempotency(agent, idempotencyKey)),
            ConsistentRead: true,
          },
        },
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'TransactWriteItems',
          input: {
            TransactItems: [
              { Put: put },
              {
                Put: {
                  TableName: table,
                  Item: marshall({
                    ...keys.idempotency(agent, idempotencyKey),
                    requestId: request.id,
                    bodyHash: 'f'.repeat(64),
                    expiresAt: Math.floor(now.getTime() / 1000) + 86_400,
                  }),
                  ConditionExpression: 'attribute_not_exists(PK)',
                },
              },
            ],
          },
        },
      );
    } else {
      steps.push({ group: 'floor', client: 'dynamodb', command: 'PutItem', input: put });
    }
    if (startsWorkflow) {
      steps.push({
        group: 'floor',
        client: 'sfn',
        command: 'StartExecution',
        input: { stateMachineArn: settings.stateMachineArn, name: request.id, input: workflowInput(request) },
      });
    }
    return { steps, id: request.id };
  };

  const handlerOnce = async (i: number) => {
    const event = apiEvent('POST', '/v1/requests', {
      token: agents[i % agents.length]!,
      body,
      ...(scenario === 'idempotent' ? { headers: { 'idempotency-key': `bench-${randomUUID()}` } } : {}),
    });
    const { ms, result, rttMs } = await host.invoke('request-access', event);
    if (result.statusCode !== 201) throw new Error(`POST /v1/requests: ${result.statusCode} ${result.body}`);
    return { ms, rttMs, id: String((JSON.parse(result.body) as { id: string }).id) };
  };

  const floorOnce = async (i: number) => {
    const { steps, id } = floorSteps(i);
    const { ms } = await host.floor(steps);
    return { ms: ms.floor!, id };
  };

  const samples: PathSamples = { handler: [], floor: [], handlerRtt: [], floorCalls };
  for (let i = 0; i < options.warmup + options.samples; i++) {
    let h: Awaited<ReturnType<typeof handlerOnce>>;
    let f: Awaited<ReturnType<typeof floorOnce>>;
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
      samples.handlerRtt.push(h.rttMs);
    }
    if (startsWorkflow) {
      await stack.waitForTaskToken(h.id);
      await stack.waitForTaskToken(f.id);
    }
  }
  return samples;
}
