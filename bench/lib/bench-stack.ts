import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { StateMachine } from 'aws-local-stepfunctions';
import { dynamoClient } from '../../lambdas/adapters/compose.js';
import { keys } from '../../lambdas/adapters/dynamodb-store.js';
import { createLocalDynamoDbClient } from '../../lib/local/dynamodb-local.js';
import { TABLE, TestStack } from '../../test/support/local-stack.js';

/** Body of a request the test configuration's `writes` rule sends to humans (StartExecution). */
export const APPROVE_BODY = {
  resource: TABLE('orders'),
  actions: ['dynamodb:PutItem'],
  reason: 'Backfill order 8812 after the failed batch (INC-2291)',
  durationSeconds: 900,
  context: { task: 'INC-2291', runId: 'bench' },
};
/** Body the `reads` rule allows by policy (no workflow). */
export const ALLOW_BODY = {
  resource: TABLE('orders'),
  actions: ['dynamodb:GetItem'],
  reason: 'Look up order 8812 (INC-2291)',
  durationSeconds: 900,
};

export const APPROVER = { sub: 'alice@example.com', slackUser: 'U0ALICE' };

/** What one execution of the approval workflow did, from the interpreter's own event log. */
export interface ExecutionTrace {
  stateEntered: number;
  stateRetried: number;
  /** State name → milliseconds from StateEntered to StateExited (Task states: the Lambda's time). */
  stateMs: Record<string, number>;
  states: string[];
}

/**
 * The local stack the benchmarks run against (test/support/local-stack.ts, the e2e tests' helper),
 * plus what measuring needs: a raw DynamoDB client on the same endpoint, tokens, and a tap on the
 * ASL interpreter's event log to count state transitions (the local Step Functions keeps no
 * execution history; the interpreter emits StateEntered/StateExited events that it ignores).
 */
export class BenchStack {
  readonly raw: DynamoDBClient;
  readonly traces = new Map<string, ExecutionTrace>();
  private readonly tokens = new Map<string, string>();
  /** Bytes of log lines the handlers wrote (CloudWatch Logs ingestion in the cost model). */
  logBytes = 0;

  private constructor(readonly test: TestStack) {
    this.raw = createLocalDynamoDbClient(test.stack.endpoints.dynamodb);
  }

  static async start(options: { waitUntilNotAfterMs: number }): Promise<BenchStack> {
    let bench: BenchStack | undefined;
    const test = await TestStack.start({
      // Approved grants end (Expire runs) this long after approval instead of at notAfter.
      waitTimeOverrides: { WaitUntilNotAfter: options.waitUntilNotAfterMs },
      log: (line) => {
        if (bench) bench.logBytes += line.length + 1;
      },
    });
    bench = new BenchStack(test);
    bench.tapTransitions();
    return bench;
  }

  get url(): string {
    return this.test.url;
  }

  get settings() {
    return this.test.stack.settings;
  }

  /** The DynamoDB client every handler of the local stack shares (compose.ts builds it once). */
  get handlerDynamo(): DynamoDBClient {
    return dynamoClient(this.settings);
  }

  async token(sub: string, groups: string[]): Promise<string> {
    const key = `${sub}|${groups.join(',')}`;
    let token = this.tokens.get(key);
    if (!token) {
      token = await this.test.token(sub, groups, { expiresInSeconds: 86_400 });
      this.tokens.set(key, token);
    }
    return token;
  }

  agent(sub: string) {
    return this.token(sub, ['agents']);
  }

  approver() {
    return this.token(APPROVER.sub, ['approvers']);
  }

  auditor() {
    return this.token('auditor@example.com', ['auditors']);
  }

  /** POST /v1/requests; throws unless it was created. */
  async create(agentToken: string, body: object = APPROVE_BODY): Promise<{ id: string; status: string }> {
    const answer = await this.test.call('POST', '/v1/requests', { token: agentToken, body });
    if (answer.status !== 201) throw new Error(`create: ${answer.status} ${JSON.stringify(answer.body)}`);
    return { id: String(answer.body.id), status: String(answer.body.status) };
  }

  /** Waits until the workflow's notify step stored the task token (the request is clickable). */
  async waitForTaskToken(requestId: string, timeoutMs = 15_000, pollMs = 5): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out = await this.raw.send(
        new GetItemCommand({ TableName: this.settings.tableName, Key: marshall(keys.token(requestId)) }),
      );
      if (out.Item) {
        const request = await this.getItem(requestId);
        // The approval message is posted (shownAt) after the token is stored.
        if (request?.shownAt) return;
      }
      if (Date.now() > deadline) throw new Error(`no task token for ${requestId} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async getItem(requestId: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.raw.send(
      new GetItemCommand({
        TableName: this.settings.tableName,
        Key: marshall(keys.request(requestId)),
        ConsistentRead: true,
      }),
    );
    return out.Item ? unmarshall(out.Item) : undefined;
  }

  /** The task token the notify step stored for a request. */
  async tokenOf(requestId: string): Promise<string> {
    const out = await this.raw.send(
      new GetItemCommand({
        TableName: this.settings.tableName,
        Key: marshall(keys.token(requestId)),
        ConsistentRead: true,
      }),
    );
    if (!out.Item) throw new Error(`no task token for ${requestId}`);
    return String(unmarshall(out.Item).token);
  }

  /** Resolves when the execution named `requestId` has finished, with its trace. */
  async whenExecutionDone(requestId: string, timeoutMs = 30_000): Promise<ExecutionTrace> {
    const arn = `${this.settings.stateMachineArn!.replace(':stateMachine:', ':execution:')}:${requestId}`;
    const done = this.test.stack.sfn.whenDone(arn);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`execution ${requestId} still running`)), timeoutMs).unref(),
    );
    await Promise.race([done, timeout]);
    // The event log is read asynchronously; give it a turn to drain.
    await new Promise((r) => setTimeout(r, 50));
    const trace = this.traces.get(requestId);
    if (!trace) throw new Error(`no trace for ${requestId}`);
    return trace;
  }

  private tapTransitions(): void {
    const traces = this.traces;
    const run = StateMachine.prototype.run;
    if ((run as { benchTapped?: boolean }).benchTapped) return;
    const tapped = function (this: StateMachine, ...args: Parameters<typeof run>) {
      const execution = run.apply(this, args);
      const name = (args[1]?.context as { Execution?: { Name?: string } } | undefined)?.Execution?.Name;
      if (name) {
        const trace: ExecutionTrace = { stateEntered: 0, stateRetried: 0, stateMs: {}, states: [] };
        traces.set(name, trace);
        const entered = new Map<string, number>();
        void (async () => {
          for await (const event of execution.eventLogs) {
            if (event.type === 'StateEntered') {
              trace.stateEntered += 1;
              trace.states.push(event.state.name);
              entered.set(event.state.name, event.timestamp);
            } else if (event.type === 'StateRetried') {
              trace.stateRetried += 1;
            } else if (event.type === 'StateExited') {
              const start = entered.get(event.state.name);
              if (start !== undefined) {
                trace.stateMs[event.state.name] =
                  (trace.stateMs[event.state.name] ?? 0) + event.timestamp - start;
              }
            }
          }
        })().catch(() => undefined);
      }
      return execution;
    };
    Object.assign(tapped, { benchTapped: true });
    StateMachine.prototype.run = tapped as typeof run;
  }

  async stop(): Promise<void> {
    this.raw.destroy();
    await this.test.stop();
  }
}

/** Runs `tasks` with at most `limit` at a time; results in order. */
export async function inBatches<T>(
  count: number,
  limit: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/** Waits (cheaply, in process) until `check` holds. */
export async function until(check: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
