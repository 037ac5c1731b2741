import { signSlackRequest } from '../../lambdas/core/slack-signature.js';

/**
 * Builds Slack interaction requests the way Slack sends them: a `block_actions` payload shaped like
 * the real thing, form-encoded as `payload=<json>`, signed with the signing secret over the exact
 * body bytes. `countersign slack-click` posts these to a local assembly's `/v1/slack/interactions`,
 * and so do the tests.
 */

export interface BlockActionsOptions {
  requestId: string;
  actionId?: string;
  teamId?: string;
  appId?: string;
  userId?: string;
  userName?: string;
  channelId?: string;
  messageTs?: string;
  /** Replace the `actions` array (to test zero or several actions). */
  actions?: unknown[];
  /** Extra or overriding top-level fields. */
  overrides?: Record<string, unknown>;
}

/** A `block_actions` payload as Slack sends it for a click on one of our buttons. */
export function blockActionsPayload(options: BlockActionsOptions): Record<string, unknown> {
  const teamId = options.teamId ?? 'T0123456789';
  const userId = options.userId ?? 'U0ALICE';
  const userName = options.userName ?? 'alice';
  const channelId = options.channelId ?? 'C0123456789';
  const messageTs = options.messageTs ?? '1700000000.000100';
  const actionId = options.actionId ?? 'approve';
  return {
    type: 'block_actions',
    user: { id: userId, username: userName, name: userName, team_id: teamId },
    api_app_id: options.appId ?? 'A0123456789',
    // Slack still sends the deprecated verification token; Countersign ignores it.
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: messageTs, channel_id: channelId, is_ephemeral: false },
    trigger_id: '1234567890.123456789012.abcdef0123456789abcdef0123456789',
    team: { id: teamId, domain: 'example' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channelId, name: 'approvals' },
    message: { type: 'message', ts: messageTs, text: 'Approval needed', bot_id: 'B0123456789' },
    state: { values: {} },
    response_url: `https://hooks.slack.com/actions/${teamId}/1234567890/abcdefABCDEF0123456789`,
    actions: options.actions ?? [
      {
        action_id: actionId,
        block_id: 'countersign_decision',
        text: { type: 'plain_text', text: actionId === 'deny' ? 'Deny' : 'Approve', emoji: true },
        value: options.requestId,
        style: actionId === 'deny' ? 'danger' : 'primary',
        type: 'button',
        action_ts: '1700000010.123456',
      },
    ],
    ...options.overrides,
  };
}

/** `payload=<json>`, form-encoded as Slack does (spaces as `+`, UTF-8 percent-encoded). */
export function encodeInteractionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface SignedSlackRequest {
  body: string;
  headers: {
    'content-type': 'application/x-www-form-urlencoded';
    'x-slack-request-timestamp': string;
    'x-slack-signature': string;
  };
}

/** Signs any raw body the way Slack would at `now`. */
export function signedSlackBody(secret: string, body: string, now: Date = new Date()): SignedSlackRequest {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signSlackRequest(secret, timestamp, body),
    },
  };
}

/** A complete, correctly signed button click, ready to post. */
export function signedInteraction(
  options: BlockActionsOptions & { secret: string; now?: Date },
): SignedSlackRequest {
  const { secret, now, ...payloadOptions } = options;
  return signedSlackBody(secret, encodeInteractionBody(blockActionsPayload(payloadOptions)), now);
}
