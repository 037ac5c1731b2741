import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { buildSteps } from '../lambdas/adapters/compose.js';
import { fromRequestItem, toItem } from '../lambdas/adapters/dynamodb-store.js';
import { newRequestId } from '../lambdas/core/ids.js';
import { createNotifyApproversHandler } from '../lambdas/handlers/notify-approvers.js';
import { signedInteraction } from '../test/support/slack.js';
import { ALLOW_BODY, APPROVE_BODY, APPROVER, type BenchStack } from './lib/bench-stack.js';
import { call } from './lib/http.js';
import { DynamoMeter, type MeterReading } from './lib/meter.js';

/**
 * What one request costs on AWS, from counts measured on the local stack (Lambda invocations and
 * their durations, state transitions of the real ASL run, DynamoDB's own ConsumedCapacity) and the
 * public list prices below (us-east-1).
 */
export const PRICES = {
  asOf: 'AWS public pricing pages, us-east-1 list prices, read 2026-11 (this machine has no network: re-check before quoting)',
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    source: 'https://aws.amazon.com/lambda/pricing/ (Arm, first 7.5B GB-s/month)',
  },
  lambdaRequest: { usd: 0.2 / 1e6, source: 'https://aws.amazon.com/lambda/pricing/ ($0.20 per 1M requests)' },
  apiGatewayRestRequest: {
    usd: 3.5 / 1e6,
    source: 'https://aws.amazon.com/api-gateway/pricing/ (REST, first 333M/month)',
  },
  stepFunctionsTransition: {
    usd: 0.025 / 1000,
    source: 'https://aws.amazon.com/step-functions/pricing/ (Standard)',
  },
  dynamoWriteUnit: { usd: 0.625 / 1e6, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ (WRU)' },
  dynamoReadUnit: { usd: 0.125 / 1e6, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ (RRU)' },
  logsIngestedGb: {
    usd: 0.5,
    source: 'https://aws.amazon.com/cloudwatch/pricing/ (Logs, standard ingestion)',
  },
  xrayTrace: { usd: 5 / 1e6, source: 'https://aws.amazon.com/xray/pricing/ (traces recorded)' },
} as const;

/** Bytes AWS itself logs that the local stack does not: Lambda START/END/REPORT (with X-Ray), API access log, Step Functions events. */
const LAMBDA_PLATFORM_LOG_BYTES = 450;
const API_ACCESS_LOG_BYTES = 350;
const SFN_LOG_BYTES_PER_TRANSITION = 3 * 300;

export interface Invocation {
  fn: string;
  ms: number;
}

export interface FlowMeasurement {
  flows: number;
  invocations: Invocation[];
  apiRequests: number;
  transitions: number;
  dynamo: MeterReading;
  handlerLogBytes: number;
}

export interface CostLine {
  line: string;
  quantity: string;
  usdPer1000: number;
}

/** Dollars per 1,000 requests from a measurement, line by line, biggest first. */
export function costOf(m: FlowMeasurement, memoryMb: (fn: string) => number): CostLine[] {
  const per = (total: number) => (total / m.flows) * 1000;
  const gbSeconds = m.invocations.reduce(
    (sum, i) => sum + (Math.ceil(i.ms) / 1000) * (memoryMb(i.fn) / 1024),
    0,
  );
  const traces = m.apiRequests + (m.transitions > 0 ? m.flows : 0);
  const logBytes =
    m.handlerLogBytes +
    m.invocations.length * LAMBDA_PLATFORM_LOG_BYTES +
    m.apiRequests * API_ACCESS_LOG_BYTES +
    m.transitions * SFN_LOG_BYTES_PER_TRANSITION;
  const byFn = new Map<string, { n: number; ms: number }>();
  for (const i of m.invocations) {
    const e = byFn.get(i.fn) ?? { n: 0, ms: 0 };
    e.n += 1;
    e.ms += Math.ceil(i.ms);
    byFn.set(i.fn, e);
  }
  const fnList = [...byFn]
    .map(([fn, e]) => `${fn} ${(e.n / m.flows).toFixed(1)}×${Math.round(e.ms / e.n)} ms`)
    .join(', ');
  const lines: CostLine[] = [
    {
      line: 'API Gateway REST requests',
      quantity: `${(m.apiRequests / m.flows).toFixed(1)} per request`,
      usdPer1000: per(m.apiRequests * PRICES.apiGatewayRestRequest.usd),
    },
    {
      line: 'Lambda duration (arm64)',
      quantity: `${((gbSeconds / m.flows) * 1000).toFixed(1)} GB-ms per request: ${fnList}`,
      usdPer1000: per(gbSeconds * PRICES.lambdaArmGbSecond.usd),
    },
    {
      line: 'Lambda requests',
      quantity: `${(m.invocations.length / m.flows).toFixed(1)} invocations per request`,
      usdPer1000: per(m.invocations.length * PRICES.lambdaRequest.usd),
    },
    {
      line: 'Step Functions Standard transitions',
      quantity: `${(m.transitions / m.flows).toFixed(1)} per request`,
      usdPer1000: per(m.transitions * PRICES.stepFunctionsTransition.usd),
    },
    {
      line: 'DynamoDB writes (on-demand)',
      quantity: `${(m.dynamo.writeUnits / m.flows).toFixed(1)} WRU per request`,
      usdPer1000: per(m.dynamo.writeUnits * PRICES.dynamoWriteUnit.usd),
    },
    {
      line: 'DynamoDB reads (on-demand)',
      quantity: `${(m.dynamo.readUnits / m.flows).toFixed(1)} RRU per request`,
      usdPer1000: per(m.dynamo.readUnits * PRICES.dynamoReadUnit.usd),
    },
    {
      line: 'X-Ray traces (tracing on; every request sampled)',
      quantity: `${(traces / m.flows).toFixed(1)} traces per request`,
      usdPer1000: per(traces * PRICES.xrayTrace.usd),
    },
    {
      line: 'CloudWatch Logs ingestion',
      quantity: `${(logBytes / m.flows / 1024).toFixed(1)} KB per request`,
      usdPer1000: per((logBytes / 1024 ** 3) * PRICES.logsIngestedGb.usd),
    },
  ];
  return lines.sort((a, b) => b.usdPer1000 - a.usdPer1000);
}

export const total = (lines: CostLine[]) => lines.reduce((sum, l) => sum + l.usdPer1000, 0);

/**
 * Approved requests, machine part: the agent asks and long-polls, the approver clicks at once, the
 * agent claims one session, the grant expires. Counted over `flows` sequential flows, with the
 * meter on the DynamoDB client every handler of the local stack shares.
 */
export async function measureApprovedFlows(stack: BenchStack, flows: number): Promise<FlowMeasurement> {
  const meter = new DynamoMeter();
  const detach = meter.attach(stack.handlerDynamo);
  const invocations: Invocation[] = [];
  let transitions = 0;
  const logStart = stack.logBytes;
  try {
    for (let i = 0; i < flows; i++) {
      const token = await stack.agent(`cost-approved-agent-${i}`);
      const created = await call(stack.url, 'POST', '/v1/requests', { token, body: APPROVE_BODY });
      invocations.push({ fn: 'requestAccess', ms: created.ms });
      const id = String(created.body.id);
      const poll = (async () => {
        for (;;) {
          const answer = await call(stack.url, 'GET', `/v1/requests/${id}?waitSeconds=20`, { token });
          invocations.push({ fn: 'getRequest', ms: answer.ms });
          if (answer.body.status !== 'PENDING') return;
        }
      })();
      await stack.waitForTaskToken(id, 30_000, 20);
      const signed = signedInteraction({
        secret: stack.test.stack.slackSigningSecret,
        requestId: id,
        userId: APPROVER.slackUser,
      });
      const click = await call(stack.url, 'POST', '/v1/slack/interactions', {
        rawBody: signed.body,
        headers: signed.headers,
      });
      invocations.push({ fn: 'slackInteractions', ms: click.ms });
      await poll;
      const claim = await call(stack.url, 'POST', `/v1/requests/${id}/credentials`, { token });
      if (claim.status !== 200) throw new Error(`claim: ${claim.status}`);
      invocations.push({ fn: 'claimCredentials', ms: claim.ms });
      const trace = await stack.whenExecutionDone(id);
      transitions += trace.stateEntered + trace.stateRetried;
      for (const state of ['Grant', 'Expire', 'TimeOut', 'Denied', 'Abort']) {
        if (trace.stateMs[state] !== undefined)
          invocations.push({ fn: 'settleRequest', ms: trace.stateMs[state] });
      }
    }
  } finally {
    detach();
  }
  // The notify step's duration: the stack runs it inside the workflow, so it is timed here on
  // requests of the same shape, through the same handler and the same (memoized) parts.
  const notifyMs = await timeNotify(stack, flows);
  for (const ms of notifyMs) invocations.push({ fn: 'notifyApprovers', ms });
  return {
    flows,
    invocations,
    apiRequests: invocations.filter((i) => i.fn !== 'settleRequest' && i.fn !== 'notifyApprovers').length,
    transitions,
    dynamo: meter.read(),
    handlerLogBytes: stack.logBytes - logStart,
  };
}

/** Times the notify-approvers handler on PENDING requests written directly (no workflow of their own). */
async function timeNotify(stack: BenchStack, count: number): Promise<number[]> {
  const settings = stack.settings;
  const notify = createNotifyApproversHandler(
    buildSteps(settings, {
      botToken: settings.slack.botToken!,
      signingSecret: settings.slack.signingSecret!,
    }),
  );
  const template = await stack.create(await stack.agent('cost-notify-agent'), APPROVE_BODY);
  await stack.waitForTaskToken(template.id);
  const stored = fromRequestItem((await stack.getItem(template.id))!);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = new Date().toISOString();
    const { slack: _slack, shownAt: _shown, ...fresh } = stored;
    const request = { ...fresh, id: newRequestId(), createdAt: at, updatedAt: at, version: 1 };
    await stack.raw.send(new PutItemCommand({ TableName: settings.tableName, Item: toItem(request) }));
    const started = performance.now();
    await notify({ requestId: request.id, taskToken: `bench-cost-token-${i}` });
    out.push(performance.now() - started);
  }
  return out;
}

/** Auto-allowed requests: the policy allows at once, the agent claims one session. */
export async function measureAllowedFlows(stack: BenchStack, flows: number): Promise<FlowMeasurement> {
  const meter = new DynamoMeter();
  const detach = meter.attach(stack.handlerDynamo);
  const invocations: Invocation[] = [];
  const logStart = stack.logBytes;
  try {
    for (let i = 0; i < flows; i++) {
      const token = await stack.agent(`cost-allowed-agent-${i}`);
      const created = await call(stack.url, 'POST', '/v1/requests', { token, body: ALLOW_BODY });
      if (created.body.status !== 'APPROVED')
        throw new Error(`expected APPROVED, got ${String(created.body.status)}`);
      invocations.push({ fn: 'requestAccess', ms: created.ms });
      const claim = await call(stack.url, 'POST', `/v1/requests/${String(created.body.id)}/credentials`, {
        token,
      });
      if (claim.status !== 200) throw new Error(`claim: ${claim.status}`);
      invocations.push({ fn: 'claimCredentials', ms: claim.ms });
    }
  } finally {
    detach();
  }
  return {
    flows,
    invocations,
    apiRequests: invocations.length,
    transitions: 0,
    dynamo: meter.read(),
    handlerLogBytes: stack.logBytes - logStart,
  };
}

/**
 * What each second of an agent long-polling a PENDING request costs: one request held open for
 * `seconds` (waitSeconds), its reads counted by the meter.
 */
export async function measureWaiting(stack: BenchStack, seconds: number): Promise<FlowMeasurement> {
  const token = await stack.agent('cost-waiting-agent');
  const { id } = await stack.create(token, APPROVE_BODY);
  await stack.waitForTaskToken(id);
  const meter = new DynamoMeter();
  const detach = meter.attach(stack.handlerDynamo);
  const logStart = stack.logBytes;
  let answer: Awaited<ReturnType<typeof call>>;
  try {
    answer = await call(stack.url, 'GET', `/v1/requests/${id}?waitSeconds=${seconds}`, { token });
  } finally {
    detach();
  }
  return {
    flows: 1,
    invocations: [{ fn: 'getRequest', ms: answer.ms }],
    apiRequests: 1,
    transitions: 0,
    dynamo: meter.read(),
    handlerLogBytes: stack.logBytes - logStart,
  };
}

/** The long-poll server-side wait, seconds (DESIGN.md §4: waitSeconds ≤ 20). */
export const MAX_WAIT_SECONDS = 20;

/**
 * One minute of an agent long-polling a PENDING request, from a measured wait of `seconds`: the
 * get-request function held open the whole minute, the reads at the rate measured, and one API
 * call (and invocation, trace, log lines) per 20-second poll.
 */
export function waitingMinute(waiting: FlowMeasurement, seconds: number): FlowMeasurement {
  const polls = 60 / MAX_WAIT_SECONDS;
  return {
    flows: 1,
    invocations: Array.from({ length: polls }, () => ({ fn: 'getRequest', ms: MAX_WAIT_SECONDS * 1000 })),
    apiRequests: polls,
    transitions: 0,
    dynamo: { ...waiting.dynamo, readUnits: (waiting.dynamo.readUnits / seconds) * 60, writeUnits: 0 },
    handlerLogBytes: waiting.handlerLogBytes * polls,
  };
}
