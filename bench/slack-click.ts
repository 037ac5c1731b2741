import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { fromRequestItem, keys, toItem } from '../lambdas/adapters/dynamodb-store.js';
import { computeGrant } from '../lambdas/core/grants.js';
import { appendHistory } from '../lambdas/core/history.js';
import type { AccessRequest } from '../lambdas/core/model.js';
import { signedInteraction } from '../test/support/slack.js';
import { apiEvent } from './lib/api-event.js';
import { APPROVE_BODY, APPROVER, type BenchStack, inBatches, until } from './lib/bench-stack.js';
import type { FloorStep, LambdaHost } from './lib/lambda-env.js';

/**
 * `POST /v1/slack/interactions` (a signed Approve click that settles the request) against its
 * floor: the conditional write that records the approval (the UpdateItem dynamodb-store.ts
 * `replace` sends, with the same fields) plus `SendTaskSuccess`, raw with the SDK. Also timed, for
 * the explanation: the reads the handler needs before it may write (the request, consistently, and
 * the task token) and the ephemeral answer to the clicker (chat.postEphemeral to the Slack sink).
 * Handler and floor both run warm in the Lambda host, alternating.
 */
export interface ClickSamples {
  handler: number[];
  /** Conditional write + SendTaskSuccess. */
  floor: number[];
  /** Every call the click path makes, as it makes them: 2 consistent reads at once, write, SendTaskSuccess, postEphemeral. */
  fullFloor: number[];
  handlerRtt: number[];
}

/** The UpdateItem dynamodb-store.ts `replace` sends: SET every field, conditioned on version and status. */
export function replaceInput(table: string, next: AccessRequest, expectedVersion: number) {
  const { PK: _pk, SK: _sk, ...fields } = unmarshall(toItem(next));
  const names: Record<string, string> = { '#version': 'version', '#status': 'status' };
  const values: Record<string, unknown> = { ':expected': expectedVersion, ':s0': 'PENDING' };
  const sets: string[] = [];
  Object.entries(fields).forEach(([field, value], i) => {
    names[`#f${i}`] = field;
    values[`:f${i}`] = value;
    sets.push(`#f${i} = :f${i}`);
  });
  return {
    TableName: table,
    Key: marshall(keys.request(next.id)),
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: '#version = :expected AND #status IN (:s0)',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
  };
}

export async function measureSlackClick(
  stack: BenchStack,
  host: LambdaHost,
  options: { samples: number; warmup: number; agents: number },
): Promise<ClickSamples> {
  const settings = stack.settings;
  const table = settings.tableName;
  const total = options.warmup + options.samples;
  const agents = await Promise.all(
    Array.from({ length: options.agents }, (_, i) => stack.agent(`click-agent-${i}`)),
  );

  // Two pending requests per sample, each shown to approvers (task token stored): one clicked
  // through the handler, one approved by the floor's raw calls.
  const pending = await inBatches(total * 2, 4, async (i) => {
    const { id } = await stack.create(agents[i % agents.length]!, APPROVE_BODY);
    await stack.waitForTaskToken(id, 30_000, 20);
    return id;
  });

  const grantDone = (id: string) =>
    until(
      () => stack.traces.get(id)?.states.includes('WaitUntilNotAfter') ?? false,
      15_000,
      `grant of ${id}`,
    );

  const handlerOnce = async (id: string) => {
    const signed = signedInteraction({
      secret: stack.test.stack.slackSigningSecret,
      requestId: id,
      userId: APPROVER.slackUser,
    });
    const event = apiEvent('POST', '/v1/slack/interactions', {
      rawBody: signed.body,
      headers: signed.headers,
    });
    const { ms, rttMs, result } = await host.invoke('slack-interactions', event);
    const answer = JSON.parse(result.body) as { outcome?: string };
    if (result.statusCode !== 200 || answer.outcome !== 'approved') {
      throw new Error(`click: ${result.statusCode} ${result.body}`);
    }
    return { ms, rttMs };
  };

  const floorOnce = async (id: string) => {
    // What the floor writes is what the decision computes; computed here, outside the timing.
    const current = fromRequestItem((await stack.getItem(id))!);
    const tokenItem = await stack.tokenOf(id);
    const now = new Date();
    const at = now.toISOString();
    const draft: AccessRequest = {
      ...current,
      status: 'APPROVED',
      decisions: [
        ...current.decisions,
        { approver: APPROVER.sub, decision: 'approve', channel: 'slack', at, reviewSeconds: 1 },
      ],
      grant: computeGrant(settings.config, current, now),
      updatedAt: at,
      version: current.version + 1,
    };
    const next = { ...draft, history: appendHistory(current.history ?? [], draft, 'approved', at) };
    const steps: Array<FloorStep | FloorStep[]> = [
      // The click path reads the request and the task token at the same time (decisions.ts).
      [
        {
          group: 'reads',
          client: 'dynamodb',
          command: 'GetItem',
          input: { TableName: table, Key: marshall(keys.request(id)), ConsistentRead: true },
        },
        {
          group: 'reads',
          client: 'dynamodb',
          command: 'GetItem',
          input: { TableName: table, Key: marshall(keys.token(id)), ConsistentRead: true },
        },
      ],
      {
        group: 'floor',
        client: 'dynamodb',
        command: 'UpdateItem',
        input: replaceInput(table, next, current.version),
      },
      {
        group: 'floor',
        client: 'sfn',
        command: 'SendTaskSuccess',
        input: {
          taskToken: tokenItem,
          output: JSON.stringify({ status: 'APPROVED', notAfter: next.grant?.notAfter }),
        },
      },
      {
        group: 'slack',
        slack: 'chat.postEphemeral',
        token: settings.slack.botToken!,
        body: { channel: 'C0123456789', user: APPROVER.slackUser, text: 'Approved.' },
      },
    ];
    const { ms } = await host.floor(steps);
    return { floor: ms.floor!, full: ms.floor! + ms.reads! + ms.slack! };
  };

  const samples: ClickSamples = { handler: [], floor: [], fullFloor: [], handlerRtt: [] };
  for (let i = 0; i < total; i++) {
    const handlerId = pending[2 * i]!;
    const floorId = pending[2 * i + 1]!;
    let h: Awaited<ReturnType<typeof handlerOnce>>;
    let f: Awaited<ReturnType<typeof floorOnce>>;
    if (i % 2 === 0) {
      h = await handlerOnce(handlerId);
      f = await floorOnce(floorId);
    } else {
      f = await floorOnce(floorId);
      h = await handlerOnce(handlerId);
    }
    if (i >= options.warmup) {
      samples.handler.push(h.ms);
      samples.handlerRtt.push(h.rttMs);
      samples.floor.push(f.floor);
      samples.fullFloor.push(f.full);
    }
    // The approval resumes each workflow (Grant step): let it finish before the next sample.
    await grantDone(handlerId);
    await grantDone(floorId);
  }
  return samples;
}
