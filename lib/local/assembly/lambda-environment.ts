import { dirname } from 'node:path';
import { BOOTSTRAP } from './lambda-runner.js';

/**
 * The environment Lambda gives a function's process, and the configurations it refuses: reserved
 * keys, and (locally) runtimes other than Node.js. The processes themselves are lambda-runner.ts's.
 */

/**
 * Keys Lambda reserves: a function configuration that sets one is refused
 * (InvalidParameterValueException, "Lambda was unable to configure your environment variables
 * because the environment variables you have provided contains reserved keys"). Lambda
 * Developer Guide, "Defined runtime environment variables".
 */
const LAMBDA_RESERVED_KEYS = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
] as const;

/** Keys the local runner reserves on top: the template must not point a function's SDK elsewhere. */
const LOCAL_RESERVED = /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$|^AWS_IGNORE_CONFIGURED_ENDPOINT_URLS$/;

export interface LambdaEnvironmentOptions {
  readonly region: string;
  /** The execution role's session, as Lambda hands it to the function. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  /** The local AWS endpoint, as AWS_ENDPOINT_URL (honoured by the AWS SDK for JavaScript v3 since 3.4xx). */
  readonly endpointUrl: string;
  /** The template's `Environment.Variables`, resolved. */
  readonly templateEnv: Readonly<Record<string, string>>;
}

class LambdaEnvironmentError extends Error {
  override readonly name = 'LambdaEnvironmentError';
}

/**
 * The environment a function's process gets: Lambda's defined runtime variables, the execution
 * role's credentials, AWS_ENDPOINT_URL, then the template's variables (which win for their own
 * keys, except reserved ones: Lambda refuses those at deploy time, so this throws).
 */
export function lambdaEnvironment(
  fn: {
    readonly name: string;
    readonly memorySize: number;
    readonly handler: string;
    readonly assetDir: string;
    readonly runtime: string;
    readonly logGroupName?: string;
  },
  options: LambdaEnvironmentOptions,
): Record<string, string> {
  const reserved = Object.keys(options.templateEnv).filter(
    (key) => (LAMBDA_RESERVED_KEYS as readonly string[]).includes(key) || LOCAL_RESERVED.test(key),
  );
  if (reserved.length > 0) {
    throw new LambdaEnvironmentError(
      `function ${fn.name} sets reserved environment variables (${reserved.join(', ')}); Lambda refuses such a configuration`,
    );
  }
  if (!/^nodejs\d+\.x$/.test(fn.runtime)) {
    throw new LambdaEnvironmentError(
      `function ${fn.name}: runtime ${fn.runtime} cannot run locally (Node.js runtimes only)`,
    );
  }
  return {
    AWS_REGION: options.region,
    AWS_DEFAULT_REGION: options.region,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_LAMBDA_LOG_GROUP_NAME: fn.logGroupName ?? `/aws/lambda/${fn.name}`,
    // Replaced by each execution environment (one stream per environment, as on Lambda).
    AWS_LAMBDA_LOG_STREAM_NAME: '',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    LAMBDA_TASK_ROOT: fn.assetDir,
    LAMBDA_RUNTIME_DIR: dirname(BOOTSTRAP),
    _HANDLER: fn.handler,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    AWS_ACCESS_KEY_ID: options.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: options.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: options.credentials.sessionToken,
    AWS_ENDPOINT_URL: options.endpointUrl,
    ...options.templateEnv,
  };
}
