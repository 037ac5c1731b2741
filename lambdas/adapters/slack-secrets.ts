import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../core/errors.js';
import type { Settings } from './settings.js';

export interface SlackSecrets {
  botToken: string;
  signingSecret: string;
}

/**
 * The Slack bot token and signing secret: given directly locally, read once per cold start from
 * Secrets Manager on AWS. Never logged, never stored in DynamoDB.
 */
export async function loadSlackSecrets(settings: Settings): Promise<SlackSecrets> {
  if (settings.slack.botToken && settings.slack.signingSecret) {
    return { botToken: settings.slack.botToken, signingSecret: settings.slack.signingSecret };
  }
  const secretArn = settings.slack.secretArn;
  if (!secretArn) throw new ConfigError('SLACK_SECRET_ARN', 'environment variable is required');
  const client = new SecretsManagerClient({ region: settings.region });
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  let parsed: Partial<SlackSecrets>;
  try {
    parsed = JSON.parse(out.SecretString ?? '{}') as Partial<SlackSecrets>;
  } catch {
    throw new ConfigError('SLACK_SECRET_ARN', 'the secret is not JSON {"botToken","signingSecret"}');
  }
  if (!parsed.botToken || !parsed.signingSecret) {
    throw new ConfigError('SLACK_SECRET_ARN', 'the secret must hold botToken and signingSecret');
  }
  return { botToken: parsed.botToken, signingSecret: parsed.signingSecret };
}
