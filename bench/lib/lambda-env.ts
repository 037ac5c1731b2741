import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAMBDA_NODE_OPTIONS } from '../../lib/bundling.js';
import type { BenchStack } from './bench-stack.js';
import { type Answer, call } from './http.js';

/** bench/lambda-runtime.mjs: Lambda's runtime stand-in (plain Node, no TypeScript loader). */
export const LAMBDA_RUNTIME = join(dirname(fileURLToPath(import.meta.url)), '..', 'lambda-runtime.mjs');

/** The Slack secret the bundled handlers read at cold start (from the Secrets Manager stand-in). */
export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:countersign-slack-bench';

/**
 * The environment a deployed function has (lib/aws sets TABLE_NAME, STATE_MACHINE_ARN,
 * SLACK_SECRET_ARN, NODE_OPTIONS; Lambda sets AWS_REGION and the role's credentials), pointed at the
 * local stack: the SDK honours AWS_ENDPOINT_URL_<SERVICE>.
 */
export function lambdaEnvironment(
  stack: BenchStack,
  secretsUrl: string,
  options: { sourceMaps: boolean },
): Record<string, string> {
  const s = stack.settings;
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...(options.sourceMaps ? { NODE_OPTIONS: LAMBDA_NODE_OPTIONS } : {}),
    AWS_REGION: s.region,
    AWS_DEFAULT_REGION: s.region,
    AWS_ACCESS_KEY_ID: s.credentials!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.credentials!.secretAccessKey,
    // The SDK must not find a developer's profiles or config here.
    AWS_CONFIG_FILE: '/nonexistent/countersign-bench/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/countersign-bench/credentials',
    AWS_ENDPOINT_URL_DYNAMODB: s.endpoints.dynamodb!,
    AWS_ENDPOINT_URL_SFN: s.endpoints.sfn!,
    AWS_ENDPOINT_URL_STS: s.endpoints.sts!,
    AWS_ENDPOINT_URL_IAM: s.endpoints.iam!,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
    AWS_LAMBDA_FUNCTION_NAME: 'countersign-bench',
    TABLE_NAME: s.tableName,
    STATE_MACHINE_ARN: s.stateMachineArn!,
    SLACK_SECRET_ARN: SECRET_ARN,
    BENCH_SLACK_API: s.slack.apiUrl!,
  };
}

/** One raw call the floor makes, run by the Lambda host in the handler's process. */
export type FloorStep =
  | { group: string; client: 'dynamodb' | 'sfn' | 'secretsmanager'; command: string; input: unknown }
  | { group: string; slack: string; token: string; body: unknown }
  | { group: string; fetch: string };

/**
 * A warm "Lambda": one long-lived process running production bundles (lambda-runtime.mjs serve),
 * which also issues the floors' raw SDK calls, so handler and floor are timed in the same process,
 * apart from the local stack's workflow interpreter (which, on AWS, runs on other machines).
 */
export class LambdaHost {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(env: Record<string, string>, bundles: Record<string, string>): Promise<LambdaHost> {
    const child = spawn(
      process.execPath,
      [LAMBDA_RUNTIME, 'serve', ...Object.entries(bundles).map(([name, file]) => `${name}=${file}`)],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err = (err + c.toString('utf8')).slice(-4000);
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const onData = (c: Buffer) => {
        out += c.toString('utf8');
        const match = /BENCH_READY (\d+)/.exec(out);
        if (match) {
          // Keep draining the handlers' log lines so the pipe never fills.
          child.stdout?.off('data', onData);
          child.stdout?.on('data', () => undefined);
          resolve(Number(match[1]));
        }
      };
      child.stdout?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`lambda host exited (${code}): ${err.trim()}`)));
      child.once('error', reject);
    });
    return new LambdaHost(child, `http://127.0.0.1:${port}`);
  }

  /** Invokes a handler; `ms` is its duration inside the host, `rtt` the round trip seen from here. */
  async invoke<R = { statusCode: number; body: string }>(
    name: string,
    event: unknown,
  ): Promise<{ ms: number; result: R; rttMs: number }> {
    const answer = await this.post(`/invoke/${name}`, event);
    return { ms: Number(answer.body.ms), result: answer.body.result as R, rttMs: answer.ms };
  }

  /** Steps run in order; an array of steps runs at once, timed as one (under its first step's group). */
  async floor(steps: Array<FloorStep | FloorStep[]>): Promise<{ ms: Record<string, number>; rttMs: number }> {
    const answer = await this.post('/floor', { steps });
    return { ms: answer.body.ms as Record<string, number>, rttMs: answer.ms };
  }

  private async post(path: string, body: unknown): Promise<Answer> {
    const answer = await call(this.url, 'POST', path, { body });
    if (answer.status !== 200)
      throw new Error(`lambda host ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
