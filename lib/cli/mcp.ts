import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { REQUEST_STATUSES } from '../../lambdas/core/model.js';
import { parseFlags } from './args.js';
import { EXIT } from './exit-codes.js';
import {
  ApiError,
  CountersignClient,
  MAX_WAIT_SECONDS,
  NetworkError,
  type RequestView,
} from './http-client.js';
import type { CliIo } from './output.js';
import { resolveEndpoint, resolveTokenSource } from './settings.js';

/**
 * `countersign mcp`: Countersign as a Model Context Protocol server on stdio (DESIGN.md §5), built
 * on the official TypeScript SDK. Every tool speaks the same HTTP API as the CLI, through the same
 * client; the token is resolved on every call (COUNTERSIGN_TOKEN, or COUNTERSIGN_TOKEN_FILE read
 * again each time, since token files rotate), so a long-lived server never holds a stale one.
 *
 * Each tool answers with `structuredContent` matching its output schema, and the same JSON as text
 * for clients that read only text. A refusal by the API is a tool error (`isError`) whose text
 * carries the API's error code and message, so the model can read why.
 */

const requestId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/)
  .describe('The request id, e.g. req_01J…');
const request = z
  .object({ id: z.string(), status: z.enum(REQUEST_STATUSES) })
  .passthrough()
  .describe('The request object of the Countersign API');
const execution = z
  .object({
    status: z.string().describe('succeeded | failed (| running, if a previous execute was interrupted)'),
    output: z.unknown().optional().describe('The AWS response, masked'),
    awsError: z.object({ code: z.string(), message: z.string() }).optional(),
    masked: z.array(z.string()).describe('JSON paths of masked values'),
    outputSha256: z.string().optional(),
  })
  .passthrough();
const context = z
  .object({
    task: z.string().optional(),
    runId: z.string().optional(),
    toolCallId: z.string().optional(),
    model: z.string().optional(),
    onBehalfOf: z.string().optional(),
  })
  .strict()
  .optional()
  .describe('Untrusted context shown to approvers: task, runId, toolCallId, model, onBehalfOf');

type Answer = Record<string, unknown>;

export interface McpOptions {
  /** The client for one call; built per call so the token is read per call. */
  client: () => CountersignClient;
  /** @default the package version */
  version?: string;
}

function ok(structured: Answer): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(structured, null, 2) }],
    structuredContent: structured,
  };
}

/**
 * A tool error. Clients validate any `structuredContent` against the tool's output schema even on
 * errors, so the error travels as text: a first line `Code: message` for the model, then the API's
 * error body as JSON (`{"error":{"code","message","details"?}}`) for programs.
 */
function refusal(code: string, message: string, extra: Answer = {}): CallToolResult {
  const error = { code, message, ...extra };
  return {
    isError: true,
    content: [
      { type: 'text', text: `${code}: ${message}` },
      { type: 'text', text: JSON.stringify({ error }) },
    ],
  };
}

/** Runs a tool body; API refusals, network failures and token problems become tool errors. */
async function guarded(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof ApiError) {
      return refusal(error.code ?? `Http${error.status}`, error.message, {
        status: error.status,
        ...(error.details ? { details: error.details } : {}),
      });
    }
    if (error instanceof NetworkError) return refusal('Unreachable', error.message);
    return refusal('Failed', error instanceof Error ? error.message : String(error));
  }
}

function createMcpServer(options: McpOptions): McpServer {
  const server = new McpServer({ name: 'countersign', version: options.version ?? '0.1.0' });

  server.registerTool(
    'request_access',
    {
      title: 'Request AWS access',
      description:
        'Ask Countersign for a short-lived AWS session allowing exact actions on one exact resource ARN, with a reason. Policy may allow or deny at once, or ask humans (status PENDING: wait with get_request).',
      inputSchema: {
        resource: z.string().describe('One full ARN, no wildcards'),
        actions: z.array(z.string()).min(1).max(10).describe('Exact IAM action names, e.g. dynamodb:PutItem'),
        reason: z.string().min(1).max(2000).describe('Why, for the approvers'),
        durationSeconds: z.number().int().min(60).max(43200).optional(),
        context,
      },
      outputSchema: { request },
    },
    (args) =>
      guarded(async () => {
        const created = await options.client().createRequest(
          {
            resource: args.resource,
            actions: args.actions,
            reason: args.reason,
            ...(args.durationSeconds !== undefined ? { durationSeconds: args.durationSeconds } : {}),
            ...(args.context ? { context: clean(args.context) } : {}),
          },
          `mcp-${randomUUID()}`,
        );
        return ok({ request: created });
      }),
  );

  server.registerTool(
    'get_request',
    {
      title: 'Read a request',
      description: `Read a request; with waitSeconds (up to ${MAX_WAIT_SECONDS}), wait while it is PENDING.`,
      inputSchema: { requestId, waitSeconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional() },
      outputSchema: { request },
    },
    (args) =>
      guarded(async () =>
        ok({ request: await options.client().getRequest(args.requestId, args.waitSeconds) }),
      ),
  );

  server.registerTool(
    'list_requests',
    {
      title: 'List requests',
      description: 'The caller’s requests, newest first, one page at a time.',
      inputSchema: {
        status: z.enum(REQUEST_STATUSES).optional(),
        limit: z.number().int().min(1).max(100).optional(),
        cursor: z.string().max(2048).optional(),
      },
      outputSchema: { items: z.array(request), nextCursor: z.string().optional() },
    },
    (args) =>
      guarded(async () =>
        ok(
          await options.client().listRequests({
            ...(args.status ? { status: args.status } : {}),
            ...(args.limit !== undefined ? { limit: args.limit } : {}),
            ...(args.cursor ? { cursor: args.cursor } : {}),
          }),
        ),
      ),
  );

  server.registerTool(
    'call_aws',
    {
      title: 'Make one exact AWS call',
      description:
        'Ask Countersign to make exactly this AWS API call (one action, its exact input naming exactly the resource). Waits for the decision, sending progress; once approved, Countersign makes the call once and returns the response with sensitive values masked. If still pending when waitSeconds ends, returns the requestId: wait with get_request, then execute_call.',
      inputSchema: {
        resource: z.string().describe('The one ARN the call acts on'),
        action: z.string().describe('The IAM action, e.g. dynamodb:GetItem, s3:GetObject'),
        input: z
          .record(z.string(), z.unknown())
          .describe('The API input, e.g. {"TableName":"orders","Key":{…}}'),
        operation: z
          .string()
          .optional()
          .describe('The API operation when the action has several (s3:GetObject: GetObject or HeadObject)'),
        reason: z.string().min(1).max(2000),
        waitSeconds: z
          .number()
          .int()
          .min(0)
          .max(3600)
          .optional()
          .describe('How long to wait for approval; default 60'),
        context,
      },
      outputSchema: {
        requestId: z.string(),
        status: z.enum(REQUEST_STATUSES),
        execution: execution.optional(),
        message: z.string().optional(),
      },
    },
    (args, extra) =>
      guarded(async () => {
        const progressToken = extra._meta?.progressToken;
        const progress = async (step: number, message: string) => {
          if (progressToken === undefined) return;
          await extra
            .sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress: step, message },
            })
            .catch(() => undefined);
        };
        let current: RequestView = await options.client().createRequest(
          {
            resource: args.resource,
            actions: [args.action],
            reason: args.reason,
            call: { input: args.input, ...(args.operation ? { operation: args.operation } : {}) },
            ...(args.context ? { context: clean(args.context) } : {}),
          },
          `mcp-${randomUUID()}`,
        );
        const id = current.id;
        await progress(0, `Request ${id} is ${current.status}.`);
        const deadline = Date.now() + (args.waitSeconds ?? 60) * 1000;
        let step = 0;
        while (current.status === 'PENDING') {
          const left = Math.ceil((deadline - Date.now()) / 1000);
          if (left <= 0) {
            return ok({
              requestId: id,
              status: 'PENDING',
              message: `Still waiting for approval. Wait with get_request {"requestId":"${id}","waitSeconds":20}, then call execute_call.`,
            });
          }
          current = await options.client().getRequest(id, Math.min(MAX_WAIT_SECONDS, left));
          step += 1;
          await progress(step, `Request ${id} is ${current.status}.`);
        }
        if (current.status !== 'APPROVED') {
          const reason = (current.outcome as { reason?: string } | undefined)?.reason ?? '';
          return refusal(
            current.status === 'DENIED' ? 'Denied' : current.status,
            `Request ${id} is ${current.status}. ${reason}`.trim(),
            {
              requestId: id,
            },
          );
        }
        const answer = await options.client().execute(id);
        await progress(step + 1, `Request ${id} was executed.`);
        return ok({ requestId: id, status: 'EXECUTED', execution: answer.execution });
      }),
  );

  server.registerTool(
    'execute_call',
    {
      title: 'Execute an approved exact call',
      description: 'Make the approved exact call of a request (once) and return its masked response.',
      inputSchema: { requestId },
      outputSchema: { requestId: z.string(), execution },
    },
    (args) =>
      guarded(async () =>
        ok({ requestId: args.requestId, ...(await options.client().execute(args.requestId)) }),
      ),
  );

  server.registerTool(
    'give_back',
    {
      title: 'Give access back',
      description: 'Revoke one of your own requests: its sessions stop working now.',
      inputSchema: { requestId },
      outputSchema: { request },
    },
    (args) => guarded(async () => ok({ request: await options.client().revoke(args.requestId) })),
  );

  return server;
}

/** Context values the contract accepts: strings only, undefined keys dropped. */
function clean(value: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => e[1] !== undefined));
}

/** `countersign mcp [--endpoint URL] [--token T]`: serves until stdin closes. */
export async function runMcp(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('mcp', argv, {});
  const endpoint = resolveEndpoint(flags.endpoint, io.env);
  const client = () =>
    new CountersignClient({
      endpoint,
      // Resolved per call: a missing token is a tool error, and a token file is read afresh.
      token: async () => resolveTokenSource(flags.token, io.env)(),
      userAgent: 'countersign-mcp',
    });
  const server = createMcpServer({ client });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  // Serves until the client closes the connection or stdin ends (the client process went away).
  await new Promise<void>((resolve) => {
    server.server.onclose = resolve;
    process.stdin.once('end', resolve);
  });
  await server.close().catch(() => undefined);
  return EXIT.ok;
}
