import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Small HTTP helpers shared by the local stand-ins (Step Functions, STS/IAM, Slack). Each stand-in
 * exposes a plain Node `(req, res)` listener, so it runs either on its own ephemeral-port server
 * (`listenLocal`) or mounted under a path prefix of the main local server; none of them looks at
 * the path prefix.
 */

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface LocalServer {
  /** `http://127.0.0.1:<port>` — no trailing slash. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Thrown by `readBody` when the body is larger than the cap; answer 413. */
export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`request body is larger than ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** 1 MiB: every local API here takes JSON or form bodies far below this. */
const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Reads the whole body, refusing (before buffering it) anything over `limitBytes`, so a local
 * endpoint cannot be made to hold an unbounded request in memory.
 */
export async function readBody(req: IncomingMessage, limitBytes = DEFAULT_BODY_LIMIT_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new BodyTooLargeError(limitBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limitBytes) {
      req.resume();
      throw new BodyTooLargeError(limitBytes);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The path part of `req.url`, without the query string. */
export function requestPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Serves `listener` on 127.0.0.1 at an ephemeral port. A listener that throws gets a bare 500
 * (never the error text). `close()` also drops keep-alive connections, which the AWS SDK's HTTP
 * agent keeps open and would otherwise hold the server (and a test) open.
 */
export async function listenLocal(
  listener: RequestListener,
  options: { port?: number } = {},
): Promise<LocalServer> {
  const server = createServer((req, res) => {
    Promise.resolve()
      .then(() => listener(req, res))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue: a burst of hundreds of concurrent callers (the load suite, an agent fleet)
    // must not push a connection — a function's JWKS fetch, say — into SYN retransmission.
    server.listen({ port: options.port ?? 0, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
