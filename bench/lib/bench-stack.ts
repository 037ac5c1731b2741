import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { runnableFunction } from '../../lib/local/assembly/functions.js';
import type { ResolveContext } from '../../lib/local/assembly/intrinsics.js';
import type { RunnableFunction } from '../../lib/local/assembly/lambda-runner.js';
import { physicalResources } from '../../lib/local/assembly/physical-resources.js';
import type { FunctionModel } from '../../lib/local/assembly/template.js';
import { createLocalDynamoDbClient } from '../../lib/local/dynamodb-local.js';
import { TABLE, TestStack } from '../../test/support/local-stack.js';
import { signedInteraction } from '../../test/support/slack.js';
import { HttpClient } from './http.js';

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

/** The CloudFormation stack name `startLocalStack` hosts the assembly under. */
const STACK_NAME = 'Countersign';

/** A function of the synthesized template, by the names the host gave it. */
export interface AssemblyFunction {
  readonly model: FunctionModel;
  /** Physical name (what the runner and the logs call it). */
  readonly name: string;
  readonly roleArn: string;
  /** The bundle's file in its asset folder. */
  readonly assetDir: string;
}

/**
 * The system under measurement: the synthesized assembly run by `startLocalStack` (through the
 * tests' TestStack), reached over HTTP like any client, plus what measuring needs and nothing that
 * changes the system: a direct DynamoDB Local client (to wait for background work without going
 * through the system being timed) and SDK clients signed with a function's execution role against
 * the same local AWS endpoint the functions use (for the floors).
 */
export class BenchStack {
  readonly http: HttpClient;
  /** DynamoDB Local, direct (no SigV4, no IAM): for waiting and for reading what was written. */
  readonly raw: DynamoDBClient;
  private readonly tokens = new Map<string, string>();
  private readonly ctx: ResolveContext;
  private readonly clients: Array<{ destroy(): void }> = [];

  private constructor(readonly test: TestStack) {
    this.http = new HttpClient(test.url);
    this.raw = createLocalDynamoDbClient(test.stack.endpoints.dynamodb);
    const stack = test.stack;
    this.ctx = physicalResources(stack.assembly.model, {
      account: stack.account,
      region: stack.region,
      stackName: STACK_NAME,
      parameters: { OidcIssuer: stack.issuer.issuer, SlackApiUrl: `${stack.endpoints.slack}/api` },
    });
  }

  static async start(options: { waitUntilNotAfterMs: number }): Promise<BenchStack> {
    const test = await TestStack.start({
      // Approved grants end (Expire runs) this long after approval instead of at notAfter.
      waitTimeOverrides: { WaitUntilNotAfter: options.waitUntilNotAfterMs },
    });
    return new BenchStack(test);
  }

  get url(): string {
    return this.test.url;
  }

  get stack() {
    return this.test.stack;
  }

  get tableName(): string {
    return this.test.stack.tableName;
  }

  /** The template's functions; `part` matches the logical id, case-insensitively, without dashes. */
  functions(): AssemblyFunction[] {
    return this.stack.assembly.model.functions.map((model) => {
      const physical = this.ctx.resources[model.logicalId];
      const role = this.ctx.resources[model.roleLogicalId];
      const roleArn = role?.attributes.Arn;
      if (!physical || !roleArn) throw new Error(`function ${model.logicalId} has no physical name or role`);
      return { model, name: physical.ref, roleArn, assetDir: model.assetDir };
    });
  }

  /** The function whose logical id contains `part` (e.g. `RequestAccess`); throws unless exactly one. */
  fn(part: string): AssemblyFunction {
    const want = part.replace(/-/g, '').toLowerCase();
    const found = this.functions().filter((f) => f.model.logicalId.toLowerCase().includes(want));
    if (found.length !== 1) {
      throw new Error(
        `expected one function matching ${part}, found ${found.length}: ${this.functions()
          .map((f) => f.model.logicalId)
          .join(', ')}`,
      );
    }
    return found[0]!;
  }

  /**
   * SDK clients signed with a fresh session of `fn`'s execution role, against the local AWS
   * endpoint: they go through the same SigV4 verification and IAM evaluation as the function's own
   * calls. Destroyed with the stack.
   */
  roleClients(fn: AssemblyFunction): {
    dynamodb: DynamoDBClient;
    sfn: SFNClient;
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  } {
    const session = this.stack.aws.issueRoleSession(fn.roleArn, `bench-${fn.name}`.slice(0, 64));
    const config = {
      region: this.stack.region,
      endpoint: this.stack.endpoints.aws,
      credentials: {
        accessKeyId: session.accessKeyId,
        secretAccessKey: session.secretAccessKey,
        sessionToken: session.sessionToken,
      },
      maxAttempts: 1,
    };
    const dynamodb = new DynamoDBClient(config);
    const sfn = new SFNClient(config);
    this.clients.push(dynamodb, sfn);
    return { dynamodb, sfn, credentials: config.credentials };
  }

  /**
   * `fn` as the host runs it: its bundle, the template's environment resolved, a fresh session of
   * its execution role, the local AWS endpoint (for a runner of the benchmark's own).
   */
  runnable(fn: AssemblyFunction): RunnableFunction {
    const session = this.stack.aws.issueRoleSession(fn.roleArn, fn.name.slice(0, 64), 43_200);
    return runnableFunction(fn.model, this.ctx, {
      region: this.stack.region,
      credentials: session,
      endpointUrl: this.stack.endpoints.aws,
    });
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

  /** POST /v1/requests; throws unless it was created. */
  async create(agentToken: string, body: object = APPROVE_BODY): Promise<{ id: string; status: string }> {
    const answer = await this.http.call('POST', '/v1/requests', { token: agentToken, body });
    if (answer.status !== 201) throw new Error(`create: ${answer.status} ${JSON.stringify(answer.body)}`);
    return { id: String(answer.body.id), status: String(answer.body.status) };
  }

  /** A signed Approve click by the test configuration's approver, as Slack sends it. */
  click(requestId: string) {
    const signed = signedInteraction({
      secret: this.stack.slackSigningSecret,
      requestId,
      userId: APPROVER.slackUser,
    });
    return this.http.call('POST', '/v1/slack/interactions', {
      rawBody: signed.body,
      headers: signed.headers,
    });
  }

  /** Waits until the workflow stored the task token and posted the message (the request is clickable). */
  async waitShown(requestId: string, timeoutMs = 30_000, pollMs = 10): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const token = await this.raw.send(
        new GetItemCommand({ TableName: this.tableName, Key: marshall(keys.token(requestId)) }),
      );
      if (token.Item && (await this.getItem(requestId))?.shownAt) return;
      if (Date.now() > deadline)
        throw new Error(`${requestId} not shown to approvers within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async getItem(requestId: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.raw.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: marshall(keys.request(requestId)),
        ConsistentRead: true,
      }),
    );
    return out.Item ? unmarshall(out.Item) : undefined;
  }

  /**
   * Waits until the workflow's Grant step ran for an approved request: it rewrites the approval
   * message (chat.update to the Slack sink), after which the execution only waits for notAfter.
   */
  async waitGranted(requestId: string, timeoutMs = 30_000, pollMs = 10): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const item = await this.getItem(requestId);
    const ts = (item?.slack as { ts?: string } | undefined)?.ts;
    if (!ts) throw new Error(`${requestId} has no Slack message`);
    for (;;) {
      if (this.stack.slack.messages().some((m) => m.ts === ts && m.edited)) return;
      if (Date.now() > deadline) throw new Error(`${requestId} not granted within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** The task token the notify step stored for a request. */
  async tokenOf(requestId: string): Promise<string> {
    const out = await this.raw.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: marshall(keys.token(requestId)),
        ConsistentRead: true,
      }),
    );
    if (!out.Item) throw new Error(`no task token for ${requestId}`);
    return String(unmarshall(out.Item).token);
  }

  /** The state machine the workflow of `requestId` runs on (its execution is named after the request). */
  stateMachineArnOf(requestId: string): string {
    const execution = this.stack.sfn.executions().find((e) => e.name === requestId);
    if (!execution) throw new Error(`no execution for ${requestId}`);
    return execution.stateMachineArn;
  }

  /** Resolves when the execution of `requestId` left RUNNING. */
  async executionDone(requestId: string, timeoutMs = 30_000): Promise<void> {
    const execution = this.stack.sfn.executions().find((e) => e.name === requestId);
    if (!execution) throw new Error(`no execution for ${requestId}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`execution ${requestId} still running`)), timeoutMs);
    });
    try {
      await Promise.race([this.stack.sfn.whenDone(execution.executionArn), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.destroy();
    this.http.close();
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
