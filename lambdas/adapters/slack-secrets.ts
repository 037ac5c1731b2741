import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError, DependencyError } from '../core/errors.js';
import type { Settings } from './settings.js';

export interface SlackSecrets {
  botToken: string;
  signingSecret: string;
}

/**
 * The Slack bot token and signing secret: given directly locally, read from Secrets Manager on AWS.
 * Never logged, never stored in DynamoDB.
 *
 * Either value may be empty: CloudFormation creates the secret with an empty `botToken` (and a random
 * `signingSecret` nobody knows) until the operator fills it in. Each use checks the value it needs
 * (see requireBotToken, requireSigningSecret), so an unfilled secret refuses Slack work only, never
 * a function's start or anything that does not touch Slack (a revoke, an API decision).
 */
export async function loadSlackSecrets(settings: Settings): Promise<SlackSecrets> {
  if (settings.slack.botToken && settings.slack.signingSecret) {
    return { botToken: settings.slack.botToken, signingSecret: settings.slack.signingSecret };
  }
  const secretArn = settings.slack.secretArn;
  if (!secretArn) throw new ConfigError('SLACK_SECRET_ARN', 'environment variable is required');
  // Region, endpoint (AWS_ENDPOINT_URL) and credentials are the SDK's standard ones.
  const client = new SecretsManagerClient({ region: settings.region, maxAttempts: 3 });
  let secretString: string | undefined;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    secretString = out.SecretString;
  } catch (error) {
    throw new DependencyError('The Slack secret could not be read from Secrets Manager. Retry.', {
      cause: error,
    });
  } finally {
    client.destroy();
  }
  let parsed: Partial<Record<keyof SlackSecrets, unknown>>;
  try {
    parsed = JSON.parse(secretString ?? '{}') as typeof parsed;
  } catch {
    throw new ConfigError('SLACK_SECRET_ARN', 'the secret is not JSON {"botToken","signingSecret"}');
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new ConfigError('SLACK_SECRET_ARN', 'the secret is not JSON {"botToken","signingSecret"}');
  }
  return {
    botToken: typeof parsed.botToken === 'string' ? parsed.botToken : '',
    signingSecret: typeof parsed.signingSecret === 'string' ? parsed.signingSecret : '',
  };
}

/** How long a read secret is reused: a filled-in secret is picked up by warm functions within this. */
export const SLACK_SECRET_TTL_MS = 5 * 60_000;

/**
 * The Slack secrets, read on first use and reused for SLACK_SECRET_TTL_MS. A failed read is not
 * remembered (the next use reads again), so a brief Secrets Manager outage fails only the calls
 * made during it.
 */
export function slackSecretsLoader(
  settings: Settings,
  now: () => number = Date.now,
): () => Promise<SlackSecrets> {
  let cached: { at: number; value: Promise<SlackSecrets> } | undefined;
  return () => {
    if (cached && now() - cached.at < SLACK_SECRET_TTL_MS) return cached.value;
    const value = loadSlackSecrets(settings);
    const entry = { at: now(), value };
    cached = entry;
    value.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return value;
  };
}

/** The bot token, or a DependencyError (retried by the workflow) while the secret is unfilled. */
export function requireBotToken(secrets: SlackSecrets): string {
  if (!secrets.botToken) {
    throw new DependencyError(
      'Slack is not set up: the Slack secret has no botToken (fill it in; see docs/deploy.md).',
    );
  }
  return secrets.botToken;
}
