import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, join } from 'node:path';
import type { ProcessCredentials } from '../../lambdas/core/model.js';
import { clientFor, parseFlags, positiveSeconds } from './args.js';
import { EXIT, UsageError } from './exit-codes.js';
import { type CliIo, sanitize } from './output.js';
import { REQUEST_OPTIONS, reportOutcome, requestBody, submitAndWait } from './request.js';

/**
 * What the command must not inherit: anything that lets it act as the agent, or as anyone but the
 * granted session (DESIGN.md §5). A command granted one action must not be able to ask for more in
 * the agent's name, nor fall back to the parent's own AWS identity.
 *
 * - Every `COUNTERSIGN_*` variable except the endpoint: the token and the token file's path
 *   (an OIDC token file, e.g. a projected Kubernetes token, is the agent's identity), and any
 *   credential a later version adds. Matched by prefix, so new ones are covered by default.
 * - The parent's AWS identity in every form the SDKs and CLI read: profiles (the JS SDK v3 ignores
 *   AWS_ACCESS_KEY_ID when AWS_PROFILE is set), the shared credentials and config files (profiles
 *   with keys, `credential_process`, SSO), web identity (EKS IRSA: AWS_ROLE_ARN +
 *   AWS_WEB_IDENTITY_TOKEN_FILE), container credentials (ECS task roles), legacy key names, the
 *   legacy session token variable, and bearer tokens (Bedrock API keys).
 * The session's own keys are then set. The instance metadata service cannot be removed from a
 * process; AWS_EC2_METADATA_DISABLED keeps the SDKs from falling back to it (docs/security.md).
 */
const KEPT_COUNTERSIGN = new Set(['COUNTERSIGN_ENDPOINT']);
const STRIPPED_AWS = new Set([
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_SECURITY_TOKEN',
  'AWS_ACCESS_KEY',
  'AWS_SECRET_KEY',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_SESSION_EXPIRATION',
]);
/** Bearer-token style credentials (AWS_BEARER_TOKEN_BEDROCK, …), by pattern. */
const AWS_BEARER = /^AWS_BEARER_TOKEN_/i;

function stripped(name: string): boolean {
  const upper = name.toUpperCase();
  if (upper.startsWith('COUNTERSIGN_')) return !KEPT_COUNTERSIGN.has(upper);
  return STRIPPED_AWS.has(upper) || AWS_BEARER.test(upper);
}

/** The child's environment: the caller's, minus what `stripped` names, plus the session. Exported for its test. */
function commandEnv(
  base: NodeJS.ProcessEnv,
  credentials: ProcessCredentials,
  resource: string,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Names compared case-insensitively: Windows environments are, and a lower-case copy must not slip through.
  for (const [name, value] of Object.entries(base)) if (!stripped(name)) env[name] = value;
  env.AWS_EC2_METADATA_DISABLED = 'true';
  env.AWS_ACCESS_KEY_ID = credentials.AccessKeyId;
  env.AWS_SECRET_ACCESS_KEY = credentials.SecretAccessKey;
  env.AWS_SESSION_TOKEN = credentials.SessionToken;
  env.AWS_CREDENTIAL_EXPIRATION = credentials.Expiration;
  // The region the caller chose, else the ARN's. Both names: the SDKs and AWS CLI v2 read
  // AWS_REGION, AWS CLI v1 (and boto3 before 1.28) read only AWS_DEFAULT_REGION.
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || resource.split(':')[3];
  if (region) {
    env.AWS_REGION ||= region;
    env.AWS_DEFAULT_REGION ||= region;
  }
  return env;
}

/**
 * request → wait → claim → run. The credentials go only into the child's environment; they are
 * never printed, and the command's stdout is its own.
 */
export async function runExec(argv: string[], io: CliIo): Promise<number> {
  const split = argv.indexOf('--');
  if (split < 0 || split === argv.length - 1) {
    throw new UsageError('give the command to run after --, e.g. -- aws dynamodb put-item …', 'exec');
  }
  const flags = parseFlags('exec', argv.slice(0, split), REQUEST_OPTIONS);
  const [command, ...args] = argv.slice(split + 1) as [string, ...string[]];
  const body = requestBody('exec', flags);
  // Before asking anyone for anything: a typo in the command must not cost an approval.
  if (!findExecutable(command, io.env)) {
    io.err(`countersign: cannot run ${sanitize(command, 200)}: command not found (nothing was requested)\n`);
    return EXIT.commandNotFound;
  }
  const timeoutSeconds = positiveSeconds('exec', 'timeout', flags.timeout);
  const client = clientFor(flags, io);

  const { request, gaveUp } = await submitAndWait(client, body, flags['idempotency-key'], io, {
    enabled: true,
    timeoutSeconds,
  });
  if (gaveUp || request.status !== 'APPROVED') return reportOutcome(request, io, gaveUp, timeoutSeconds);

  const credentials = await client.claimCredentials(request.id);
  // The grant's end, not the STS session's Expiration (at least 900 s): the session policy ends
  // access at notAfter, whatever the session's own lifetime.
  const until = request.grant?.notAfter ?? credentials.Expiration;
  io.err(
    `countersign: running ${sanitize(command, 200)} as ${sanitize(request.id, 200)} until ${sanitize(until, 40)}\n`,
  );
  return runCommand(command, args, commandEnv(io.env, credentials, body.resource), io);
}

/**
 * Where `command` would be found as spawn finds it: a name containing a slash is a path; a bare
 * name is looked up on PATH. Only an executable regular file counts.
 */
function findExecutable(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const runnable = (file: string) => {
    try {
      if (!statSync(file).isFile()) return false;
      accessSync(file, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/') || (process.platform === 'win32' && command.includes('\\'))) {
    return runnable(command) ? command : undefined;
  }
  const extensions =
    process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    for (const ext of extensions) {
      const file = join(dir || '.', command + ext);
      if (runnable(file)) return file;
    }
  }
  return undefined;
}

/** Runs the command with inherited stdio and resolves with its exit code (128 + signal if killed). */
function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: 'inherit' });
    // Signals sent to this process (a supervisor's SIGTERM, a kill -INT) are passed on, and this
    // process stays alive until the command decides to end.
    const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
    const forward = (signal: NodeJS.Signals) => {
      child.kill(signal);
    };
    for (const signal of forwarded) process.on(signal, forward);
    const cleanup = () => {
      for (const signal of forwarded) process.off(signal, forward);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanup();
      const notFound = error.code === 'ENOENT';
      io.err(
        `countersign: cannot run ${sanitize(command, 200)}: ${notFound ? 'command not found' : (error.code ?? error.message)}\n`,
      );
      resolve(notFound ? EXIT.commandNotFound : EXIT.cannotRun);
    });
    child.once('exit', (code, signal) => {
      cleanup();
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
