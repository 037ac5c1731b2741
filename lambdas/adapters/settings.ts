import type { CountersignConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import type { JwtSettings } from './jwt-authenticator.js';

/**
 * Everything a handler needs to know about where it runs. On AWS it comes from the environment the
 * CDK stack sets (and the configuration esbuild inlined into the bundle); the local stack builds the
 * same object pointing at its stand-ins. Handlers never know which assembly they run in.
 */
export interface Settings {
  config: CountersignConfig;
  region: string;
  tableName: string;
  stateMachineArn?: string;
  /** The account the function runs in, whose roles its own credentials reach; unknown locally. */
  account?: string;
  /** The claim function's role: its AssumeRole calls are Countersign minting sessions (the linker). */
  mintingRoleArn?: string;
  /** Service endpoints; absent on AWS (the SDK's defaults), loopback URLs locally. */
  endpoints: { dynamodb?: string; sfn?: string; sts?: string; iam?: string; kms?: string };
  /**
   * The history key (issue 12 #3): a KMS HMAC_256 key (`HISTORY_KEY_ID`, on AWS and against the
   * local AWS endpoint), or a base64 key held here (local mode, from the data directory). Without
   * either the history is unkeyed.
   */
  historyKey?: { kmsKeyId: string } | { localKey: string };
  /** Static credentials for the local stand-ins only; on AWS the function's role is used. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  jwt: JwtSettings;
  slack: {
    apiUrl?: string;
    /** Secrets Manager secret holding {"botToken","signingSecret"} (AWS). */
    secretArn?: string;
    /** Given directly by the local stack. */
    botToken?: string;
    signingSecret?: string;
  };
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(name, 'environment variable is required');
  return value;
}

/** The issuer's JWT settings from configuration (`identity.*`, `roles`). */
export function jwtSettings(config: CountersignConfig, issuer: string, jwksUri?: string): JwtSettings {
  return {
    issuer,
    audience: config.identity.audience,
    jwksUri: jwksUri ?? config.identity.jwksUri ?? `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    groupsClaim: config.identity.groupsClaim,
    roles: config.roles,
  };
}

/** Settings on Lambda. The configuration is validated at synth and inlined at bundle time (see lib/aws). */
export function settingsFromEnvironment(env: Env = process.env): Settings {
  const inline = process.env.COUNTERSIGN_CONFIG_INLINE;
  if (!inline)
    throw new ConfigError(
      'COUNTERSIGN_CONFIG_INLINE',
      'the configuration was not bundled with this function',
    );
  // Validated with the schema at synth time (lib/aws) and inlined by esbuild as a constant: it is our
  // own build output, not input, so the Lambda does not carry the schema validator (zod) to re-check it.
  const config = JSON.parse(inline) as CountersignConfig;
  if (!Array.isArray(config.rules) || !Array.isArray(config.targets) || config.default !== 'deny') {
    throw new ConfigError('COUNTERSIGN_CONFIG_INLINE', 'the bundled configuration is malformed; redeploy');
  }
  const issuer = config.identity.issuer;
  if (!issuer) throw new ConfigError('identity.issuer', 'is required outside local mode');
  return {
    config,
    region: required(env, 'AWS_REGION'),
    tableName: required(env, 'TABLE_NAME'),
    ...(env.STATE_MACHINE_ARN ? { stateMachineArn: env.STATE_MACHINE_ARN } : {}),
    ...(env.COUNTERSIGN_ACCOUNT_ID ? { account: env.COUNTERSIGN_ACCOUNT_ID } : {}),
    ...(env.MINTING_ROLE_ARN ? { mintingRoleArn: env.MINTING_ROLE_ARN } : {}),
    ...(env.HISTORY_KEY_ID ? { historyKey: { kmsKeyId: env.HISTORY_KEY_ID } } : {}),
    endpoints: {},
    jwt: jwtSettings(config, issuer),
    slack: { ...(env.SLACK_SECRET_ARN ? { secretArn: env.SLACK_SECRET_ARN } : {}) },
  };
}

/** Client options for an AWS SDK client of `service` under these settings. */
export function clientOptions(settings: Settings, service: keyof Settings['endpoints']) {
  const endpoint = settings.endpoints[service];
  return {
    region: settings.region,
    ...(endpoint ? { endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    // The SDK's standard retry (3 attempts, jittered backoff) absorbs throttling; more would blow the
    // Slack click's 3-second budget.
    maxAttempts: 3,
  };
}

export function requireStateMachine(settings: Settings): string {
  if (!settings.stateMachineArn)
    throw new ConfigError('STATE_MACHINE_ARN', 'environment variable is required');
  return settings.stateMachineArn;
}
