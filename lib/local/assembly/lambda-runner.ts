import { type ChildProcess, fork } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Runs Lambda bundles as Lambda runs them: each execution environment is a fresh Node process
 * (lambda-bootstrap.mjs) with exactly the function's environment and its asset folder as cwd; one
 * event in flight per process; more processes under concurrent invokes (up to a cap per function,
 * then invokes queue); warm processes are reused; a process that crashes, fails its init or times
 * out is killed and replaced by a fresh one on the next invoke.
 */

/** The runtime interface client each execution environment runs (Lambda's LAMBDA_RUNTIME_DIR holds it). */
export const BOOTSTRAP = fileURLToPath(new URL('./lambda-bootstrap.mjs', import.meta.url));

/** Lambda's synchronous invocation response limit (Invoke API: 6 MB). */
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

export interface RunnableFunction {
  /** The physical function name (context.functionName, log prefix). */
  readonly name: string;
  readonly arn: string;
  readonly assetDir: string;
  /** `index.handler` */
  readonly handler: string;
  /** The complete environment of the process (see lambdaEnvironment); nothing of the parent's is added but PATH. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** @default `/aws/lambda/<name>` */
  readonly logGroupName?: string;
}

export type InvokeResult =
  | { readonly ok: true; readonly payload: unknown }
  | {
      readonly ok: false;
      readonly errorType: string;
      readonly errorMessage: string;
      readonly trace?: string[];
    };

export interface LambdaRunnerOptions {
  readonly log: (line: string) => void;
  /** @default process.execPath */
  readonly nodeBinary?: string;
  /** Execution environments per function before invokes queue. @default 10 */
  readonly maxConcurrency?: number;
}

export interface LambdaRunner {
  invoke(fn: RunnableFunction, event: unknown): Promise<InvokeResult>;
  /** Processes alive now, per function name (for tests and diagnostics). */
  processes(): Record<string, number>;
  stop(): Promise<void>;
}

interface RapidError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

type ChildMessage =
  | { type: 'ready' }
  | { type: 'init-error'; error: RapidError }
  | { type: 'result'; id: string; ok: true; payload: string }
  | { type: 'result'; id: string; ok: false; error: RapidError }
  | { type: 'crash'; error: RapidError };

/** Lambda's log stream names: `YYYY/MM/DD/[$LATEST]<32 hex>`. */
function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

class ExecutionEnvironment {
  readonly child: ChildProcess;
  readonly logStream = logStreamName();
  /** Resolves once init finished: undefined when ready, the init error otherwise. */
  readonly init: Promise<RapidError | undefined>;
  dead = false;
  private onMessage?: (message: ChildMessage) => void;
  private onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  private lastCrash?: RapidError;

  constructor(
    readonly fn: RunnableFunction,
    nodeBinary: string,
    log: (line: string) => void,
  ) {
    const env: Record<string, string> = { ...fn.env };
    if (env.PATH === undefined && process.env.PATH !== undefined) env.PATH = process.env.PATH;
    if (env.AWS_LAMBDA_LOG_STREAM_NAME !== undefined) env.AWS_LAMBDA_LOG_STREAM_NAME = this.logStream;
    // Lambda's Node runtime sizes the heap from the function's memory.
    const heap = Math.max(64, Math.floor(fn.memorySize * 0.9));
    this.child = fork(BOOTSTRAP, [], {
      cwd: fn.assetDir,
      env,
      execPath: nodeBinary,
      // Never the parent's flags (a test runner's loaders): the bundle runs in a bare node.
      execArgv: [`--max-old-space-size=${heap}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        log(`[${fn.name}] ${line}`),
      );
    }
    this.init = new Promise((resolveInit) => {
      this.onMessage = (message) => {
        if (message.type === 'ready') resolveInit(undefined);
        else if (message.type === 'init-error') resolveInit(message.error);
      };
      this.onExit = (code, signal) =>
        resolveInit(
          this.lastCrash ?? {
            errorType: 'Runtime.ExitError',
            errorMessage: `Runtime exited ${signal ? `with signal: ${signal}` : `with error: exit status ${code}`}`,
          },
        );
    });
    this.child.on('message', (message: ChildMessage) => {
      if (message.type === 'crash') this.lastCrash = message.error;
      this.onMessage?.(message);
    });
    this.child.on('exit', (code, signal) => {
      this.dead = true;
      this.onExit?.(code, signal);
    });
    this.child.on('error', () => {
      this.dead = true;
      this.onExit?.(null, null);
    });
  }

  /** Runs one event; resolves with its result, or with a timeout/exit error (the process is then dead). */
  run(event: unknown, deadlineMs: number, awsRequestId: string): Promise<InvokeResult> {
    return new Promise<InvokeResult>((done) => {
      let finished = false;
      const finish = (result: InvokeResult) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        done(result);
      };
      const timer = setTimeout(
        () => {
          this.kill();
          finish({
            ok: false,
            errorType: 'Sandbox.Timedout',
            errorMessage: `RequestId: ${awsRequestId} Error: Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`,
          });
        },
        Math.max(0, deadlineMs - Date.now()),
      );
      const fail = (error: RapidError) =>
        finish({
          ok: false,
          errorType: error.errorType,
          errorMessage: error.errorMessage,
          trace: error.trace ?? [],
        });
      this.onExit = (code, signal) => {
        fail(
          this.lastCrash ?? {
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${awsRequestId} Error: Runtime exited ${signal ? `with signal: ${signal}` : `with error: exit status ${code}`}`,
          },
        );
      };
      this.onMessage = (message) => {
        if (message.type === 'crash') {
          this.kill();
          fail(message.error);
          return;
        }
        if (message.type !== 'result' || message.id !== awsRequestId) return;
        if (!message.ok) {
          fail(message.error);
          return;
        }
        if (Buffer.byteLength(message.payload) > MAX_RESPONSE_BYTES) {
          fail({
            errorType: 'Function.ResponseSizeTooLarge',
            errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
          });
          return;
        }
        finish({ ok: true, payload: JSON.parse(message.payload) as unknown });
      };
      if (this.dead) {
        this.onExit(this.child.exitCode, this.child.signalCode);
        return;
      }
      const sent = (error: Error | null) => {
        if (!error) return;
        this.kill();
        fail({
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${awsRequestId} Error: ${error.message}`,
        });
      };
      try {
        this.child.send(
          {
            type: 'invoke',
            id: awsRequestId,
            event,
            context: {
              functionName: this.fn.name,
              functionVersion: '$LATEST',
              invokedFunctionArn: this.fn.arn,
              memoryLimitInMB: String(this.fn.memorySize),
              awsRequestId,
              logGroupName: this.fn.logGroupName ?? `/aws/lambda/${this.fn.name}`,
              logStreamName: this.logStream,
              deadlineMs,
            },
          },
          sent,
        );
      } catch (error) {
        // An event JSON cannot carry (a cycle, a BigInt) never reaches the function.
        finish({
          ok: false,
          errorType: 'InvalidRequestContentException',
          errorMessage: (error as Error).message,
        });
      }
    });
  }

  kill(): void {
    if (!this.dead && this.child.exitCode === null && this.child.signalCode === null)
      this.child.kill('SIGKILL');
    this.dead = true;
  }

  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((done) => this.child.once('exit', () => done()));
  }
}

interface Pool {
  readonly key: string;
  /** A newer configuration of the same function exists: this pool's processes end when idle. */
  retired: boolean;
  readonly all: Set<ExecutionEnvironment>;
  readonly idle: ExecutionEnvironment[];
  readonly waiting: Array<(env: ExecutionEnvironment | Error) => void>;
}

/** One pool per function configuration: a changed environment or bundle gets fresh processes. */
function poolKey(fn: RunnableFunction): string {
  return `${fn.name}\0${createHash('sha256').update(JSON.stringify(fn)).digest('hex')}`;
}

export function createLambdaRunner(options: LambdaRunnerOptions): LambdaRunner {
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const cap = options.maxConcurrency ?? 10;
  const pools = new Map<string, Pool>();
  let stopped = false;

  const killAll = () => {
    for (const pool of pools.values()) for (const env of pool.all) env.kill();
  };
  // No orphans: children also go when this process exits (they exit on IPC disconnect as well).
  process.on('exit', killAll);

  const release = (pool: Pool, env: ExecutionEnvironment) => {
    if (env.dead || stopped || pool.retired) {
      pool.all.delete(env);
      env.kill();
      // A slot freed: a queued invoke may start a fresh environment.
      const next = pool.waiting.shift();
      if (next && !stopped) next(spawn(pool, env.fn));
      else if (pool.retired && pool.all.size === 0) pools.delete(pool.key);
      return;
    }
    const next = pool.waiting.shift();
    if (next) next(env);
    else pool.idle.push(env);
  };

  const spawn = (pool: Pool, fn: RunnableFunction): ExecutionEnvironment => {
    const env = new ExecutionEnvironment(fn, nodeBinary, options.log);
    pool.all.add(env);
    return env;
  };

  const acquire = (pool: Pool, fn: RunnableFunction): Promise<ExecutionEnvironment | Error> => {
    while (pool.idle.length > 0) {
      const env = pool.idle.pop()!;
      if (!env.dead) return Promise.resolve(env);
      pool.all.delete(env);
    }
    if (pool.all.size < cap) return Promise.resolve(spawn(pool, fn));
    return new Promise((resolveWait) => pool.waiting.push(resolveWait));
  };

  return {
    async invoke(fn, event) {
      if (stopped) throw new Error('the Lambda runner is stopped');
      const key = poolKey(fn);
      let pool = pools.get(key);
      if (!pool) {
        // A function whose configuration changed (new credentials, a new bundle) starts over:
        // the old configuration's idle processes end now, busy ones when their event is done.
        for (const old of pools.values()) {
          if (old.retired || !old.key.startsWith(`${fn.name}\0`)) continue;
          old.retired = true;
          for (const idle of old.idle.splice(0)) {
            old.all.delete(idle);
            idle.kill();
          }
          if (old.all.size === 0) pools.delete(old.key);
        }
        pool = { key, retired: false, all: new Set(), idle: [], waiting: [] };
        pools.set(key, pool);
      }
      const acquired = await acquire(pool, fn);
      if (acquired instanceof Error) throw acquired;
      const env = acquired;
      // The function's timeout covers this invoke, including the init of a fresh environment.
      const deadlineMs = Date.now() + fn.timeoutSeconds * 1000;
      const awsRequestId = randomUUID();
      try {
        const initError = await Promise.race([
          env.init,
          new Promise<'timeout'>((r) =>
            setTimeout(() => r('timeout'), Math.max(0, deadlineMs - Date.now())).unref(),
          ),
        ]);
        if (initError === 'timeout') {
          env.kill();
          return {
            ok: false,
            errorType: 'Sandbox.Timedout',
            errorMessage: `RequestId: ${awsRequestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
          };
        }
        if (initError) {
          // Lambda discards an environment whose init failed and reports the init error.
          env.kill();
          return { ok: false, ...initError, trace: initError.trace ?? [] };
        }
        return await env.run(event, deadlineMs, awsRequestId);
      } finally {
        release(pool, env);
      }
    },
    processes() {
      const out: Record<string, number> = {};
      for (const pool of pools.values()) {
        for (const env of pool.all) {
          if (!env.dead) out[env.fn.name] = (out[env.fn.name] ?? 0) + 1;
        }
      }
      return out;
    },
    async stop() {
      stopped = true;
      const all = [...pools.values()].flatMap((pool) => [...pool.all]);
      for (const pool of pools.values()) {
        for (const wait of pool.waiting.splice(0)) wait(new Error('the Lambda runner stopped'));
      }
      for (const env of all) env.kill();
      await Promise.all(all.map((env) => env.exited()));
      pools.clear();
      process.off('exit', killAll);
    },
  };
}
