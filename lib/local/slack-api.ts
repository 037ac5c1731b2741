import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody, requestPath, sendJson } from './http-server.js';

/**
 * The Slack Web API sink of the local assembly (DESIGN.md §2): `chat.postMessage`, `chat.update`
 * and `chat.postEphemeral`, answered as Slack answers them, and kept so `GET /local/slack/messages`
 * can show what would have been posted. Slack's Block Kit limits are enforced, so a message that
 * Slack would refuse fails here too (`invalid_blocks`, with JSON pointers, as Slack reports them).
 */

export interface LocalSlackOptions {
  /** The only token accepted in `Authorization: Bearer …`. */
  readonly botToken: string;
  /**
   * Keep the messages in this JSON file (local mode on disk): a restart must still find the
   * approval message it posted, to rewrite it with the outcome, as Slack itself would.
   */
  readonly file?: string;
}

export interface LocalSlackMessage {
  readonly channel: string;
  readonly ts: string;
  readonly text?: string;
  readonly blocks?: unknown[];
  readonly thread_ts?: string;
  /** Set once chat.update changed the message. */
  readonly edited?: true;
  /** A chat.postEphemeral message, seen only by `user`. */
  readonly ephemeral?: true;
  readonly user?: string;
}

export interface LocalSlack {
  /** Node listener; the Web API method is the last path segment (`…/api/chat.postMessage`). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Every message, with updates applied, oldest first. Copies. */
  messages(): LocalSlackMessage[];
}

/** Slack's limits (api.slack.com/reference/block-kit, chat.postMessage). */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  messageText: 40_000,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  contextElements: 10,
  contextText: 3000,
  headerText: 150,
  actionsElements: 25,
  blockId: 255,
  actionId: 255,
  buttonText: 75,
  buttonValue: 2000,
  url: 3000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
} as const;

const BOT_USER = 'U0LOCALBOT';
const BOT_ID = 'B0LOCALBOT';
const APP_ID = 'A0LOCALAPP';
const KNOWN_BLOCKS = new Set([
  'section',
  'context',
  'header',
  'actions',
  'divider',
  'image',
  'input',
  'rich_text',
  'file',
  'video',
  'markdown',
]);

/**
 * Checks blocks against Slack's Block Kit limits; returns Slack-style error strings (empty when
 * valid). Exported so message builders can be unit-tested against the same rules.
 */
export function validateBlocks(blocks: unknown): string[] {
  const errors: string[] = [];
  const at = (pointer: string, message: string) => errors.push(`${message} [json-pointer:${pointer}]`);
  if (!Array.isArray(blocks)) {
    at('/blocks', 'must be an array');
    return errors;
  }
  if (blocks.length > SLACK_LIMITS.blocksPerMessage) {
    at('/blocks', `must contain at most ${SLACK_LIMITS.blocksPerMessage} items`);
  }
  const blockIds = new Set<string>();

  const maxLength = (value: unknown, max: number, pointer: string) => {
    if (typeof value === 'string' && value.length > max)
      at(pointer, `must be less than ${max + 1} characters`);
  };
  const textObject = (value: unknown, pointer: string, max: number, plainOnly = false) => {
    if (typeof value !== 'object' || value === null) return at(pointer, 'must be a text object');
    const t = value as { type?: unknown; text?: unknown };
    if (t.type !== 'plain_text' && (plainOnly || t.type !== 'mrkdwn')) {
      return at(`${pointer}/type`, plainOnly ? 'must be plain_text' : 'must be plain_text or mrkdwn');
    }
    if (typeof t.text !== 'string' || t.text.length === 0)
      return at(`${pointer}/text`, 'must be more than 0 characters');
    maxLength(t.text, max, `${pointer}/text`);
  };
  const element = (value: unknown, pointer: string, actionIds: Set<string>) => {
    if (typeof value !== 'object' || value === null) return at(pointer, 'must be an element object');
    const e = value as Record<string, unknown>;
    if (e.action_id !== undefined) {
      if (typeof e.action_id !== 'string') at(`${pointer}/action_id`, 'must be a string');
      maxLength(e.action_id, SLACK_LIMITS.actionId, `${pointer}/action_id`);
      if (typeof e.action_id === 'string') {
        if (actionIds.has(e.action_id)) at(`${pointer}/action_id`, 'duplicate action_id');
        actionIds.add(e.action_id);
      }
    }
    if (e.type === 'button') {
      textObject(e.text, `${pointer}/text`, SLACK_LIMITS.buttonText, true);
      maxLength(e.value, SLACK_LIMITS.buttonValue, `${pointer}/value`);
      maxLength(e.url, SLACK_LIMITS.url, `${pointer}/url`);
      if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger') {
        at(`${pointer}/style`, 'must be primary or danger');
      }
      if (e.confirm !== undefined) {
        const c = e.confirm as Record<string, unknown>;
        textObject(c.title, `${pointer}/confirm/title`, SLACK_LIMITS.confirmTitle, true);
        textObject(c.text, `${pointer}/confirm/text`, SLACK_LIMITS.confirmText);
        textObject(c.confirm, `${pointer}/confirm/confirm`, SLACK_LIMITS.confirmButton, true);
        textObject(c.deny, `${pointer}/confirm/deny`, SLACK_LIMITS.confirmButton, true);
      }
    } else if (typeof e.type !== 'string') {
      at(`${pointer}/type`, 'must be a string');
    }
  };

  /** A block's `elements`: 1 to `max` items, each checked by `each` at its own pointer. */
  const elements = (
    value: unknown,
    pointer: string,
    max: number,
    each: (element: unknown, pointer: string) => void,
  ) => {
    if (!Array.isArray(value) || value.length === 0) return at(pointer, 'must contain at least 1 item');
    if (value.length > max) at(pointer, `must contain at most ${max} items`);
    for (const [j, e] of value.entries()) each(e, `${pointer}/${j}`);
  };

  for (const [i, value] of blocks.entries()) {
    const pointer = `/blocks/${i}`;
    if (typeof value !== 'object' || value === null) {
      at(pointer, 'must be a block object');
      continue;
    }
    const b = value as Record<string, unknown>;
    if (typeof b.type !== 'string' || !KNOWN_BLOCKS.has(b.type)) {
      at(`${pointer}/type`, 'unsupported block type');
      continue;
    }
    if (b.block_id !== undefined) {
      maxLength(b.block_id, SLACK_LIMITS.blockId, `${pointer}/block_id`);
      if (typeof b.block_id === 'string') {
        if (blockIds.has(b.block_id)) at(`${pointer}/block_id`, 'duplicate block_id');
        blockIds.add(b.block_id);
      }
    }
    const actionIds = new Set<string>();
    switch (b.type) {
      case 'section': {
        if (b.text === undefined && b.fields === undefined) at(pointer, 'must provide text or fields');
        if (b.text !== undefined) textObject(b.text, `${pointer}/text`, SLACK_LIMITS.sectionText);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields)) {
            at(`${pointer}/fields`, 'must be an array');
          } else {
            if (b.fields.length > SLACK_LIMITS.sectionFields) {
              at(`${pointer}/fields`, `must contain at most ${SLACK_LIMITS.sectionFields} items`);
            }
            for (const [j, f] of b.fields.entries()) {
              textObject(f, `${pointer}/fields/${j}`, SLACK_LIMITS.sectionFieldText);
            }
          }
        }
        if (b.accessory !== undefined) element(b.accessory, `${pointer}/accessory`, actionIds);
        break;
      }
      case 'context':
        elements(b.elements, `${pointer}/elements`, SLACK_LIMITS.contextElements, (e, where) => {
          if ((e as { type?: unknown } | null)?.type !== 'image')
            textObject(e, where, SLACK_LIMITS.contextText);
        });
        break;
      case 'header':
        textObject(b.text, `${pointer}/text`, SLACK_LIMITS.headerText, true);
        break;
      case 'actions':
        elements(b.elements, `${pointer}/elements`, SLACK_LIMITS.actionsElements, (e, where) =>
          element(e, where, actionIds),
        );
        break;
      case 'image':
        maxLength(b.image_url, SLACK_LIMITS.url, `${pointer}/image_url`);
        break;
    }
  }
  return errors;
}

type SlackAnswer = Record<string, unknown> & { ok: boolean };

export function createLocalSlack(options: LocalSlackOptions): LocalSlack {
  if (!options.botToken) throw new Error('createLocalSlack: botToken is required');
  const expectedAuth = Buffer.from(`Bearer ${options.botToken}`);
  const messages: Array<{ -readonly [K in keyof LocalSlackMessage]: LocalSlackMessage[K] }> = [];
  let lastMicros = 0;
  if (options.file && existsSync(options.file)) {
    const kept = JSON.parse(readFileSync(options.file, 'utf8')) as typeof messages;
    messages.push(...kept);
    for (const m of kept) {
      const [seconds = '0', micros = '0'] = m.ts.split('.');
      lastMicros = Math.max(lastMicros, Number(seconds) * 1e6 + Number(micros));
    }
  }
  const persist = () => {
    if (!options.file) return;
    // Written whole and renamed into place: a crash mid-write leaves the previous file.
    const temp = `${options.file}.tmp`;
    writeFileSync(temp, JSON.stringify(messages));
    renameSync(temp, options.file);
  };

  /** Slack `ts`: seconds.microseconds, unique and increasing within this sink. */
  function nextTs(): string {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
    return `${Math.floor(lastMicros / 1e6)}.${String(lastMicros % 1e6).padStart(6, '0')}`;
  }

  function checkContent(body: Record<string, unknown>): SlackAnswer | undefined {
    const text = body.text;
    const blocks = body.blocks;
    if ((typeof text !== 'string' || text.length === 0) && blocks === undefined)
      return { ok: false, error: 'no_text' };
    if (text !== undefined && typeof text !== 'string') return { ok: false, error: 'invalid_arguments' };
    if (typeof text === 'string' && text.length > SLACK_LIMITS.messageText)
      return { ok: false, error: 'msg_too_long' };
    if (blocks !== undefined) {
      const errors = validateBlocks(blocks);
      if (errors.length > 0) {
        return {
          ok: false,
          error: 'invalid_blocks',
          errors,
          response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) },
        };
      }
    }
    return undefined;
  }

  const asMessage = (m: LocalSlackMessage) => ({
    type: 'message',
    user: BOT_USER,
    bot_id: BOT_ID,
    app_id: APP_ID,
    ts: m.ts,
    ...(m.text !== undefined ? { text: m.text } : { text: '' }),
    ...(m.blocks !== undefined ? { blocks: structuredClone(m.blocks) } : {}),
    ...(m.thread_ts !== undefined ? { thread_ts: m.thread_ts } : {}),
    ...(m.edited ? { edited: { user: BOT_USER, ts: nextTs() } } : {}),
  });

  const find = (channel: unknown, ts: unknown) =>
    messages.find((m) => !m.ephemeral && m.channel === channel && m.ts === ts);

  /** A new message from a (checked) postMessage or postEphemeral body, kept as Slack would show it. */
  const post = (
    channel: string,
    body: Record<string, unknown>,
    extra: Pick<LocalSlackMessage, 'ephemeral' | 'user'> = {},
  ): LocalSlackMessage => {
    const message: LocalSlackMessage = {
      channel,
      ts: nextTs(),
      ...(typeof body.text === 'string' ? { text: body.text } : {}),
      ...(body.blocks !== undefined ? { blocks: structuredClone(body.blocks as unknown[]) } : {}),
      ...(typeof body.thread_ts === 'string' ? { thread_ts: body.thread_ts } : {}),
      ...extra,
    };
    messages.push(message);
    return message;
  };

  const methods: Record<string, (body: Record<string, unknown>) => SlackAnswer> = {
    'chat.postMessage'(body) {
      const channel = body.channel;
      if (typeof channel !== 'string' || channel.length === 0)
        return { ok: false, error: 'channel_not_found' };
      const invalid = checkContent(body);
      if (invalid) return invalid;
      if (body.thread_ts !== undefined && !find(channel, body.thread_ts))
        return { ok: false, error: 'thread_not_found' };
      const message = post(channel, body);
      return { ok: true, channel, ts: message.ts, message: asMessage(message) };
    },

    'chat.update'(body) {
      if (typeof body.channel !== 'string' || body.channel.length === 0)
        return { ok: false, error: 'channel_not_found' };
      if (typeof body.ts !== 'string') return { ok: false, error: 'message_not_found' };
      const invalid = checkContent(body);
      if (invalid) return invalid;
      const message = find(body.channel, body.ts);
      if (!message) return { ok: false, error: 'message_not_found' };
      // As Slack: fields left out keep their previous value.
      if (typeof body.text === 'string') message.text = body.text;
      if (body.blocks !== undefined) message.blocks = structuredClone(body.blocks as unknown[]);
      message.edited = true;
      return {
        ok: true,
        channel: message.channel,
        ts: message.ts,
        text: message.text ?? '',
        message: asMessage(message),
      };
    },

    'chat.postEphemeral'(body) {
      const channel = body.channel;
      if (typeof channel !== 'string' || channel.length === 0)
        return { ok: false, error: 'channel_not_found' };
      if (typeof body.user !== 'string' || body.user.length === 0)
        return { ok: false, error: 'user_not_in_channel' };
      const invalid = checkContent(body);
      if (invalid) return invalid;
      const message = post(channel, body, { ephemeral: true, user: body.user });
      return { ok: true, message_ts: message.ts };
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Slack answers most failures with HTTP 200 and ok:false; callers must look at `ok`.
    const answer = (body: SlackAnswer, status = 200) =>
      sendJson(res, status, body, 'application/json; charset=utf-8');
    const method = requestPath(req).split('/').pop() ?? '';
    const run = Object.hasOwn(methods, method) ? methods[method] : undefined;
    if (!run) {
      req.resume();
      return answer({ ok: false, error: 'unknown_method' }, 404);
    }
    if (req.method !== 'POST') {
      req.resume();
      return answer({ ok: false, error: 'method_not_supported_for_channel_type' }, 405);
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, 2 * 1024 * 1024);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return answer({ ok: false, error: 'request_too_large' }, 413);
      throw error;
    }
    const auth = Buffer.from(String(req.headers.authorization ?? ''));
    if (auth.length === 0) return answer({ ok: false, error: 'not_authed' });
    if (auth.length !== expectedAuth.length || !timingSafeEqual(auth, expectedAuth)) {
      return answer({ ok: false, error: 'invalid_auth' });
    }
    const body = parseBody(String(req.headers['content-type'] ?? ''), raw.toString('utf8'));
    if (!body) return answer({ ok: false, error: 'invalid_json' });
    const result = run(body);
    if (result.ok) persist();
    return answer(result);
  }

  return {
    handle,
    messages: () => messages.map((m) => structuredClone(m) as LocalSlackMessage),
  };
}

/** JSON bodies, or form bodies where `blocks` is a JSON string (both are accepted by Slack). */
function parseBody(contentType: string, text: string): Record<string, unknown> | undefined {
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const body: Record<string, unknown> = Object.fromEntries(new URLSearchParams(text));
    if (typeof body.blocks === 'string') {
      try {
        body.blocks = JSON.parse(body.blocks);
      } catch {
        return undefined;
      }
    }
    return body;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
