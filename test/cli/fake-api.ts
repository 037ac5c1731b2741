import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { AccessRequest } from '../../lambdas/core/model.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';

/**
 * The CLI's boundary, as the tests see it: a small HTTP server on 127.0.0.1:0 that answers per
 * the contract (DESIGN.md §4) from a handler each test writes, and records every call; and a
 * runner that starts the real CLI (`node bin/countersign.js …`) as a child process.
 */

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Sent as-is instead of JSON (a proxy's HTML error page, say). */
  raw?: string;
  headers?: Record<string, string>;
}

export type Handler = (call: Call, index: number) => Reply | Promise<Reply>;

export interface FakeApi {
  readonly url: string;
  readonly calls: Call[];
  close(): Promise<void>;
}

export async function startFakeApi(handler: Handler): Promise<FakeApi> {
  const calls: Call[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const call: Call = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    calls.push(call);
    try {
      const reply = await handler(call, calls.length - 1);
      const payload = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, {
        'content-type': reply.raw ? 'text/html' : 'application/json',
        ...reply.headers,
      });
      res.end(payload);
    } catch (error) {
      res.writeHead(599).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP server that reads each request and drops the connection unanswered: a broken network,
 * countable. (It waits for the request because Node 20's fetch can hang on a socket closed at once.)
 */
export async function startDroppingServer(): Promise<{
  url: string;
  connections(): number;
  close(): Promise<void>;
}> {
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections++;
    socket.once('data', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The contract's error body. */
export function apiError(
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): Reply {
  return { status, body: { error: { code, message, ...(details ? { details } : {}) } } };
}

export const BIN = fileURLToPath(new URL('../../bin/countersign.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI from a directory other than the repository's (as an installed bin is), with an
 * environment that holds only what the test gives it. Asynchronous on purpose: the fake API lives
 * in this process, so a synchronous spawn would block the server the CLI is talking to.
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; direct?: boolean } = {},
): Promise<CliResult> {
  const [command, argv] = options.direct ? [BIN, args] : [process.execPath, [BIN, ...args]];
  const child = spawn(command, argv, {
    cwd: options.cwd ?? tmpdir(),
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const NOW = '2025-01-15T10:00:00.000Z';

/** A request object as the contract returns it, PENDING on a two-approver rule unless overridden. */
export function requestObject(overrides: Partial<AccessRequest> = {}): Partial<AccessRequest> {
  return {
    id: 'req_01JTEST',
    status: 'PENDING',
    requester: { sub: 'deploy-bot', issuer: 'http://127.0.0.1/issuer', groups: ['agents'] },
    resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
    actions: ['dynamodb:PutItem'],
    reason: 'Backfill order 8812 (INC-2291)',
    context: {},
    durationSeconds: 900,
    createdAt: NOW,
    updatedAt: NOW,
    policy: {
      rule: 'writes',
      effect: 'approve',
      quorum: 2,
      approvers: ['alice@example.com', 'bob@example.com'],
      accessLevels: ['Write'],
      approvalTimeoutSeconds: 3600,
    },
    decisions: [],
    ...overrides,
  };
}

export function approved(overrides: Partial<AccessRequest> = {}): Partial<AccessRequest> {
  return requestObject({
    status: 'APPROVED',
    decisions: [
      { approver: 'alice@example.com', decision: 'approve', channel: 'slack', at: NOW },
      { approver: 'bob@example.com', decision: 'approve', channel: 'api', at: NOW },
    ],
    grant: {
      resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
      actions: ['dynamodb:PutItem'],
      roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
      notAfter: '2025-01-15T10:15:00.000Z',
      durationSeconds: 900,
      grantedAt: NOW,
      sessionPolicy: { Version: '2012-10-17', Statement: [] },
    },
    ...overrides,
  });
}

export const CREDENTIALS = {
  Version: 1,
  AccessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
  SecretAccessKey: 'secret/Example+Key0000000000000000000000',
  SessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN',
  Expiration: '2025-01-15T10:15:00.000Z',
} as const;
