import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackWebApi } from '../../lambdas/adapters/slack-web-api.js';
import { DependencyError } from '../../lambdas/core/errors.js';
import type { SlackMessage } from '../../lambdas/core/ports.js';

const TOKEN = 'xoxb-test-0000000000-secret-token-value';
const MESSAGE: SlackMessage = { text: 'Approval needed', blocks: [{ type: 'divider' }] };

interface Seen {
  method: string | undefined;
  path: string | undefined;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}
type Responder = (seen: Seen, res: ServerResponse) => void;

/** A stand-in for slack.com/api: records each call and answers with the next scripted responder. */
class FakeSlack {
  readonly seen: Seen[] = [];
  private readonly script: Responder[] = [];
  private server!: Server;
  baseUrl = '';

  answer(...responders: Responder[]): this {
    this.script.push(...responders);
    return this;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const seen: Seen = {
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: raw ? JSON.parse(raw) : {},
        };
        this.seen.push(seen);
        const respond = this.script.shift() ?? ok({});
        respond(seen, res);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function ok(extra: Record<string, unknown>): Responder {
  return (_seen, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ ok: true, ...extra }));
  };
}
function slackError(error: string): Responder {
  return (_seen, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ ok: false, error }));
  };
}
function rateLimited(retryAfter: string): Responder {
  return (_seen, res) => {
    res.writeHead(429, { 'retry-after': retryAfter, 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
  };
}
const hang: Responder = () => {
  // Never answers: the client's own deadline must end the call.
};

async function failure(promise: Promise<unknown>): Promise<DependencyError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DependencyError);
  // The token never appears in anything a caller could log or return.
  expect(
    JSON.stringify({ message: (error as Error).message, details: (error as DependencyError).details }),
  ).not.toContain('secret-token');
  expect(String((error as Error).stack)).not.toContain('secret-token');
  return error as DependencyError;
}

describe('SlackWebApi', () => {
  let slack: FakeSlack;
  let api: SlackWebApi;

  beforeEach(async () => {
    slack = new FakeSlack();
    await slack.start();
    api = new SlackWebApi({ botToken: TOKEN, baseUrl: `${slack.baseUrl}/`, timeoutMs: 3000 });
  });

  afterEach(async () => {
    await slack.stop();
  });

  it('posts a message as JSON with the bot token, without unfurling, and returns where it lives', async () => {
    // Prepare
    slack.answer(ok({ channel: 'C0123456789', ts: '1700000000.000100' }));
    // Act
    const ref = await api.post('C0123456789', MESSAGE);
    // Assess
    expect(ref).toEqual({ channel: 'C0123456789', ts: '1700000000.000100' });
    const [call] = slack.seen;
    expect(call?.method).toBe('POST');
    expect(call?.path).toBe('/api/chat.postMessage');
    expect(call?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call?.headers['content-type']).toMatch(/^application\/json/);
    expect(call?.body).toEqual({
      channel: 'C0123456789',
      text: MESSAGE.text,
      blocks: MESSAGE.blocks,
      unfurl_links: false,
      unfurl_media: false,
    });
  });

  it('updates a message in place', async () => {
    await api.update({ channel: 'C1', ts: '1.2' }, MESSAGE);
    expect(slack.seen[0]?.path).toBe('/api/chat.update');
    expect(slack.seen[0]?.body).toEqual({
      channel: 'C1',
      ts: '1.2',
      text: MESSAGE.text,
      blocks: MESSAGE.blocks,
    });
  });

  it('replies in the thread', async () => {
    await api.reply({ channel: 'C1', ts: '1.2' }, MESSAGE);
    expect(slack.seen[0]?.path).toBe('/api/chat.postMessage');
    expect(slack.seen[0]?.body).toMatchObject({ channel: 'C1', thread_ts: '1.2', text: MESSAGE.text });
  });

  it('answers one user ephemerally', async () => {
    await api.ephemeral('C1', 'U0ALICE', 'Already decided');
    expect(slack.seen[0]?.path).toBe('/api/chat.postEphemeral');
    expect(slack.seen[0]?.body).toEqual({ channel: 'C1', user: 'U0ALICE', text: 'Already decided' });
  });

  it('treats ok:false as a failure naming Slack’s error code', async () => {
    // Prepare
    slack.answer(slackError('channel_not_found'));
    // Act
    const error = await failure(api.update({ channel: 'C1', ts: '1.2' }, MESSAGE));
    // Assess
    expect(error.message).toBe('Slack chat.update failed: channel_not_found');
    expect(error.details).toEqual({ slackError: 'channel_not_found' });
  });

  it('does not repeat an odd error string from the server', async () => {
    slack.answer(slackError(`Bearer ${TOKEN} <script>`));
    const error = await failure(api.ephemeral('C1', 'U1', 'x'));
    expect(error.details).toEqual({ slackError: 'unknown_error' });
  });

  it('honours Retry-After once after a 429', async () => {
    // Prepare
    slack.answer(rateLimited('1'), ok({ channel: 'C1', ts: '1.2' }));
    const started = Date.now();
    // Act
    const ref = await api.post('C1', MESSAGE);
    // Assess
    expect(ref.ts).toBe('1.2');
    expect(slack.seen).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(slack.seen[1]?.body).toEqual(slack.seen[0]?.body);
  });

  it('gives up on a second 429', async () => {
    slack.answer(rateLimited('0'), rateLimited('0'));
    const error = await failure(api.update({ channel: 'C1', ts: '1.2' }, MESSAGE));
    expect(error.message).toBe('Slack chat.update rate limited');
    expect(slack.seen).toHaveLength(2);
  });

  it('does not wait for a Retry-After beyond its time budget', async () => {
    // Prepare
    slack.answer(rateLimited('30'));
    const started = Date.now();
    // Act
    const error = await failure(api.ephemeral('C1', 'U1', 'x'));
    // Assess
    expect(error.message).toMatch(/rate limited/);
    expect(slack.seen).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('aborts when Slack does not answer within timeoutMs', async () => {
    // Prepare
    slack.answer(hang);
    const quick = new SlackWebApi({ botToken: TOKEN, baseUrl: slack.baseUrl, timeoutMs: 200 });
    const started = Date.now();
    // Act
    const error = await failure(quick.post('C1', MESSAGE));
    // Assess
    expect(error.message).toBe('Slack chat.postMessage timed out');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('by default waits out a slow post (no orphaned duplicate on retry) but answers a click within 2.5 s', async () => {
    // Prepare: Slack takes 2.7 s to answer. Giving up on a chat.postMessage that Slack then delivers
    // makes the retried workflow step post a second approval message that is never updated.
    const slow: Responder = (seen, res) => {
      setTimeout(() => ok({ channel: 'C1', ts: '1700000000.000100' })(seen, res), 2_700);
    };
    slack.answer(slow, slow);
    const defaults = new SlackWebApi({ botToken: TOKEN, baseUrl: slack.baseUrl });
    // Act
    const posted = await defaults.post('C1', MESSAGE);
    const started = Date.now();
    const click = await failure(defaults.ephemeral('C1', 'U1', 'x'));
    // Assess
    expect(posted).toEqual({ channel: 'C1', ts: '1700000000.000100' });
    expect(click.message).toBe('Slack chat.postEphemeral timed out');
    expect(Date.now() - started).toBeLessThan(2_700);
  });

  it('fails on HTTP errors, non-JSON answers and a post without ts', async () => {
    slack.answer(
      (_s, res) => {
        res.writeHead(500);
        res.end('boom');
      },
      (_s, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>');
      },
      ok({ channel: 'C1' }),
    );
    expect((await failure(api.post('C1', MESSAGE))).message).toBe(
      'Slack chat.postMessage failed with HTTP 500',
    );
    expect((await failure(api.post('C1', MESSAGE))).message).toMatch(/other than JSON/);
    expect((await failure(api.post('C1', MESSAGE))).message).toMatch(/without channel and ts/);
  });

  it('reports an unreachable Slack as a dependency failure', async () => {
    const baseUrl = slack.baseUrl;
    await slack.stop();
    const offline = new SlackWebApi({ botToken: TOKEN, baseUrl, timeoutMs: 1000 });
    expect((await failure(offline.ephemeral('C1', 'U1', 'x'))).message).toBe(
      'Slack chat.postEphemeral unreachable',
    );
    await slack.start(); // afterEach stops it again
  });

  it('refuses to be built without a token', () => {
    expect(() => new SlackWebApi({ botToken: '' })).toThrow(/botToken/);
  });
});
