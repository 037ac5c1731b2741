import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { replaceRequestInput } from '../lambdas/adapters/dynamodb-store.js';
import { fromRequestItem, keys } from '../lambdas/adapters/dynamodb-table.js';
import { computeGrant } from '../lambdas/core/grants.js';
import { appendHistory } from '../lambdas/core/history.js';
import type { AccessRequest } from '../lambdas/core/model.js';
import { APPROVE_BODY, APPROVER, type BenchStack, inBatches } from './lib/bench-stack.js';

/**
 * `POST /v1/slack/interactions` (a signed Approve click that settles the request) through the
 * assembly, against its floor: the reads the handler needs before it may write (the request,
 * consistently, and the task token, at once), the conditional write that records the approval (the
 * UpdateItem dynamodb-store.ts `replace` sends, with the same fields) and `SendTaskSuccess` — raw
 * with the SDK from this process, signed with a session of slack-interactions' own execution role,
 * through the same local AWS endpoint. Each sample clicks one pending request and floors another;
 * both workflows' Grant steps are let finish before the next sample.
 */
export interface ClickSamples {
  /** Round trip of the click seen by the client (Slack). */
  handler: number[];
  floor: number[];
}

export async function measureSlackClick(
  stack: BenchStack,
  options: { samples: number; warmup: number; agents: number },
): Promise<ClickSamples> {
  const table = stack.tableName;
  const config = stack.stack.config;
  const { dynamodb, sfn } = stack.roleClients(stack.fn('SlackInteractions'));
  const total = options.warmup + options.samples;
  const agents = await Promise.all(
    Array.from({ length: options.agents }, (_, i) => stack.agent(`click-agent-${i}`)),
  );
  const pending = await inBatches(total * 2, 2, async (i) => {
    const { id } = await stack.create(agents[i % agents.length]!, APPROVE_BODY);
    await stack.waitShown(id, 60_000, 20);
    return id;
  });

  const handlerOnce = async (id: string) => {
    const answer = await stack.click(id);
    if (answer.status !== 200 || answer.body.outcome !== 'approved') {
      throw new Error(`click: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    return answer.ms;
  };

  const floorOnce = async (id: string) => {
    const started = performance.now();
    const [requestOut, tokenOut] = await Promise.all([
      dynamodb.send(
        new GetItemCommand({ TableName: table, Key: marshall(keys.request(id)), ConsistentRead: true }),
      ),
      dynamodb.send(
        new GetItemCommand({ TableName: table, Key: marshall(keys.token(id)), ConsistentRead: true }),
      ),
    ]);
    if (!requestOut.Item || !tokenOut.Item) throw new Error(`floor: ${id} or its token is missing`);
    const current = fromRequestItem(unmarshall(requestOut.Item));
    const now = new Date();
    const at = now.toISOString();
    const draft: AccessRequest = {
      ...current,
      status: 'APPROVED',
      decisions: [
        ...current.decisions,
        { approver: APPROVER.sub, decision: 'approve', channel: 'slack', at, reviewSeconds: 1 },
      ],
      grant: computeGrant(config, current, now),
      updatedAt: at,
      version: current.version + 1,
    };
    const next = { ...draft, history: appendHistory(current.history ?? [], draft, 'approved', at) };
    await dynamodb.send(
      new UpdateItemCommand(
        replaceRequestInput(table, next, { expectedVersion: current.version, from: ['PENDING'] }),
      ),
    );
    await sfn.send(
      new SendTaskSuccessCommand({
        taskToken: String(unmarshall(tokenOut.Item).token),
        output: JSON.stringify({ status: 'APPROVED', notAfter: next.grant?.notAfter }),
      }),
    );
    return performance.now() - started;
  };

  const samples: ClickSamples = { handler: [], floor: [] };
  for (let i = 0; i < total; i++) {
    const handlerId = pending[2 * i]!;
    const floorId = pending[2 * i + 1]!;
    let h: number;
    let f: number;
    if (i % 2 === 0) {
      h = await handlerOnce(handlerId);
      f = await floorOnce(floorId);
    } else {
      f = await floorOnce(floorId);
      h = await handlerOnce(handlerId);
    }
    if (i >= options.warmup) {
      samples.handler.push(h);
      samples.floor.push(f);
    }
    // The Grant step (a Lambda task and a Slack update) runs in the background after each click;
    // let it finish so it does not queue behind the next sample.
    await Promise.all([stack.waitGranted(handlerId), stack.waitGranted(floorId)]);
  }
  // And the expiries (after the shortened WaitUntilNotAfter), before the next section.
  await Promise.all(pending.map((id) => stack.executionDone(id, 60_000)));
  return samples;
}
