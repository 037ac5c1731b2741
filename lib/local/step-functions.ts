import './polyfills.js';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import {
  createStepFunctionsApi,
  type ExecutionRecord,
  type StepFunctionsEngine,
  type TaskTokenState,
} from './step-functions-api.js';
import {
  functionName,
  type Json,
  prepareStates,
  type StateDef,
  type TaskPlan,
  unwrap,
} from './step-functions-plan.js';

/** How long after a task's timeout this side releases a callback the interpreter already timed out. */
const RELEASE_AFTER_TIMEOUT_MS = 250;

/**
 * A local Step Functions (Standard) service: the AWS JSON 1.0 API that `@aws-sdk/client-sfn` speaks
 * (step-functions-api.ts), in front of the `aws-local-stepfunctions` ASL interpreter, so handlers run
 * the same code and the same ASL file as on AWS (DESIGN.md §2). Lambda tasks call in-process
 * functions. This file is the engine: state machines, executions, task tokens and callback attempts.
 *
 * Where the interpreter and AWS differ, the service bends the interpreter towards AWS:
 * - `$$.Task.Token`: the interpreter only copies the `context` run option, so `Task.Token` is a
 *   getter that mints a fresh token each time a state's Parameters are evaluated (once per attempt).
 * - `TimeoutSecondsPath` is resolved by AWS against the state input, by the interpreter against the
 *   Parameters output; the path is moved into Parameters (`__local.timeoutSeconds`) so both agree
 *   (step-functions-plan.ts).
 * - A callback token must die when its state times out; the interpreter does not say so, so the
 *   same timeout is armed here too (armed first, so it fires first).
 */
export type LocalFunction = (payload: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  /** Definitions with every `${…}` substitution already applied. */
  readonly stateMachines: ReadonlyArray<{ readonly name: string; readonly definition: object }>;
  /** Lambda function ARN or name → the handler that stands in for it. */
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly account?: string;
  /** Wait state name → milliseconds to wait instead of what the state says (tests). */
  readonly waitTimeOverrides?: Readonly<Record<string, number>>;
  /** Retryable state name → milliseconds between retries instead of IntervalSeconds (tests). */
  readonly retryIntervalOverrides?: Readonly<Record<string, number | number[]>>;
  /** Where warnings go. Never given a task token. @default console.warn */
  readonly log?: (message: string) => void;
}

export interface LocalStepFunctions {
  /** Node listener for the JSON 1.0 API; ignores the path, so it can be mounted under any prefix. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** The same API without HTTP: `target` is X-Amz-Target, `body` the parsed request. */
  handleJson(target: string, body: unknown): Promise<{ status: number; body: unknown }>;
  stateMachineArn(name: string): string;
  executions(): ExecutionRecord[];
  /** Resolves when the execution leaves RUNNING. */
  whenDone(executionArn: string): Promise<ExecutionRecord>;
  /** Aborts every running execution and invalidates every token. */
  stop(): Promise<void>;
}

/** A task failure as the interpreter sees it: `name` is the ASL Error, `message` the Cause. */
class TaskFailure extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}

interface Machine {
  readonly arn: string;
  readonly name: string;
  readonly interpreter: StateMachine;
  readonly tasks: ReadonlyMap<string, TaskPlan>;
  readonly definition: string;
  readonly creationDate: Date;
}

interface TokenEntry {
  readonly execution: Execution;
  status: 'minted' | 'waiting' | 'closed';
  attempt?: Attempt;
}

/** One attempt of one callback state; all tokens found in its Payload settle it. */
interface Attempt {
  readonly tokens: string[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Execution {
  record: ExecutionRecord;
  readonly machine: Machine;
  readonly tokens: Set<string>;
  unclaimed: string[];
  abort?: () => void;
  readonly done: Promise<ExecutionRecord>;
  readonly finish: (record: ExecutionRecord) => void;
}

export function createLocalStepFunctions(options: LocalStepFunctionsOptions): LocalStepFunctions {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '123456789012';
  const log = options.log ?? ((message: string) => console.warn(message));
  const machines = new Map<string, Machine>();
  const executions = new Map<string, Execution>();
  const tokens = new Map<string, TokenEntry>();
  let stopped = false;

  const stateMachineArn = (name: string) => `arn:aws:states:${region}:${account}:stateMachine:${name}`;
  const executionArnOf = (machine: { name: string }, name: string) =>
    `arn:aws:states:${region}:${account}:execution:${machine.name}:${name}`;

  for (const { name, definition } of options.stateMachines) {
    const arn = stateMachineArn(name);
    if (machines.has(arn)) throw new Error(`state machine ${name} is defined twice`);
    // Validates the definition as written (throws with the validator's explanation).
    new StateMachine(definition as StateMachineDefinition);
    const copy = structuredClone(definition) as { States?: Record<string, StateDef> };
    const tasks = new Map<string, TaskPlan>();
    prepareStates(copy, tasks, name, log);
    machines.set(arn, {
      arn,
      name,
      interpreter: new StateMachine(copy as unknown as StateMachineDefinition, {
        validationOptions: { noValidate: true },
      }),
      tasks,
      definition: JSON.stringify(definition),
      creationDate: new Date(),
    });
  }

  function resolveFunction(nameOrArn: unknown): LocalFunction {
    if (typeof nameOrArn !== 'string') {
      throw new TaskFailure('States.Runtime', 'FunctionName must be a string');
    }
    const exact = options.functions[nameOrArn];
    if (exact) return exact;
    const wanted = functionName(nameOrArn);
    for (const [key, fn] of Object.entries(options.functions)) {
      if (functionName(key) === wanted) return fn;
    }
    throw new TaskFailure(
      'Lambda.ResourceNotFoundException',
      `Function not found: ${nameOrArn} (no local function is registered under that name)`,
    );
  }

  async function invokeFunction(nameOrArn: unknown, payload: unknown): Promise<Json> {
    const fn = resolveFunction(nameOrArn);
    // Lambda sees a JSON copy, never the interpreter's objects.
    const event = payload === undefined ? {} : JSON.parse(JSON.stringify(payload));
    let result: unknown;
    try {
      result = await fn(event);
    } catch (error) {
      const name = error instanceof Error && error.name ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      // The Cause AWS reports for a Lambda error; no stack trace, so nothing internal leaks on.
      throw new TaskFailure(name, JSON.stringify({ errorType: name, errorMessage: message, trace: [] }));
    }
    return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as Json);
  }

  function mintToken(execution: Execution): string {
    const token = randomBytes(768).toString('base64url');
    tokens.set(token, { execution, status: 'minted' });
    execution.tokens.add(token);
    execution.unclaimed.push(token);
    return token;
  }

  function closeAttempt(attempt: Attempt): void {
    if (attempt.timer) clearTimeout(attempt.timer);
    for (const token of attempt.tokens) {
      const entry = tokens.get(token);
      if (entry) entry.status = 'closed';
    }
  }

  function taskHandlers(execution: Execution): Record<string, (input: Json) => Promise<Json>> {
    const handlers: Record<string, (input: Json) => Promise<Json>> = {};
    for (const plan of execution.machine.tasks.values()) {
      handlers[plan.stateName] = (input) => runTask(execution, plan, input);
    }
    return handlers;
  }

  // Not `async`: the callback branch must claim its token and arm its timer synchronously, before
  // the interpreter arms its own timeout right after calling this.
  function runTask(execution: Execution, plan: TaskPlan, rawInput: Json): Promise<Json> {
    if (execution.record.status !== 'RUNNING') {
      return Promise.reject(new TaskFailure('States.Runtime', 'the execution is no longer running'));
    }
    const { params, timeoutSeconds } = unwrap(plan, rawInput);
    if (plan.kind === 'direct') return invokeFunction(plan.resource, params);
    const p = (params ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    if (plan.kind === 'invoke') {
      return invokeFunction(p.FunctionName, p.Payload).then((Payload) => ({
        ExecutedVersion: '$LATEST',
        Payload,
        StatusCode: 200,
      }));
    }

    const serialized = JSON.stringify(params);
    const claimed = execution.unclaimed.filter((token) => serialized.includes(token));
    // Tokens minted in this synchronous span but not passed on can never be answered: close them.
    for (const token of execution.unclaimed) {
      const entry = tokens.get(token);
      if (entry && !claimed.includes(token)) entry.status = 'closed';
    }
    execution.unclaimed = [];
    if (claimed.length === 0) {
      return Promise.reject(
        new TaskFailure(
          'States.Runtime',
          `state ${plan.stateName} does not pass $$.Task.Token to its function`,
        ),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const attempt: Attempt = { tokens: claimed, resolve, reject };
    for (const token of claimed) {
      const entry = tokens.get(token);
      if (entry) {
        entry.status = 'waiting';
        entry.attempt = attempt;
      }
    }
    attempt.timer = setTimeout(
      () => {
        closeAttempt(attempt);
        // The interpreter's own timer (same duration, armed just after) rejects with its genuine
        // States.Timeout first; this only releases the promise. It fires a little later so that order
        // holds on a busy machine too: with equal durations a late interpreter timer lost the race and
        // a Catch on States.TaskFailed caught the timeout.
        reject(new TaskFailure('States.Timeout', 'task timed out'));
      },
      timeoutSeconds * 1000 + RELEASE_AFTER_TIMEOUT_MS,
    );
    invokeFunction(p.FunctionName, p.Payload).catch((error: Error) => {
      closeAttempt(attempt);
      reject(error);
    });
    return promise as Promise<Json>;
  }

  function finish(execution: Execution, patch: Partial<ExecutionRecord>): void {
    if (execution.record.status !== 'RUNNING') return;
    execution.record = { ...execution.record, ...patch, stopDate: new Date() };
    for (const token of execution.tokens) {
      const entry = tokens.get(token);
      if (!entry || entry.status === 'closed') continue;
      entry.status = 'closed';
      const attempt = entry.attempt;
      if (attempt) {
        closeAttempt(attempt);
        // Lets the interpreter's pending task settle, so none of its timers outlive the execution.
        attempt.reject(new TaskFailure('States.Runtime', 'the execution ended'));
      }
    }
    execution.unclaimed = [];
    execution.finish(execution.record);
  }

  function start(machine: Machine, name: string, input: string, parsed: Json): ExecutionRecord {
    const executionArn = executionArnOf(machine, name);
    const startDate = new Date();
    const { promise: done, resolve: resolveDone } = Promise.withResolvers<ExecutionRecord>();
    const execution: Execution = {
      record: { executionArn, stateMachineArn: machine.arn, name, status: 'RUNNING', input, startDate },
      machine,
      tokens: new Set(),
      unclaimed: [],
      done,
      finish: resolveDone,
    };
    executions.set(executionArn, execution);
    const task = Object.defineProperty({}, 'Token', { enumerable: true, get: () => mintToken(execution) });
    const run = machine.interpreter.run(parsed, {
      overrides: {
        taskResourceLocalHandlers: taskHandlers(execution),
        ...(options.waitTimeOverrides ? { waitTimeOverrides: { ...options.waitTimeOverrides } } : {}),
        ...(options.retryIntervalOverrides
          ? { retryIntervalOverrides: { ...options.retryIntervalOverrides } }
          : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: startDate.toISOString() },
        StateMachine: { Id: machine.arn, Name: machine.name },
        Task: task,
      },
    });
    execution.abort = run.abort;
    run.result.then(
      (output) => finish(execution, { status: 'SUCCEEDED', output: JSON.stringify(output ?? null) }),
      (error: unknown) => finish(execution, outcomeOf(error)),
    );
    return execution.record;
  }

  function taskToken(token: string): TaskTokenState {
    const entry = tokens.get(token);
    if (!entry) return 'unknown';
    const attempt = entry.attempt;
    if (entry.status !== 'waiting' || !attempt || entry.execution.record.status !== 'RUNNING') return 'gone';
    return {
      succeed(output) {
        closeAttempt(attempt);
        attempt.resolve(output);
      },
      fail(error, cause) {
        closeAttempt(attempt);
        attempt.reject(new TaskFailure(error, cause));
      },
    };
  }

  const engine: StepFunctionsEngine = {
    account,
    get stopped() {
      return stopped;
    },
    machine: (arn) => machines.get(arn),
    execution: (arn) => executions.get(arn)?.record,
    executionsOf: (arn) =>
      [...executions.values()].map((e) => e.record).filter((r) => r.stateMachineArn === arn),
    executionArn: executionArnOf,
    start: (machine, name, input, parsed) => start(machine as Machine, name, input, parsed),
    abort(executionArn, patch) {
      const execution = executions.get(executionArn) as Execution;
      if (execution.record.status === 'RUNNING') {
        finish(execution, { status: 'ABORTED', ...patch });
        execution.abort?.();
      }
      return execution.record;
    },
    taskToken,
  };
  const api = createStepFunctionsApi(engine, log);

  return {
    handle: api.handle,
    handleJson: api.handleJson,
    stateMachineArn: (name) => {
      const arn = stateMachineArn(name);
      if (!machines.has(arn)) throw new Error(`no local state machine named ${name}`);
      return arn;
    },
    executions: () => [...executions.values()].map((e) => ({ ...e.record })),
    whenDone: (executionArn) => {
      const execution = executions.get(executionArn);
      if (!execution) return Promise.reject(new Error(`no execution ${executionArn}`));
      return execution.done;
    },
    async stop() {
      stopped = true;
      const running = [...executions.values()].filter((e) => e.record.status === 'RUNNING');
      for (const execution of running) {
        finish(execution, { status: 'ABORTED', cause: 'the local Step Functions service stopped' });
        execution.abort?.();
      }
      await Promise.all(running.map((e) => e.done));
    },
  };
}

function outcomeOf(error: unknown): Partial<ExecutionRecord> {
  if (error instanceof ExecutionTimeoutError) {
    return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution timed out' };
  }
  if (error instanceof ExecutionAbortedError) return { status: 'ABORTED' };
  if (error instanceof ExecutionError && error.cause instanceof Error) {
    return { status: 'FAILED', error: error.cause.name, cause: error.cause.message };
  }
  return {
    status: 'FAILED',
    error: 'States.Runtime',
    cause: error instanceof Error ? error.message : String(error),
  };
}
