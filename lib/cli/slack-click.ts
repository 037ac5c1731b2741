import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../local/config-file.js';
import { signedInteraction } from '../slack/interaction.js';
import { parseFlags, requestId, required } from './args.js';
import { CliError, EXIT, UsageError } from './exit-codes.js';
import { type CliIo, sanitize } from './output.js';
import { resolveEndpoint } from './settings.js';

/**
 * Local mode: clicks Approve or Deny on a request's Slack message as a Slack user would — a
 * `block_actions` payload signed with the local signing secret, posted to /v1/slack/interactions,
 * so the whole Slack path (signature, team and app, user mapping, the rules) runs as it does for a
 * real click. The secret comes from SLACK_SIGNING_SECRET, else the configuration's local section.
 */
export async function runSlackClick(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('slack-click', argv, {
    request: { type: 'string' },
    user: { type: 'string' },
    deny: { type: 'boolean', default: false },
    config: { type: 'string' },
  });
  const id = requestId('slack-click', flags.request);
  const user = required('slack-click', 'user', flags.user);
  if (!/^[A-Z0-9]{2,32}$/.test(user))
    throw new UsageError(`--user "${user}" is not a Slack user id (e.g. U0ALICE)`, 'slack-click');
  const config = loadConfigFile(flags.config ?? process.env.COUNTERSIGN_CONFIG ?? DEFAULT_CONFIG_PATH);
  const secret = process.env.SLACK_SIGNING_SECRET ?? config.local?.slackSigningSecret;
  if (!secret)
    throw new CliError('no signing secret: set SLACK_SIGNING_SECRET or local.slackSigningSecret', EXIT.usage);
  const signed = signedInteraction({
    secret,
    requestId: id,
    userId: user,
    actionId: flags.deny ? 'deny' : 'approve',
    teamId: config.slack.teamId,
    appId: config.slack.appId,
    channelId: config.slack.channel,
  });
  const endpoint = resolveEndpoint(flags.endpoint, process.env);
  const response = await fetch(new URL('/v1/slack/interactions', endpoint), {
    method: 'POST',
    headers: signed.headers,
    body: signed.body,
  });
  const text = await response.text();
  let answer: { ok?: boolean; code?: string; message?: string; outcome?: string } = {};
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    // Not JSON: shown below as it is.
  }
  if (response.status === 200 && answer.ok) {
    io.out(
      `${flags.deny ? 'Denied' : 'Approved'} ${id} as ${user}${answer.outcome ? ` (${sanitize(answer.outcome)})` : ''}\n`,
    );
    return EXIT.ok;
  }
  io.err(
    `countersign: the click was refused: ${response.status} ${sanitize(answer.code ?? '')} ${sanitize(answer.message ?? text)}\n`,
  );
  return EXIT.error;
}
