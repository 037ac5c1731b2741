import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaBuildOptions } from '../../../lib/bundling.js';
import { lambdaEnvironment } from '../../../lib/local/assembly/lambda-environment.js';
import {
  createLambdaRunner,
  type LambdaRunner,
  type RunnableFunction,
} from '../../../lib/local/assembly/lambda-runner.js';
import { PROJECT_ROOT } from '../../../lib/project-root.js';

/**
 * A tiny handler bundled the way the CDK bundles the real ones (lib/bundling.ts: ESM, minified),
 * once without and once with esbuild's keepNames, to show the runner reports error types exactly
 * as Lambda would: whatever `error.name` the bundle leaves.
 */
const SOURCE = `
class QuotaExceededError extends Error {
  constructor(message: string) {
    super(message);
    // The name comes from the class (lambdas/core/errors.ts spells names literally instead).
    this.name = new.target.name;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const handler = async (event: any, context: any) => {
  switch (event.action) {
    case 'throw':
      throw new QuotaExceededError('quota exceeded for ' + event.who);
    case 'env':
      console.log('reading the environment of', context.functionName);
      return { env: { ...process.env }, cwd: process.cwd(), context: { ...context, remaining: context.getRemainingTimeInMillis() } };
    case 'sleep': {
      const start = Date.now();
      await sleep(event.ms);
      return { pid: process.pid, start, end: Date.now() };
    }
    case 'exit':
      process.exit(3);
    case 'reject':
      Promise.reject(new RangeError('nobody awaited this'));
      await sleep(2000);
      return 'unreachable';
    default:
      return { pid: process.pid, echo: event };
  }
};
`;

let root: string;
let minifiedDir: string;
let keptDir: string;
let runner: LambdaRunner;
const logs: string[] = [];

async function bundle(dir: string, keepNames: boolean): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await build({
    ...lambdaBuildOptions(join(root, 'src', 'index.ts'), join(dir, 'index.mjs'), {}),
    absWorkingDir: PROJECT_ROOT,
    keepNames,
    sourcemap: false,
    logLevel: 'silent',
  });
}

function fn(assetDir: string, overrides: Partial<RunnableFunction> = {}): RunnableFunction {
  const name = overrides.name ?? 'Countersign-Tiny';
  const base = {
    name,
    arn: `arn:aws:lambda:eu-west-1:123456789012:function:${name}`,
    assetDir,
    handler: overrides.handler ?? 'index.handler',
    timeoutSeconds: overrides.timeoutSeconds ?? 10,
    memorySize: 256,
  };
  return {
    ...base,
    env: lambdaEnvironment(
      { ...base, runtime: 'nodejs24.x' },
      {
        region: 'eu-west-1',
        credentials: {
          accessKeyId: 'ASIALOCALTEST',
          secretAccessKey: 'local-secret',
          sessionToken: 'local-token',
        },
        endpointUrl: 'http://127.0.0.1:1',
        templateEnv: { TABLE_NAME: 'Countersign-Table' },
      },
    ),
    ...overrides,
  };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'countersign-runner-'));
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src', 'index.ts'), SOURCE);
  minifiedDir = join(root, 'minified');
  keptDir = join(root, 'kept');
  await Promise.all([bundle(minifiedDir, false), bundle(keptDir, true)]);
  runner = createLambdaRunner({ log: (line) => logs.push(line) });
});

afterAll(async () => {
  await runner?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('the Lambda runner', () => {
  it('reports a thrown error as Lambda does: error.name as the type, so a minified class name shows up minified', async () => {
    const minified = await runner.invoke(fn(minifiedDir, { name: 'Countersign-Minified' }), {
      action: 'throw',
      who: 'agent',
    });
    const kept = await runner.invoke(fn(keptDir, { name: 'Countersign-Kept' }), {
      action: 'throw',
      who: 'agent',
    });

    expect(kept).toMatchObject({
      ok: false,
      errorType: 'QuotaExceededError',
      errorMessage: 'quota exceeded for agent',
    });
    expect(kept.ok === false && kept.trace?.[0]).toContain('quota exceeded for agent');
    // Without keepNames esbuild renames the class; a Retry on "QuotaExceededError" would never match.
    expect(minified).toMatchObject({ ok: false, errorMessage: 'quota exceeded for agent' });
    expect(minified.ok === false && minified.errorType).not.toBe('QuotaExceededError');
    expect(minified.ok === false && minified.errorType).toMatch(/^[A-Za-z_$][\w$]{0,3}$/);
  });

  it('gives the child exactly its environment: nothing of the parent leaks in but PATH', async () => {
    process.env.COUNTERSIGN_RUNNER_CANARY = 'parent-only';
    try {
      const f = fn(keptDir);
      const result = await runner.invoke(f, { action: 'env' });
      expect(result.ok).toBe(true);
      const payload = (
        result as { payload: { env: Record<string, string>; cwd: string; context: Record<string, unknown> } }
      ).payload;
      expect(payload.env.COUNTERSIGN_RUNNER_CANARY).toBeUndefined();
      const expected = { ...f.env, AWS_LAMBDA_LOG_STREAM_NAME: payload.env.AWS_LAMBDA_LOG_STREAM_NAME };
      expect(payload.env).toEqual(expected);
      expect(payload.env).toMatchObject({
        AWS_REGION: 'eu-west-1',
        AWS_LAMBDA_FUNCTION_NAME: 'Countersign-Tiny',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        AWS_ACCESS_KEY_ID: 'ASIALOCALTEST',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
        TABLE_NAME: 'Countersign-Table',
        _HANDLER: 'index.handler',
      });
      expect(payload.env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(
        /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/,
      );
      expect(payload.cwd).toBe(keptDir);
      expect(payload.context).toMatchObject({
        functionName: 'Countersign-Tiny',
        functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:Countersign-Tiny',
        memoryLimitInMB: '256',
        logGroupName: '/aws/lambda/Countersign-Tiny',
        logStreamName: payload.env.AWS_LAMBDA_LOG_STREAM_NAME,
        callbackWaitsForEmptyEventLoop: true,
      });
      expect(payload.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(payload.context.remaining).toBeGreaterThan(8000);
      expect(payload.context.remaining).toBeLessThanOrEqual(10_000);
      // Console output reaches the log, prefixed with the function name, in Lambda's text format.
      expect(
        logs.some((l) =>
          /^\[Countersign-Tiny\] \S+Z\t[0-9a-f-]{36}\tINFO\treading the environment of Countersign-Tiny$/.test(
            l,
          ),
        ),
      ).toBe(true);
    } finally {
      delete process.env.COUNTERSIGN_RUNNER_CANARY;
    }
  });

  it('refuses an event JSON cannot carry, as the Invoke API does', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await runner.invoke(fn(keptDir, { name: 'Countersign-Cyclic' }), cyclic)).toMatchObject({
      ok: false,
      errorType: 'InvalidRequestContentException',
    });
  });

  it('reuses a warm process for the next event', async () => {
    const f = fn(keptDir, { name: 'Countersign-Warm' });
    const first = await runner.invoke(f, { action: 'echo' });
    const second = await runner.invoke(f, { action: 'echo', n: 2 });
    expect(first).toMatchObject({ ok: true });
    expect(second).toMatchObject({ ok: true, payload: { echo: { action: 'echo', n: 2 } } });
    expect((first as { payload: { pid: number } }).payload.pid).toBe(
      (second as { payload: { pid: number } }).payload.pid,
    );
  });

  it('starts over when a function is invoked with a new configuration (new credentials), ending the old processes', async () => {
    const before = fn(keptDir, { name: 'Countersign-Rotated' });
    const first = await runner.invoke(before, { action: 'echo' });
    const rotated = { ...before, env: { ...before.env, AWS_SESSION_TOKEN: 'rotated-token' } };
    const second = await runner.invoke(rotated, { action: 'env' });
    expect((second as { payload: { env: Record<string, string> } }).payload.env.AWS_SESSION_TOKEN).toBe(
      'rotated-token',
    );
    expect(runner.processes()['Countersign-Rotated']).toBe(1);
    const oldPid = (first as { payload: { pid: number } }).payload.pid;
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      try {
        process.kill(oldPid, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        break;
      }
    }
    expect(() => process.kill(oldPid, 0)).toThrow();
  });

  it('runs concurrent invokes in separate processes, one event in flight each', async () => {
    const f = fn(keptDir, { name: 'Countersign-Parallel' });
    const [a, b] = await Promise.all([
      runner.invoke(f, { action: 'sleep', ms: 1500 }),
      runner.invoke(f, { action: 'sleep', ms: 1500 }),
    ]);
    const pa = (a as { payload: { pid: number; start: number; end: number } }).payload;
    const pb = (b as { payload: { pid: number; start: number; end: number } }).payload;
    expect(pa.pid).not.toBe(pb.pid);
    // The two handlers ran at the same time.
    expect(pa.start).toBeLessThan(pb.end);
    expect(pb.start).toBeLessThan(pa.end);
    expect(runner.processes()['Countersign-Parallel']).toBe(2);
  });

  it('queues invokes beyond the concurrency cap instead of starting more processes', async () => {
    const capped = createLambdaRunner({ log: () => {}, maxConcurrency: 1 });
    try {
      const f = fn(keptDir, { name: 'Countersign-Capped' });
      const [a, b] = await Promise.all([
        capped.invoke(f, { action: 'sleep', ms: 500 }),
        capped.invoke(f, { action: 'sleep', ms: 500 }),
      ]);
      const pa = (a as { payload: { pid: number; start: number; end: number } }).payload;
      const pb = (b as { payload: { pid: number; start: number; end: number } }).payload;
      expect(pa.pid).toBe(pb.pid);
      expect(Math.max(pa.start, pb.start)).toBeGreaterThanOrEqual(Math.min(pa.end, pb.end));
    } finally {
      await capped.stop();
    }
  });

  it("ends an invoke at the function's timeout as Lambda does, and replaces the process", async () => {
    const f = fn(keptDir, { name: 'Countersign-Slow', timeoutSeconds: 1 });
    const warm = await runner.invoke(f, { action: 'echo' });
    const started = Date.now();
    const timedOut = await runner.invoke(f, { action: 'sleep', ms: 5000 });
    expect(Date.now() - started).toBeLessThan(4000);
    expect(timedOut).toMatchObject({ ok: false, errorType: 'Sandbox.Timedout' });
    expect(timedOut.ok === false && timedOut.errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    const after = await runner.invoke(f, { action: 'echo' });
    expect(after.ok).toBe(true);
    expect((after as { payload: { pid: number } }).payload.pid).not.toBe(
      (warm as { payload: { pid: number } }).payload.pid,
    );
  });

  it('reports a process that exits or leaves a rejection unhandled, and starts a fresh one', async () => {
    const f = fn(keptDir, { name: 'Countersign-Crashy' });
    expect(await runner.invoke(f, { action: 'exit' })).toMatchObject({
      ok: false,
      errorType: 'Runtime.ExitError',
    });
    expect(await runner.invoke(f, { action: 'reject' })).toMatchObject({
      ok: false,
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: 'RangeError: nobody awaited this',
    });
    expect(await runner.invoke(f, { action: 'echo' })).toMatchObject({ ok: true });
  });

  it('reports init failures with the runtime error types', async () => {
    const broken = join(root, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(
      join(broken, 'throws.mjs'),
      "class ConfigError extends Error { name = 'ConfigError' }\nthrow new ConfigError('TABLE_NAME is required');\n",
    );
    writeFileSync(join(broken, 'noexport.mjs'), 'export const other = () => 1;\n');
    const invoke = (handler: string) =>
      runner.invoke(fn(broken, { name: `Countersign-${handler}`, handler }), {});
    expect(await invoke('throws.handler')).toMatchObject({
      ok: false,
      errorType: 'ConfigError',
      errorMessage: 'TABLE_NAME is required',
    });
    expect(await invoke('noexport.handler')).toMatchObject({
      ok: false,
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'noexport.handler is undefined or not exported',
    });
    expect(await invoke('missing.handler')).toMatchObject({
      ok: false,
      errorType: 'Runtime.ImportModuleError',
    });
  });

  it.runIf(process.platform === 'linux')(
    'leaves no orphans when its own process exits or is killed',
    async () => {
      const script = join(root, 'parent.mts');
      writeFileSync(
        script,
        `import { createLambdaRunner } from ${JSON.stringify(join(PROJECT_ROOT, 'lib/local/assembly/lambda-runner.ts'))};
const runner = createLambdaRunner({ log: () => {} });
const dir = process.argv[2];
const result = await runner.invoke({ name: 'Countersign-Orphan', arn: 'arn:aws:lambda:eu-west-1:123456789012:function:Countersign-Orphan', assetDir: dir, handler: 'index.handler', env: { LAMBDA_TASK_ROOT: dir, _HANDLER: 'index.handler' }, timeoutSeconds: 10, memorySize: 128 }, { action: 'echo' });
console.log(JSON.stringify(result));
if (process.argv[3] === 'exit') process.exit(0);
setInterval(() => {}, 1000);
`,
      );
      // A zombie waiting for its reaper is not an orphan that runs.
      const running = (pid: number): boolean => {
        try {
          return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      };
      const childOf = async (mode: 'exit' | 'kill'): Promise<number> => {
        const parent = spawn(process.execPath, ['--import', 'tsx', script, keptDir, mode], {
          cwd: PROJECT_ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const line = await new Promise<string>((done) =>
          createInterface({ input: parent.stdout! }).once('line', (l) => done(l)),
        );
        const pid = (JSON.parse(line) as { payload: { pid: number } }).payload.pid;
        if (mode === 'kill') {
          expect(running(pid)).toBe(true);
          parent.kill('SIGKILL');
        }
        await new Promise((done) => parent.once('exit', done));
        return pid;
      };
      for (const mode of ['exit', 'kill'] as const) {
        const pid = await childOf(mode);
        const until = Date.now() + 5000;
        while (running(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        expect(running(pid), mode).toBe(false);
      }
    },
    60_000,
  );

  it('stops every process it started', async () => {
    const own = createLambdaRunner({ log: () => {} });
    const f = fn(keptDir, { name: 'Countersign-Stop' });
    const result = await own.invoke(f, { action: 'echo' });
    const pid = (result as { payload: { pid: number } }).payload.pid;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await own.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(own.processes()).toEqual({});
  });
});

describe('lambdaEnvironment', () => {
  const base = {
    name: 'Countersign-Fn',
    memorySize: 512,
    handler: 'index.handler',
    assetDir: '/tmp/x',
    runtime: 'nodejs22.x',
  };
  const options = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't' },
    endpointUrl: 'http://127.0.0.1:4566',
  };

  it("composes Lambda's variables, the role's credentials, the endpoint and the template's variables", () => {
    const env = lambdaEnvironment(
      { ...base, logGroupName: '/custom/group' },
      {
        ...options,
        templateEnv: { TABLE_NAME: 't', TZ: 'Europe/Paris', NODE_OPTIONS: '--enable-source-maps' },
      },
    );
    expect(env).toMatchObject({
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: 'Countersign-Fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_LOG_GROUP_NAME: '/custom/group',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: '/tmp/x',
      _HANDLER: 'index.handler',
      LANG: 'en_US.UTF-8',
      AWS_ACCESS_KEY_ID: 'ASIA1',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_SESSION_TOKEN: 't',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      TABLE_NAME: 't',
      // Not reserved: the template's value wins, as on Lambda.
      TZ: 'Europe/Paris',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('refuses reserved keys in the template, as Lambda refuses the configuration', () => {
    for (const key of [
      'AWS_REGION',
      'AWS_ACCESS_KEY_ID',
      '_HANDLER',
      'AWS_ENDPOINT_URL',
      'AWS_ENDPOINT_URL_DYNAMODB',
    ]) {
      expect(() => lambdaEnvironment(base, { ...options, templateEnv: { [key]: 'x' } })).toThrow(/reserved/);
    }
  });

  it('refuses a runtime it cannot run', () => {
    expect(() =>
      lambdaEnvironment({ ...base, runtime: 'python3.13' }, { ...options, templateEnv: {} }),
    ).toThrow(/python3\.13/);
  });
});
