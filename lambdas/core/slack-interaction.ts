import { ValidationError } from './errors.js';
import { REQUEST_ID } from './ids.js';

/**
 * Slack's interactivity request: `application/x-www-form-urlencoded` with one field, `payload`,
 * holding JSON. Countersign only ever sends two buttons, so only a `block_actions` payload with
 * exactly one of them is accepted; everything else is refused before it reaches the domain.
 * Parse only after the signature verified: this reads the same raw body the HMAC covered.
 */

/** Slack caps interaction payloads well below this; a larger body is not one of our buttons. */
export const MAX_INTERACTION_BYTES = 64 * 1024;
export const SLACK_ACTION_IDS = ['approve', 'deny'] as const;
export type SlackActionId = (typeof SLACK_ACTION_IDS)[number];

const SLACK_ID = /^[A-Z0-9]{2,32}$/;
const MESSAGE_TS = /^[0-9]{1,12}\.[0-9]{1,9}$/;

export interface SlackInteraction {
  teamId: string;
  appId: string;
  /** The clicker. Map it through `slack.users` in config; an unmapped user decides nothing. */
  userId: string;
  /** Display only: Slack lets users change it, so it never identifies an approver. */
  userName?: string;
  actionId: SlackActionId;
  requestId: string;
  channelId?: string;
  messageTs?: string;
  responseUrl?: string;
}

function refuse(message: string): never {
  throw new ValidationError('payload', message);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function slackId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !SLACK_ID.test(value)) refuse(`${what} is missing or not a Slack id`);
  return value;
}

function optionalSlackId(value: unknown, what: string): string | undefined {
  return value === undefined || value === null ? undefined : slackId(value, what);
}

/** Parses a verified interaction body; throws ValidationError('payload', …) for anything else. */
export function parseSlackInteraction(rawBody: string | Uint8Array): SlackInteraction {
  const size = typeof rawBody === 'string' ? Buffer.byteLength(rawBody, 'utf8') : rawBody.byteLength;
  if (size > MAX_INTERACTION_BYTES) refuse(`interaction body larger than ${MAX_INTERACTION_BYTES} bytes`);

  let body: string;
  try {
    body = typeof rawBody === 'string' ? rawBody : new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
  } catch {
    refuse('interaction body is not UTF-8');
  }
  const payloads = new URLSearchParams(body).getAll('payload');
  if (payloads.length !== 1) refuse('expected exactly one payload field');

  let parsed: unknown;
  try {
    parsed = JSON.parse(payloads[0] as string);
  } catch {
    refuse('payload is not JSON');
  }
  const payload = record(parsed);
  if (!payload) refuse('payload is not a JSON object');
  if (payload.type !== 'block_actions') refuse('only block_actions interactions are accepted');

  const teamId = slackId(record(payload.team)?.id, 'team.id');
  const appId = slackId(payload.api_app_id, 'api_app_id');
  const user = record(payload.user);
  const userId = slackId(user?.id, 'user.id');

  const actions = payload.actions;
  if (!Array.isArray(actions) || actions.length !== 1) refuse('expected exactly one action');
  const action = record(actions[0]);
  if (!action) refuse('action is not an object');
  const actionId = action.action_id;
  if (typeof actionId !== 'string' || !(SLACK_ACTION_IDS as readonly string[]).includes(actionId)) {
    refuse('unknown action_id');
  }
  if (action.type !== undefined && action.type !== 'button') refuse('action is not a button');
  const requestId = action.value;
  // A button `value` is a request id, nothing else (DESIGN.md §2): exactly what our buttons carry.
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
    refuse('action value is not a request id');
  }

  const interaction: SlackInteraction = {
    teamId,
    appId,
    userId,
    actionId: actionId as SlackActionId,
    requestId,
  };

  const userName = user?.username ?? user?.name;
  if (typeof userName === 'string' && userName.length > 0 && userName.length <= 256)
    interaction.userName = userName;

  const container = record(payload.container);
  const channelId = optionalSlackId(record(payload.channel)?.id ?? container?.channel_id, 'channel.id');
  if (channelId) interaction.channelId = channelId;

  const messageTs = container?.message_ts ?? record(payload.message)?.ts;
  if (messageTs !== undefined && messageTs !== null) {
    if (typeof messageTs !== 'string' || !MESSAGE_TS.test(messageTs)) refuse('message ts is malformed');
    interaction.messageTs = messageTs;
  }

  const responseUrl = payload.response_url;
  if (responseUrl !== undefined && responseUrl !== null) {
    if (typeof responseUrl !== 'string' || !isHttpsUrl(responseUrl))
      refuse('response_url is not an https URL');
    interaction.responseUrl = responseUrl;
  }
  return interaction;
}

function isHttpsUrl(value: string): boolean {
  if (value.length > 2048) return false;
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}
