import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lambdaEnvironment } from '../lib/local/assembly/lambda-environment.js';
import { createLambdaRunner, type RunnableFunction } from '../lib/local/assembly/lambda-runner.js';
import { lambdaNodeBinary } from '../lib/local/lambda-node.js';
import { apiEvent } from './lib/api-event.js';
import { ALLOW_BODY, type BenchStack } from './lib/bench-stack.js';

/**
 * Cold start through the assembly's own Lambda runner (lib/local/assembly/lambda-runner.ts, the
 * one `npm start` uses): a fresh runner per run, so the first invoke forks a fresh Node process
 * that loads the function's bundle from its asset folder with the template's environment and its
 * role's credentials, and handles a real first event against the local AWS; a second invoke on the
 * same process is the warm figure. The floor is a hello-world bundle run the same way.
 */
export interface ColdStartResult {
  name: string;
  /** First invoke: fork, load the bundle, first event (what the goal compares). */
  cold: number[];
  /** Second invoke on the same process. */
  warm: number[];
  failures: string[];
}

export const HELLO_WORLD = 'hello-world';

/** Functions measured, with the first event each gets (a real one, prepared over HTTP). */
const MEASURED: Array<{ part: string; event: (stack: BenchStack, run: number) => Promise<unknown> }> = [
  {
    part: 'RequestAccess',
    event: async (stack, run) =>
      apiEvent('POST', '/v1/requests', { token: await stack.agent(`cold-agent-${run}`), body: ALLOW_BODY }),
  },
  {
    part: 'GetRequest',
    event: async (stack, run) => {
      const token = await stack.agent(`cold-agent-${run}`);
      const { id } = await stack.create(token, ALLOW_BODY);
      return apiEvent('GET', '/v1/requests/{id}', { id, token });
    },
  },
  {
    part: 'ClaimCredentials',
    event: async (stack, run) => {
      const token = await stack.agent(`cold-agent-${run}`);
      const { id } = await stack.create(token, ALLOW_BODY);
      return apiEvent('POST', '/v1/requests/{id}/credentials', {
        id,
        token,
        path: `/v1/requests/${id}/credentials`,
      });
    },
  },
];

function helloWorld(like: RunnableFunction, runtime: string): RunnableFunction {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-hello-'));
  writeFileSync(
    join(dir, 'index.mjs'),
    'export const handler = async () => ({ statusCode: 200, body: \'{"hello":"world"}\' });\n',
  );
  const shape = {
    name: HELLO_WORLD,
    memorySize: like.memorySize,
    handler: 'index.handler',
    assetDir: dir,
    runtime,
  };
  return {
    name: HELLO_WORLD,
    arn: like.arn.replace(/[^:]+$/, HELLO_WORLD),
    assetDir: dir,
    handler: 'index.handler',
    timeoutSeconds: like.timeoutSeconds,
    memorySize: like.memorySize,
    env: lambdaEnvironment(shape, {
      region: like.env.AWS_REGION ?? 'us-east-1',
      credentials: {
        accessKeyId: like.env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: like.env.AWS_SECRET_ACCESS_KEY ?? '',
        sessionToken: like.env.AWS_SESSION_TOKEN ?? '',
      },
      endpointUrl: like.env.AWS_ENDPOINT_URL ?? '',
      templateEnv: {},
    }),
  };
}

export async function measureColdStarts(
  stack: BenchStack,
  options: { runs: number },
): Promise<ColdStartResult[]> {
  const targets = MEASURED.map((m) => ({ ...m, fn: stack.fn(m.part) }));
  const runtimes = targets.map((t) => t.fn.model.runtime);
  const nodeBinary = lambdaNodeBinary(runtimes, () => undefined);
  const first = stack.runnable(targets[0]!.fn);
  const hello = helloWorld(first, targets[0]!.fn.model.runtime);
  const entries: Array<{
    name: string;
    runnable: () => RunnableFunction;
    event: (run: number) => Promise<unknown>;
  }> = [
    { name: HELLO_WORLD, runnable: () => hello, event: async () => ({}) },
    ...targets.map((t) => ({
      name: t.fn.name,
      runnable: () => stack.runnable(t.fn),
      event: (run: number) => t.event(stack, run),
    })),
  ];
  const results = entries.map((e): ColdStartResult => ({ name: e.name, cold: [], warm: [], failures: [] }));
  // Interleaved: run r measures every function once, so load changes hit all of them alike.
  for (let run = 0; run < options.runs; run++) {
    for (const [i, entry] of entries.entries()) {
      const result = results[i]!;
      const fn = entry.runnable();
      const event = await entry.event(run);
      const second = await entry.event(run + 1000);
      const runner = createLambdaRunner({ log: () => undefined, nodeBinary, maxConcurrency: 1 });
      try {
        const started = performance.now();
        const cold = await runner.invoke(fn, event);
        const coldMs = performance.now() - started;
        const warmStarted = performance.now();
        const warm = await runner.invoke(fn, second);
        const warmMs = performance.now() - warmStarted;
        const failed = [cold, warm].find(
          (r) => !r.ok || (r.payload as { statusCode?: number }).statusCode! >= 400,
        );
        if (failed) {
          result.failures.push(JSON.stringify(failed).slice(0, 300));
          continue;
        }
        result.cold.push(coldMs);
        result.warm.push(warmMs);
      } finally {
        await runner.stop();
      }
    }
  }
  return results;
}
