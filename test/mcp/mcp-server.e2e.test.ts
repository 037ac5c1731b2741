import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TABLE, TestStack } from '../support/local-stack.js';

/**
 * `countersign mcp` driven by the MCP SDK's real client over stdio, as Claude Code or the OpenAI
 * Agents SDK would run it: `node bin/countersign.js mcp`, against the local stack.
 */

const ROOT = join(import.meta.dirname, '..', '..');

type ToolResult = {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
};

/** A tool error's second text block: the API's error body. */
const errorOf = (result: ToolResult) =>
  JSON.parse(result.content[1]?.text ?? '{}').error as Record<string, unknown>;

describe('countersign mcp over stdio', () => {
  let stack: TestStack;
  let client: Client;
  let dir: string;
  let tokenFile: string;
  let ddb: DynamoDBClient;

  beforeAll(async () => {
    stack = await TestStack.start();
    dir = await mkdtemp(join(tmpdir(), 'countersign-mcp-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, await stack.agentToken('mcp-agent'));
    const endpoints = (await stack.call('GET', '/local/endpoints')).body as Record<string, string>;
    ddb = new DynamoDBClient({
      region: 'us-east-1',
      // Seeding the "production" data as its owner would: straight into DynamoDB Local, outside Countersign.
      endpoint: endpoints.dynamodb,
      credentials: { accessKeyId: 'LOCALTESTSETUP000001', secretAccessKey: 'local-test-setup' },
    });
    await ddb.send(
      new CreateTableCommand({
        TableName: 'mcp-customers',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await ddb.send(
      new PutItemCommand({
        TableName: 'mcp-customers',
        Item: { id: { S: 'c-7' }, email: { S: 'dana@example.org' }, apiToken: { S: 'tok-123' } },
      }),
    );

    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith('COUNTERSIGN_')) env[k] = v;
    client = new Client({ name: 'countersign-test', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [join(ROOT, 'bin', 'countersign.js'), 'mcp'],
        env: { ...env, COUNTERSIGN_ENDPOINT: stack.url, COUNTERSIGN_TOKEN_FILE: tokenFile },
        stderr: 'pipe',
      }),
    );
  }, 90_000);

  afterAll(async () => {
    await client?.close();
    ddb?.destroy();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const call = (name: string, args: Record<string, unknown>, options = {}) =>
    client.callTool({ name, arguments: args }, undefined, {
      timeout: 90_000,
      ...options,
    }) as Promise<ToolResult>;

  it('lists the six tools, each with input and output JSON Schemas', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['call_aws', 'execute_call', 'get_request', 'give_back', 'list_requests', 'request_access'].sort(),
    );
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type, tool.name).toBe('object');
    }
  });

  it('request_access returns the request as structured content', async () => {
    const result = await call('request_access', {
      resource: TABLE('mcp-customers'),
      actions: ['dynamodb:GetItem'],
      reason: 'Look up customer c-7 for ticket 42',
      context: { task: 'ticket-42' },
    });
    expect(result.isError).toBeFalsy();
    const request = result.structuredContent?.request as {
      id: string;
      status: string;
      requester: { sub: string };
    };
    expect(request.status).toBe('APPROVED');
    expect(request.requester.sub).toBe('mcp-agent');
    expect(JSON.parse(result.content[0]!.text!)).toEqual(result.structuredContent);
  });

  it('answers a wildcard request with a tool error carrying ValidationError', async () => {
    const result = await call('request_access', {
      resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/*',
      actions: ['dynamodb:GetItem'],
      reason: 'everything please',
    });
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toMatch(/^ValidationError: /);
    expect(errorOf(result)).toMatchObject({
      code: 'ValidationError',
      status: 400,
      details: { field: 'resource' },
    });
  });

  it('call_aws waits for the Slack approval with progress, executes once, and returns masked output', async () => {
    const progress: string[] = [];
    const pending = call(
      'call_aws',
      {
        resource: TABLE('mcp-customers'),
        action: 'dynamodb:UpdateItem',
        input: {
          TableName: 'mcp-customers',
          Key: { id: { S: 'c-7' } },
          UpdateExpression: 'SET tier = :t',
          ExpressionAttributeValues: { ':t': { S: 'gold' } },
          ReturnValues: 'ALL_NEW',
        },
        reason: 'Upgrade customer c-7 (ticket 42)',
        waitSeconds: 60,
      },
      { onprogress: (p: { message?: string }) => progress.push(p.message ?? '') },
    );
    // An approver clicks Approve on the message showing this exact call.
    const id = await eventually(() => {
      const message = stack
        .slackMessages()
        .find((m) => JSON.stringify(m).includes('UpdateItem') && JSON.stringify(m).includes('mcp-customers'));
      return JSON.stringify(message ?? '').match(/"value":"(req_[A-Za-z0-9_-]+)"/)?.[1];
    }, 20_000);
    await eventually(async () =>
      (await stack.call('GET', `/v1/requests/${id}`, { token: await stack.agentToken('mcp-agent') })).body
        .shownAt
        ? true
        : undefined,
    );
    expect((await stack.click({ requestId: id })).body.ok).toBe(true);

    const result = await pending;
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as {
      requestId: string;
      status: string;
      execution: { status: string; output: { Attributes: Record<string, unknown> }; masked: string[] };
    };
    expect(structured.requestId).toBe(id);
    expect(structured.status).toBe('EXECUTED');
    expect(structured.execution.status).toBe('succeeded');
    expect(structured.execution.output.Attributes.tier).toEqual({ S: 'gold' });
    const text = JSON.stringify(result);
    expect(text).not.toContain('dana@example.org');
    expect(text).not.toContain('tok-123');
    expect(structured.execution.masked).toEqual(
      expect.arrayContaining(['$.Attributes.email.S', '$.Attributes.apiToken']),
    );
    expect(progress.some((m) => m.includes('PENDING'))).toBe(true);

    // Once: executing it again through the tool is a tool error with the API's code.
    const again = await call('execute_call', { requestId: id });
    expect(again.isError).toBe(true);
    expect(errorOf(again)).toMatchObject({ code: 'AlreadyExecuted' });
  });

  it('call_aws returns the request id when the decision is still pending after waitSeconds', async () => {
    const result = await call('call_aws', {
      resource: TABLE('mcp-customers'),
      action: 'dynamodb:DeleteItem',
      input: { TableName: 'mcp-customers', Key: { id: { S: 'c-8' } } },
      reason: 'Remove duplicate customer c-8',
      waitSeconds: 1,
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      status: 'PENDING',
      requestId: expect.stringMatching(/^req_/),
    });
  });

  it('reads the token file on every call, so a rotated token is used at once', async () => {
    writeFileSync(tokenFile, await stack.agentToken('rotated-agent'));
    const result = await call('request_access', {
      resource: TABLE('mcp-customers'),
      actions: ['dynamodb:GetItem'],
      reason: 'After rotation',
    });
    expect(
      (result.structuredContent as { request: { requester: { sub: string } } }).request.requester.sub,
    ).toBe('rotated-agent');
    writeFileSync(tokenFile, 'not-a-jwt');
    const refused = await call('get_request', { requestId: 'req_doesnotmatter' });
    expect(refused.isError).toBe(true);
    expect(errorOf(refused)).toMatchObject({ code: 'Unauthorized' });
    writeFileSync(tokenFile, await stack.agentToken('mcp-agent'));
  });
});
