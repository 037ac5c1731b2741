import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../lib/local/stack.js';
import { type BlockActionsOptions, signedInteraction } from './slack.js';

export const TEST_CONFIG_PATH = join(import.meta.dirname, '..', 'fixtures', 'config.yaml');
export const TABLE = (name: string) => `arn:aws:dynamodb:us-east-1:111122223333:table/${name}`;

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * The local assembly — the synthesized CDK app's bundles, environment, IAM, routes, workflow and
 * rules over the local AWS — on an ephemeral port, with small helpers that speak only HTTP.
 */
export class TestStack {
  readonly logs: string[] = [];
  private constructor(
    readonly stack: LocalStack,
    logs: string[],
  ) {
    this.logs = logs;
  }

  static async start(options: LocalStackOptions = {}): Promise<TestStack> {
    const logs: string[] = [];
    const stack = await startLocalStack({
      port: 0,
      inMemory: true,
      log: (line) => logs.push(line),
      ...options,
      ...(options.config ? {} : { configPath: options.configPath ?? TEST_CONFIG_PATH }),
    });
    return new TestStack(stack, logs);
  }

  get url(): string {
    return this.stack.url;
  }

  async token(sub: string, groups: string[], extra: Record<string, unknown> = {}): Promise<string> {
    const answer = await this.call('POST', '/local/token', { body: { sub, groups, ...extra } });
    if (answer.status !== 200) throw new Error(`token: ${answer.status} ${JSON.stringify(answer.body)}`);
    return String(answer.body.token);
  }

  agentToken(sub = 'deploy-bot') {
    return this.token(sub, ['agents']);
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // CSV and other non-JSON answers stay text.
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  request(token: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
    return this.call('POST', '/v1/requests', {
      token,
      body: { reason: 'Integration test of Countersign', ...body },
      headers,
    });
  }

  /**
   * A PutItem request under an approve rule, returned once the workflow has shown it to approvers
   * (the message is posted and the task token stored: a decision now resumes the workflow).
   */
  async pendingRequest(
    agent: string,
    table: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<string> {
    const created = await this.request(
      agent,
      { resource: TABLE(table), actions: ['dynamodb:PutItem'], ...extra },
      headers,
    );
    if (created.status !== 201 || created.body.status !== 'PENDING') {
      throw new Error(`expected a PENDING request, got ${created.status} ${JSON.stringify(created.body)}`);
    }
    const id = String(created.body.id);
    await eventually(
      async () =>
        (await this.call('GET', `/v1/requests/${id}`, { token: agent })).body.shownAt ? true : undefined,
      15_000,
    );
    return id;
  }

  /** A pending request approved by a signed Slack click of `userId` (default alice). */
  async approvedRequest(
    agent: string,
    table: string,
    extra: Record<string, unknown> = {},
    userId = 'U0ALICE',
  ): Promise<string> {
    const id = await this.pendingRequest(agent, table, extra);
    const click = await this.click({ requestId: id, userId });
    if (click.body.ok !== true) throw new Error(`approval refused: ${JSON.stringify(click.body)}`);
    return id;
  }

  /** An STS client signing with minted credentials, against the local AWS endpoint. */
  sessionClient(creds: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }): STSClient {
    return new STSClient({
      region: 'us-east-1',
      endpoint: this.stack.endpoints.aws,
      credentials: {
        accessKeyId: creds.AccessKeyId,
        secretAccessKey: creds.SecretAccessKey,
        sessionToken: creds.SessionToken,
      },
    });
  }

  async click(options: Omit<BlockActionsOptions, 'requestId'> & { requestId: string; now?: Date }) {
    const signed = signedInteraction({ secret: this.stack.slackSigningSecret, ...options });
    return this.call('POST', '/v1/slack/interactions', { rawBody: signed.body, headers: signed.headers });
  }

  /** Client options for any AWS SDK client signing with minted credentials, against the local AWS. */
  awsClientConfig(creds: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }) {
    return {
      region: this.stack.region,
      endpoint: this.stack.endpoints.aws,
      credentials: {
        accessKeyId: creds.AccessKeyId,
        secretAccessKey: creds.SecretAccessKey,
        sessionToken: creds.SessionToken,
      },
    };
  }

  /**
   * What a minted session gets for a PutItem on a demo table (`local.demoTables`) through the local
   * AWS: `'ok'`, or the name of the AWS error (AccessDeniedException when IAM refuses).
   */
  async putItem(
    creds: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string },
    table: string,
    id = `item-${Date.now()}`,
  ): Promise<string> {
    const client = new DynamoDBClient({ ...this.awsClientConfig(creds), maxAttempts: 1 });
    try {
      await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: id } } }));
      return 'ok';
    } catch (error) {
      return (error as Error).name;
    } finally {
      client.destroy();
    }
  }

  /**
   * Whether a minted session can still do what it was granted, through IAM: the first action of its
   * session policy (GetItem or PutItem) on its table. A table that does not exist still proves IAM
   * let the call through; only AccessDeniedException means the session no longer works.
   */
  async sessionWorks(creds: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }) {
    const session = this.stack.aws.sessions().find((s) => s.accessKeyId === creds.AccessKeyId);
    const statement = JSON.parse(session?.policy ?? '{}').Statement?.[0] ?? {};
    const action = String([statement.Action].flat()[0]).split(':')[1];
    const table = String([statement.Resource].flat()[0]).split('/')[1];
    const client = new DynamoDBClient({ ...this.awsClientConfig(creds), maxAttempts: 1 });
    const key = { id: { S: 'session-probe' } };
    try {
      if (action === 'PutItem') await client.send(new PutItemCommand({ TableName: table, Item: key }));
      else await client.send(new GetItemCommand({ TableName: table, Key: key }));
      return true;
    } catch (error) {
      return (error as Error).name !== 'AccessDeniedException';
    } finally {
      client.destroy();
    }
  }

  slackMessages(): Array<Record<string, unknown>> {
    return this.stack.slack.messages() as unknown as Array<Record<string, unknown>>;
  }

  /** The approval message posted for a request: top level (not a thread reply), not ephemeral. */
  approvalMessage(requestId: string): Record<string, unknown> | undefined {
    return this.slackMessages().find(
      (m) => !m.ephemeral && !m.thread_ts && JSON.stringify(m.blocks ?? '').includes(requestId),
    );
  }

  /**
   * The approval message once rewritten with the outcome (edited, no approve button left): the
   * workflow got past its approval step. Undefined before.
   */
  settledInSlack(requestId: string): Record<string, unknown> | undefined {
    const message = this.approvalMessage(requestId);
    return message?.edited && !JSON.stringify(message.blocks).includes('"action_id":"approve"')
      ? message
      : undefined;
  }

  /**
   * Whether the workflow of a request still waits on the task token stored for it: Step Functions
   * accepts a heartbeat for a token only while its task waits, so `false` means the workflow was
   * resumed (or stopped) — no sleep needed to tell.
   */
  async waitsOnTaskToken(requestId: string): Promise<boolean> {
    const client = new DynamoDBClient({
      region: this.stack.region,
      endpoint: this.stack.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const out = await client.send(
        new GetItemCommand({
          TableName: this.stack.tableName,
          Key: { PK: { S: `REQ#${requestId}` }, SK: { S: 'TOKEN' } },
          ConsistentRead: true,
        }),
      );
      const token = out.Item?.token?.S;
      if (!token) throw new Error(`no task token is stored for ${requestId}`);
      const answer = await this.stack.sfn.handleJson('AWSStepFunctions.SendTaskHeartbeat', {
        taskToken: token,
      });
      return answer.status === 200;
    } finally {
      client.destroy();
    }
  }

  async stop(): Promise<void> {
    await this.stack.stop();
  }
}

/** Polls `check` until it returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
