import { DependencyError } from '../core/errors.js';
import type { SlackMessageRef } from '../core/model.js';
import type { ChatNotifier, SlackMessage } from '../core/ports.js';

/**
 * The Slack Web API methods Countersign uses, over `fetch` (global in Node 20+). Slack answers
 * HTTP 200 with `{"ok": false, "error": "<code>"}` for most failures, so `ok` decides, not the
 * status. Every failure becomes a DependencyError naming the method and Slack's error code —
 * never the bot token, which only ever travels in the Authorization header.
 */

export interface SlackWebApiOptions {
  /** `xoxb-…` bot token, from Secrets Manager on AWS. */
  readonly botToken: string;
  /** @default 'https://slack.com/api' */
  readonly baseUrl?: string;
  /**
   * Budget for one call, including the single retry after a 429, for every method when given.
   * @default 2500 for chat.postEphemeral — the answer to a click, which Slack wants within 3 s — and
   * 10000 for the others, which run in the workflow or the API. Those must not give up early:
   * chat.postMessage is not idempotent, so abandoning a post that Slack then delivers makes the
   * retried workflow step post a second approval message, which nothing ever updates.
   */
  readonly timeoutMs?: number;
  /** For tests or instrumentation. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const SLACK_ERROR_CODE = /^[a-z0-9_]{1,64}$/;
/** Slack asks for seconds; anything absent or unreadable waits one second. */
const DEFAULT_RETRY_AFTER_MS = 1000;

type SlackResponse = { ok?: unknown; error?: unknown; channel?: unknown; ts?: unknown };

/** Never preview a URL from a posted message: agent text is escaped, but previews are fetched by Slack. */
const NO_PREVIEWS = { unfurl_links: false, unfurl_media: false } as const;

export class SlackWebApi implements ChatNotifier {
  private readonly botToken: string;
  private readonly baseUrl: string;
  private readonly clickTimeoutMs: number;
  private readonly messageTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: SlackWebApiOptions) {
    if (!options.botToken) throw new Error('SlackWebApi: botToken is required');
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
      throw new Error('SlackWebApi: timeoutMs must be > 0');
    }
    this.botToken = options.botToken;
    this.baseUrl = (options.baseUrl ?? 'https://slack.com/api').replace(/\/+$/, '');
    this.clickTimeoutMs = timeoutMs ?? 2500;
    this.messageTimeoutMs = timeoutMs ?? 10_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  async post(channel: string, message: SlackMessage): Promise<SlackMessageRef> {
    const res = await this.call('chat.postMessage', {
      channel,
      text: message.text,
      blocks: message.blocks,
      ...NO_PREVIEWS,
    });
    if (typeof res.channel !== 'string' || typeof res.ts !== 'string') {
      throw new DependencyError('Slack chat.postMessage answered without channel and ts');
    }
    return { channel: res.channel, ts: res.ts };
  }

  async update(ref: SlackMessageRef, message: SlackMessage): Promise<void> {
    await this.call('chat.update', {
      channel: ref.channel,
      ts: ref.ts,
      text: message.text,
      blocks: message.blocks,
    });
  }

  async reply(ref: SlackMessageRef, message: SlackMessage): Promise<void> {
    await this.call('chat.postMessage', {
      channel: ref.channel,
      thread_ts: ref.ts,
      text: message.text,
      blocks: message.blocks,
      ...NO_PREVIEWS,
    });
  }

  async ephemeral(channel: string, user: string, text: string): Promise<void> {
    await this.call('chat.postEphemeral', { channel, user, text });
  }

  private async call(method: string, body: Record<string, unknown>): Promise<SlackResponse> {
    const deadline =
      Date.now() + (method === 'chat.postEphemeral' ? this.clickTimeoutMs : this.messageTimeoutMs);
    const payload = JSON.stringify(body);
    let response = await this.send(method, payload, deadline);
    if (response.status === 429) {
      // Honour Retry-After once, and only if the wait still fits the budget; a caller answering a
      // click cannot wait 30 s, and a second 429 means Slack wants us to back off for real.
      const waitMs = retryAfterMs(response.headers.get('retry-after'));
      await response.body?.cancel();
      if (Date.now() + waitMs >= deadline) throw new DependencyError(`Slack ${method} rate limited`);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      response = await this.send(method, payload, deadline);
      if (response.status === 429) {
        await response.body?.cancel();
        throw new DependencyError(`Slack ${method} rate limited`);
      }
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DependencyError(`Slack ${method} failed with HTTP ${response.status}`);
    }
    let json: SlackResponse;
    try {
      json = (await response.json()) as SlackResponse;
    } catch (error) {
      // The fetch signal also bounds reading the body, so a stalled body surfaces here.
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        throw new DependencyError(`Slack ${method} timed out`);
      }
      throw new DependencyError(`Slack ${method} answered with something other than JSON`);
    }
    if (typeof json !== 'object' || json === null) {
      throw new DependencyError(`Slack ${method} answered with something other than an object`);
    }
    if (json.ok !== true) {
      const code =
        typeof json.error === 'string' && SLACK_ERROR_CODE.test(json.error) ? json.error : 'unknown_error';
      throw new DependencyError(`Slack ${method} failed: ${code}`, { details: { slackError: code } });
    }
    return json;
  }

  private async send(method: string, payload: string, deadline: number): Promise<Response> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new DependencyError(`Slack ${method} timed out`);
    try {
      return await this.fetchImpl(`${this.baseUrl}/${method}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          authorization: `Bearer ${this.botToken}`,
        },
        body: payload,
        signal: AbortSignal.timeout(remaining),
      });
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      // No `cause` on purpose: fetch errors can echo request details, and this error may be logged.
      throw new DependencyError(timedOut ? `Slack ${method} timed out` : `Slack ${method} unreachable`);
    }
  }
}

function retryAfterMs(header: string | null): number {
  if (header === null || !/^\s*\d{1,6}\s*$/.test(header)) return DEFAULT_RETRY_AFTER_MS;
  return Number(header) * 1000;
}
