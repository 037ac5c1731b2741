import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, listenLocal } from '../../lib/local/http-server.js';
import {
  createLocalSlack,
  type LocalSlack,
  SLACK_LIMITS,
  validateBlocks,
} from '../../lib/local/slack-api.js';

const BOT_TOKEN = 'local-test-bot-token';
const CHANNEL = 'C0123456789';

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const button = (overrides: Record<string, unknown> = {}) => ({
  type: 'button',
  action_id: 'approve',
  text: { type: 'plain_text', text: 'Approve' },
  value: 'req_01',
  style: 'primary',
  ...overrides,
});

describe('local Slack Web API sink', () => {
  let slack: LocalSlack;
  let server: LocalServer;

  beforeAll(async () => {
    slack = createLocalSlack({ botToken: BOT_TOKEN });
    server = await listenLocal(slack.handle);
  });

  afterAll(async () => {
    await server.close();
  });

  async function call(method: string, body: unknown, token: string | null = BOT_TOKEN, prefix = '/api') {
    const res = await fetch(`${server.url}${prefix}/${method}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { ok: boolean } };
  }

  const stored = (ts: unknown) => slack.messages().find((m) => m.ts === ts);

  it('posts a message and answers as Slack does', async () => {
    // Prepare
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'Access request' } },
      section('*deploy-bot* wants `dynamodb:PutItem`'),
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'req_01' }] },
      {
        type: 'actions',
        elements: [button(), button({ action_id: 'deny', style: 'danger', value: 'req_01' })],
      },
    ];

    // Act
    const { status, body } = await call('chat.postMessage', {
      channel: CHANNEL,
      text: 'Access request',
      blocks,
    });

    // Assess
    expect(status).toBe(200);
    expect(body).toMatchObject({
      ok: true,
      channel: CHANNEL,
      message: { type: 'message', text: 'Access request', blocks },
    });
    expect(body.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(stored(body.ts)).toEqual({ channel: CHANNEL, ts: body.ts, text: 'Access request', blocks });
  });

  it('gives every message a unique, increasing ts', async () => {
    // Act
    const answers = [];
    for (let i = 0; i < 30; i++)
      answers.push((await call('chat.postMessage', { channel: CHANNEL, text: `n${i}` })).body);

    // Assess
    const ts = answers.map((a) => a.ts as string);
    expect(new Set(ts).size).toBe(ts.length);
    const numeric = ts.map((t) => BigInt(t.replace('.', '')));
    expect(numeric.every((n, i) => i === 0 || n > (numeric[i - 1] as bigint))).toBe(true);
  });

  it('refuses a missing or wrong bot token and stores nothing', async () => {
    // Prepare
    const before = slack.messages().length;

    // Act
    const missing = await call('chat.postMessage', { channel: CHANNEL, text: 'x' }, null);
    const wrong = await call('chat.postMessage', { channel: CHANNEL, text: 'x' }, 'xoxb-someone-else');

    // Assess
    expect(missing.body).toEqual({ ok: false, error: 'not_authed' });
    expect(wrong.body).toEqual({ ok: false, error: 'invalid_auth' });
    expect(slack.messages()).toHaveLength(before);
  });

  it('applies chat.update in place, keeps blocks when only text changes, and marks the message edited', async () => {
    // Prepare
    const posted = (
      await call('chat.postMessage', { channel: CHANNEL, text: 'pending', blocks: [section('pending')] })
    ).body;

    // Act
    const first = await call('chat.update', {
      channel: CHANNEL,
      ts: posted.ts,
      text: 'approved',
      blocks: [section('approved by alice')],
    });
    const second = await call('chat.update', { channel: CHANNEL, ts: posted.ts, text: 'approved (final)' });
    const unknown = await call('chat.update', { channel: CHANNEL, ts: '1.000001', text: 'x' });

    // Assess
    expect(first.body).toMatchObject({ ok: true, channel: CHANNEL, ts: posted.ts, text: 'approved' });
    expect(second.body.ok).toBe(true);
    expect(stored(posted.ts)).toEqual({
      channel: CHANNEL,
      ts: posted.ts,
      text: 'approved (final)',
      blocks: [section('approved by alice')],
      edited: true,
    });
    expect(unknown.body).toEqual({ ok: false, error: 'message_not_found' });
    expect(slack.messages().filter((m) => m.ts === posted.ts)).toHaveLength(1);
  });

  it('records thread replies and ephemerals, newest last', async () => {
    // Prepare
    const parent = (await call('chat.postMessage', { channel: CHANNEL, text: 'parent' })).body;

    // Act
    const reply = await call('chat.postMessage', { channel: CHANNEL, thread_ts: parent.ts, text: 'decided' });
    const orphan = await call('chat.postMessage', { channel: CHANNEL, thread_ts: '1.000002', text: 'lost' });
    const ephemeral = await call('chat.postEphemeral', {
      channel: CHANNEL,
      user: 'U0ALICE',
      text: 'You cannot approve your own request',
    });
    const updateEphemeral = await call('chat.update', {
      channel: CHANNEL,
      ts: ephemeral.body.message_ts,
      text: 'x',
    });

    // Assess
    expect(reply.body).toMatchObject({ ok: true, message: { thread_ts: parent.ts } });
    expect(orphan.body).toEqual({ ok: false, error: 'thread_not_found' });
    expect(ephemeral.body).toEqual({ ok: true, message_ts: expect.stringMatching(/^\d{10}\.\d{6}$/) });
    expect(updateEphemeral.body).toEqual({ ok: false, error: 'message_not_found' });
    const [lastReply, last] = slack.messages().slice(-2);
    expect(lastReply).toMatchObject({ thread_ts: parent.ts, text: 'decided' });
    expect(last).toEqual({
      channel: CHANNEL,
      ts: ephemeral.body.message_ts,
      text: 'You cannot approve your own request',
      ephemeral: true,
      user: 'U0ALICE',
    });
  });

  it('enforces Slack’s limits with invalid_blocks and a JSON pointer, and stores nothing refused', async () => {
    // Prepare
    const before = slack.messages().length;
    const cases: Array<[unknown[], string]> = [
      [Array.from({ length: 51 }, () => ({ type: 'divider' })), '[json-pointer:/blocks]'],
      [[section('x'.repeat(3001))], '[json-pointer:/blocks/0/text/text]'],
      [
        [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }],
        '[json-pointer:/blocks/0/text/text]',
      ],
      [
        [{ type: 'context', elements: [{ type: 'mrkdwn', text: 'c'.repeat(3001) }] }],
        '[json-pointer:/blocks/0/elements/0/text]',
      ],
      [
        [{ type: 'actions', elements: [button({ value: 'v'.repeat(2001) })] }],
        '[json-pointer:/blocks/0/elements/0/value]',
      ],
      [
        [{ type: 'actions', elements: [button({ action_id: 'a'.repeat(256) })] }],
        '[json-pointer:/blocks/0/elements/0/action_id]',
      ],
      [
        [{ type: 'actions', elements: [button(), button()] }],
        '[json-pointer:/blocks/0/elements/1/action_id]',
      ],
      [[{ type: 'header', text: { type: 'mrkdwn', text: '*bold*' } }], '[json-pointer:/blocks/0/text/type]'],
      [[{ type: 'sectionn', text: { type: 'mrkdwn', text: 'typo' } }], '[json-pointer:/blocks/0/type]'],
    ];

    // Act
    const answers = [];
    for (const [blocks] of cases)
      answers.push((await call('chat.postMessage', { channel: CHANNEL, text: 't', blocks })).body);
    const tooLong = await call('chat.postMessage', {
      channel: CHANNEL,
      text: 't'.repeat(SLACK_LIMITS.messageText + 1),
    });
    const atLimits = await call('chat.postMessage', {
      channel: CHANNEL,
      text: 't'.repeat(SLACK_LIMITS.messageText),
      blocks: [
        ...Array.from({ length: 48 }, () => section('x'.repeat(3000))),
        { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(150) } },
        { type: 'actions', elements: [button({ value: 'v'.repeat(2000), action_id: 'a'.repeat(255) })] },
      ],
    });

    // Assess
    answers.forEach((answer, i) => {
      expect(answer).toMatchObject({ ok: false, error: 'invalid_blocks' });
      expect((answer.errors as string[]).join('\n')).toContain(cases[i]![1]);
    });
    expect(tooLong.body).toEqual({ ok: false, error: 'msg_too_long' });
    expect(atLimits.body.ok).toBe(true);
    expect(slack.messages()).toHaveLength(before + 1);
  });

  it('works mounted under a prefix and with form-encoded bodies', async () => {
    // Act
    const prefixed = await call(
      'chat.postMessage',
      { channel: CHANNEL, text: 'prefixed' },
      BOT_TOKEN,
      '/local/slack/api',
    );
    const form = await fetch(`${server.url}/api/chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        channel: CHANNEL,
        text: 'form',
        blocks: JSON.stringify([section('form')]),
      }),
    });
    const unknown = await call('chat.delete', { channel: CHANNEL, ts: '1.1' });

    // Assess
    expect(prefixed.body.ok).toBe(true);
    expect(await form.json()).toMatchObject({ ok: true, message: { blocks: [section('form')] } });
    expect(unknown).toEqual({ status: 404, body: { ok: false, error: 'unknown_method' } });
  });

  it('validateBlocks accepts a typical approval message', () => {
    // Act
    const errors = validateBlocks([
      section('hello'),
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*Action*' },
          { type: 'plain_text', text: 'PutItem' },
        ],
      },
      { type: 'divider' },
      {
        type: 'actions',
        block_id: 'decide',
        elements: [button(), button({ action_id: 'deny', style: 'danger' })],
      },
    ]);

    // Assess
    expect(errors).toEqual([]);
  });
});
