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
  /**
   * ARN patterns of the deployment's own resources (table, state machine, functions, roles, secret,
   * key), never grantable (lambdas/core/never-grantable.ts). From COUNTERSIGN_OWN_RESOURCES, a JSON
   * list the CDK stack sets on request-access; request-access refuses to start without it.
   */
  ownResources?: string[];
  /** The claim function's role: its AssumeRole calls are Countersign minting sessions (the linker). */
  mintingRoleArn?: string;
  /** Service endpoints; absent on AWS (the SDK's defaults), loopback URLs locally. */
  endpoints: { dynamodb?: string; sfn?: string; sts?: string; iam?: string; kms?: string };
  /**
   * The history key (issue 12 #3): a KMS HMAC_256 key (`HISTORY_KEY_ID`), on AWS and against the
   * local AWS endpoint alike. Without it the history is unkeyed.
   */
  historyKey?: { kmsKeyId: string };
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

const sameIssuer = (a: string | undefined, b: string) =>
  a !== undefined && a.replace(/\/$/, '') === b.replace(/\/$/, '');

/** The issuer's JWT settings from configuration (`identity.*`, `roles`). */
export function jwtSettings(config: CountersignConfig, issuer: string, jwksUri?: string): JwtSettings {
  return {
    issuer,
    audience: config.identity.audience,
    // identity.jwksUri belongs to identity.issuer: an issuer given otherwise (the OidcIssuer
    // parameter, the local assembly's issuer) serves its keys at the standard path.
    jwksUri:
      jwksUri ??
      (config.identity.jwksUri && sameIssuer(config.identity.issuer, issuer)
        ? config.identity.jwksUri
        : undefined) ??
      `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    groupsClaim: config.identity.groupsClaim,
    roles: config.roles,
  };
}

/**
 * Settings on Lambda. The configuration is validated at synth and inlined at bundle time (see lib/aws);
 * the rest comes from the environment the template gives the function:
 * - `TABLE_NAME`, `AWS_REGION` (every function)
 * - `OIDC_ISSUER` (the functions that verify JWTs; the stack's `OidcIssuer` parameter)
 * - `STATE_MACHINE_ARN` (the functions that start or stop executions)
 * - `SLACK_SECRET_ARN`, `SLACK_API_URL` (the functions that call Slack)
 * - `COUNTERSIGN_ACCOUNT_ID` (revoke-request)
 *
 * Nothing here is read eagerly that a function may not need: a function without `OIDC_ISSUER` fails
 * only when it authenticates a token (a ConfigError, fail closed), never at start. Endpoints and
 * credentials are the SDK's own: `AWS_ENDPOINT_URL` and the `AWS_*` credential variables, which is
 * how the local assembly points the same bundles at its local AWS.
 */
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
  const issuer = env.OIDC_ISSUER?.trim() ?? '';
  let jwt: JwtSettings | undefined;
  return {
    config,
    region: required(env, 'AWS_REGION'),
    tableName: required(env, 'TABLE_NAME'),
    ...(env.STATE_MACHINE_ARN ? { stateMachineArn: env.STATE_MACHINE_ARN } : {}),
    ...(env.COUNTERSIGN_ACCOUNT_ID ? { account: env.COUNTERSIGN_ACCOUNT_ID } : {}),
    ...(env.COUNTERSIGN_OWN_RESOURCES
      ? { ownResources: ownResourcesFrom(env.COUNTERSIGN_OWN_RESOURCES) }
      : {}),
    ...(env.MINTING_ROLE_ARN ? { mintingRoleArn: env.MINTING_ROLE_ARN } : {}),
    ...(env.HISTORY_KEY_ID ? { historyKey: { kmsKeyId: env.HISTORY_KEY_ID } } : {}),
    endpoints: {},
    // Read on first use: the workflow functions and the linker verify no tokens and get no issuer.
    get jwt(): JwtSettings {
      if (!issuer) {
        throw new ConfigError(
          'OIDC_ISSUER',
          'no OIDC issuer is configured (the stack parameter OidcIssuer, from identity.issuer); every token is refused',
        );
      }
      jwt ??= jwtSettings(config, issuer);
      return jwt;
    },
    slack: {
      ...(env.SLACK_SECRET_ARN ? { secretArn: env.SLACK_SECRET_ARN } : {}),
      ...(env.SLACK_API_URL ? { apiUrl: env.SLACK_API_URL } : {}),
    },
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

/** COUNTERSIGN_OWN_RESOURCES: a JSON list of ARN patterns; anything else stops the function. */
function ownResourcesFrom(value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length === 0 ||
    !parsed.every((p) => typeof p === 'string' && p.startsWith('arn:'))
  ) {
    throw new ConfigError('COUNTERSIGN_OWN_RESOURCES', 'must be a JSON list of ARN patterns');
  }
  return parsed as string[];
}

/** The deployment's own resources, for request-access: without them it would grant access to itself. */
export function requireOwnResources(settings: Settings): string[] {
  if (!settings.ownResources) {
    throw new ConfigError('COUNTERSIGN_OWN_RESOURCES', 'environment variable is required');
  }
  return settings.ownResources;
}
