import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import { MAX_INTERACTION_BYTES, parseSlackInteraction } from '../../lambdas/core/slack-interaction.js';
import { blockActionsPayload, encodeInteractionBody } from '../support/slack.js';

const REQUEST_ID = 'req_abcdefghij0123456789';

function refused(body: string | Uint8Array): ValidationError {
  try {
    parseSlackInteraction(body);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('payload');
    return error as ValidationError;
  }
  throw new Error('expected parseSlackInteraction to refuse the body');
}

describe('parseSlackInteraction', () => {
  it('reads an approve click', () => {
    // Prepare
    const body = encodeInteractionBody(blockActionsPayload({ requestId: REQUEST_ID, userName: 'Zoë 李' }));
    // Act
    const interaction = parseSlackInteraction(body);
    // Assess
    expect(interaction).toEqual({
      teamId: 'T0123456789',
      appId: 'A0123456789',
      userId: 'U0ALICE',
      userName: 'Zoë 李',
      actionId: 'approve',
      requestId: REQUEST_ID,
      channelId: 'C0123456789',
      messageTs: '1700000000.000100',
      responseUrl: 'https://hooks.slack.com/actions/T0123456789/1234567890/abcdefABCDEF0123456789',
    });
  });

  it('reads a deny click from bytes', () => {
    const body = Buffer.from(
      encodeInteractionBody(blockActionsPayload({ requestId: REQUEST_ID, actionId: 'deny' })),
    );
    expect(parseSlackInteraction(body).actionId).toBe('deny');
  });

  it('takes the channel and ts from the container when the top-level fields are absent', () => {
    const payload = blockActionsPayload({
      requestId: REQUEST_ID,
      overrides: { channel: undefined, message: undefined },
    });
    const interaction = parseSlackInteraction(encodeInteractionBody(payload));
    expect(interaction.channelId).toBe('C0123456789');
    expect(interaction.messageTs).toBe('1700000000.000100');
  });

  it.each([
    ['view_submission', { type: 'view_submission' }],
    ['shortcut', { type: 'shortcut' }],
    ['interactive_message (legacy attachments)', { type: 'interactive_message' }],
    ['no type', { type: undefined }],
  ])('refuses another interaction type: %s', (_name, overrides) => {
    const error = refused(encodeInteractionBody(blockActionsPayload({ requestId: REQUEST_ID, overrides })));
    expect(error.message).toMatch(/block_actions/);
  });

  it('refuses zero actions and several actions', () => {
    const one = blockActionsPayload({ requestId: REQUEST_ID }).actions as unknown[];
    expect(
      refused(encodeInteractionBody(blockActionsPayload({ requestId: REQUEST_ID, actions: [] }))).message,
    ).toMatch(/exactly one action/);
    expect(
      refused(
        encodeInteractionBody(blockActionsPayload({ requestId: REQUEST_ID, actions: [...one, ...one] })),
      ).message,
    ).toMatch(/exactly one action/);
  });

  it.each(['Approve', 'approve ', 'revoke', 'approve_all', ''])(
    'refuses an unknown action_id %j',
    (actionId) => {
      expect(
        refused(encodeInteractionBody(blockActionsPayload({ requestId: REQUEST_ID, actionId }))).message,
      ).toMatch(/action_id/);
    },
  );

  it('refuses a non-button action', () => {
    const [action] = blockActionsPayload({ requestId: REQUEST_ID }).actions as Array<Record<string, unknown>>;
    const body = encodeInteractionBody(
      blockActionsPayload({ requestId: REQUEST_ID, actions: [{ ...action, type: 'static_select' }] }),
    );
    expect(refused(body).message).toMatch(/button/);
  });

  it.each([
    ['a task token', 'AAAAKgAAAAIAAAAAAAAAAQ'],
    ['too short', 'req_abc'],
    ['too long', `req_${'a'.repeat(41)}`],
    ['wildcard', 'req_*'],
    ['injection', 'req_abcdefghij0123456789 OR 1=1'],
    ['trailing newline', `${REQUEST_ID}\n`],
    ['empty', ''],
  ])('refuses a value that is not a request id: %s', (_name, requestId) => {
    expect(refused(encodeInteractionBody(blockActionsPayload({ requestId }))).message).toMatch(/request id/);
  });

  it('refuses a value that is not a string', () => {
    const [action] = blockActionsPayload({ requestId: REQUEST_ID }).actions as Array<Record<string, unknown>>;
    const body = encodeInteractionBody(
      blockActionsPayload({ requestId: REQUEST_ID, actions: [{ ...action, value: ['x'] }] }),
    );
    expect(refused(body).message).toMatch(/request id/);
  });

  it('refuses an oversize body before parsing it', () => {
    // Prepare: a valid payload padded past the limit.
    const padded = blockActionsPayload({
      requestId: REQUEST_ID,
      overrides: { padding: 'x'.repeat(MAX_INTERACTION_BYTES) },
    });
    // Act + Assess
    expect(refused(encodeInteractionBody(padded)).message).toMatch(/larger/);
  });

  it('refuses bodies that are not one JSON payload field', () => {
    const payload = JSON.stringify(blockActionsPayload({ requestId: REQUEST_ID }));
    refused('');
    refused('payload=');
    refused('payload=%7Bnot-json');
    refused(`payload=${encodeURIComponent('[1,2]')}`);
    refused(`payload=${encodeURIComponent('null')}`);
    refused(`other=${encodeURIComponent(payload)}`);
    refused(`payload=${encodeURIComponent(payload)}&payload=${encodeURIComponent(payload)}`);
    refused(payload); // a JSON body rather than the form encoding
    refused(new Uint8Array([0x70, 0x61, 0x79, 0xff, 0xfe])); // not UTF-8
  });

  it.each([
    ['team.id', { team: { id: 'not a team' } }],
    ['team missing', { team: undefined }],
    ['api_app_id', { api_app_id: 'a0123' }],
    ['user.id', { user: { id: '<@U123>' } }],
    ['channel.id', { channel: { id: 'C0123456789\n' } }],
    ['message ts', { container: { message_ts: '1700000000' }, message: undefined }],
    ['response_url http', { response_url: 'http://hooks.slack.com/actions/x' }],
    ['response_url not a URL', { response_url: 'hooks.slack.com' }],
  ])('refuses a malformed %s', (_name, overrides) => {
    refused(encodeInteractionBody(blockActionsPayload({ requestId: REQUEST_ID, overrides })));
  });

  it('leaves out a user name that is absent or absurdly long', () => {
    const long = blockActionsPayload({
      requestId: REQUEST_ID,
      overrides: { user: { id: 'U0ALICE', username: 'x'.repeat(300) } },
    });
    expect(parseSlackInteraction(encodeInteractionBody(long)).userName).toBeUndefined();
    const none = blockActionsPayload({ requestId: REQUEST_ID, overrides: { user: { id: 'U0ALICE' } } });
    expect(parseSlackInteraction(encodeInteractionBody(none)).userName).toBeUndefined();
  });
});
