import './polyfills.js';
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { BodyTooLargeError, readBody, sendJson } from './http-server.js';

/**
 * A local Step Functions (Standard) service: the AWS JSON 1.0 API that `@aws-sdk/client-sfn` speaks,
 * in front of the `aws-local-stepfunctions` ASL interpreter, so handlers run the same code and the
 * same ASL file as on AWS (DESIGN.md §2). Lambda tasks call in-process functions.
 *
 * Where the interpreter and AWS differ, this file bends the interpreter towards AWS:
 * - `$$.Task.Token`: the interpreter only copies the `context` run option, so `Task.Token` is a
 *   getter that mints a fresh token each time a state's Parameters are evaluated (once per attempt).
 * - `TimeoutSecondsPath` is resolved by AWS against the state input, by the interpreter against the
 *   Parameters output; the path is moved into Parameters (`__local.timeoutSeconds`) so both agree.
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

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly input: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly startDate: Date;
  readonly stopDate?: Date;
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

/** An API error: HTTP 400 with `{"__type": code}`, which the SDK turns into the class of that name. */
export class SfnApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** A task failure as the interpreter sees it: `name` is the ASL Error, `message` the Cause. */
class TaskFailure extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const LAMBDA_ARN = /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:([\w-]+)(?::[\w$-]+)?$/;
/** The interpreter's default task timeout (AWS has none short of the execution's own). */
const DEFAULT_TASK_TIMEOUT_SECONDS = 60;
const MAX_PAYLOAD_CHARS = 256 * 1024;
const LOCAL_KEY = '__local';
const PARAMS_KEY = '__params';

type TaskKind = 'invoke' | 'callback' | 'direct';

interface TaskPlan {
  readonly kind: TaskKind;
  readonly stateName: string;
  readonly resource: string;
  readonly timeoutSeconds?: number;
  /** Parameters were wrapped to carry TimeoutSecondsPath's value. */
  readonly wrapped: boolean;
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

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function createLocalStepFunctions(options: LocalStepFunctionsOptions): LocalStepFunctions {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '123456789012';
  const log = options.log ?? ((message: string) => console.warn(message));
  const machines = new Map<string, Machine>();
  const executions = new Map<string, Execution>();
  const tokens = new Map<string, TokenEntry>();
  let stopped = false;

  const stateMachineArn = (name: string) => `arn:aws:states:${region}:${account}:stateMachine:${name}`;

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
    attempt.timer = setTimeout(() => {
      closeAttempt(attempt);
      // The interpreter's own timer (same duration, armed just after) rejects with its genuine
      // States.Timeout first; this only releases the promise.
      setImmediate(() => reject(new TaskFailure('States.Timeout', 'task timed out')));
    }, timeoutSeconds * 1000);
    invokeFunction(p.FunctionName, p.Payload).catch((error: Error) => {
      closeAttempt(attempt);
      reject(error);
    });
    return promise as Promise<Json>;
  }

  function unwrap(plan: TaskPlan, rawInput: Json): { params: Json; timeoutSeconds: number } {
    if (!plan.wrapped) {
      return { params: rawInput, timeoutSeconds: plan.timeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS };
    }
    const wrapper = rawInput as { [PARAMS_KEY]: Json; [LOCAL_KEY]: { timeoutSeconds: number } };
    const seconds = Number(wrapper[LOCAL_KEY]?.timeoutSeconds);
    return {
      params: wrapper[PARAMS_KEY],
      timeoutSeconds: Number.isInteger(seconds) && seconds >= 1 ? seconds : DEFAULT_TASK_TIMEOUT_SECONDS,
    };
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

  function lookupToken(body: Record<string, unknown>): TokenEntry & { attempt: Attempt } {
    const token = body.taskToken;
    if (typeof token !== 'string' || token.length === 0) {
      throw new SfnApiError(
        'ValidationException',
        "1 validation error detected: Value at 'taskToken' failed to satisfy constraint: Member must not be null",
      );
    }
    if (token.length > 2048) {
      throw new SfnApiError(
        'ValidationException',
        "1 validation error detected: Value at 'taskToken' failed to satisfy constraint: Member must have length less than or equal to 2048",
      );
    }
    const entry = tokens.get(token);
    if (!entry) throw new SfnApiError('InvalidToken', "Invalid Token: 'Invalid token'");
    if (entry.status !== 'waiting' || !entry.attempt || entry.execution.record.status !== 'RUNNING') {
      throw new SfnApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    return entry as TokenEntry & { attempt: Attempt };
  }

  function getExecution(arn: unknown): Execution {
    if (typeof arn !== 'string' || !/^arn:aws:states:[\w-]+:\d{12}:execution:[^:]+:[^:]+$/.test(arn)) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${String(arn).slice(0, 200)}'`);
    }
    const execution = executions.get(arn);
    if (!execution) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  function getMachine(arn: unknown): Machine {
    if (typeof arn !== 'string' || !/^arn:aws:states:[\w-]+:\d{12}:stateMachine:[^:]+$/.test(arn)) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${String(arn).slice(0, 200)}'`);
    }
    const machine = machines.get(arn);
    if (!machine) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution(body) {
      if (stopped) throw new SfnApiError('ServiceUnavailable', 'the local Step Functions service is stopped');
      const machine = getMachine(body.stateMachineArn);
      const name = body.name === undefined ? randomUUID() : body.name;
      if (typeof name !== 'string' || !isValidName(name)) {
        throw new SfnApiError('InvalidName', `Invalid Name: '${String(name).slice(0, 100)}'`);
      }
      const input = body.input === undefined ? '{}' : body.input;
      let parsed: Json;
      try {
        if (typeof input !== 'string' || input.length > MAX_PAYLOAD_CHARS) throw new Error('size');
        parsed = JSON.parse(input) as Json;
      } catch {
        throw new SfnApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input');
      }
      const executionArn = `arn:aws:states:${region}:${account}:execution:${machine.name}:${name}`;
      const existing = executions.get(executionArn);
      if (existing) {
        // AWS Standard: the same name and input while RUNNING is the same execution (idempotent).
        if (existing.record.status === 'RUNNING' && existing.record.input === input) {
          return { executionArn, startDate: epochSeconds(existing.record.startDate) };
        }
        throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
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
      return { executionArn, startDate: epochSeconds(startDate) };
    },

    DescribeExecution(body) {
      const r = getExecution(body.executionArn).record;
      return {
        executionArn: r.executionArn,
        stateMachineArn: r.stateMachineArn,
        name: r.name,
        status: r.status,
        startDate: epochSeconds(r.startDate),
        ...(r.stopDate ? { stopDate: epochSeconds(r.stopDate) } : {}),
        input: r.input,
        inputDetails: { included: true },
        ...(r.output !== undefined ? { output: r.output, outputDetails: { included: true } } : {}),
        ...(r.error !== undefined ? { error: r.error } : {}),
        ...(r.cause !== undefined ? { cause: r.cause } : {}),
      };
    },

    StopExecution(body) {
      const execution = getExecution(body.executionArn);
      if (execution.record.status === 'RUNNING') {
        finish(execution, {
          status: 'ABORTED',
          ...(typeof body.error === 'string' ? { error: body.error } : {}),
          ...(typeof body.cause === 'string' ? { cause: body.cause } : {}),
        });
        execution.abort?.();
      }
      return { stopDate: epochSeconds(execution.record.stopDate ?? new Date()) };
    },

    ListExecutions(body) {
      const machine = getMachine(body.stateMachineArn);
      const max =
        typeof body.maxResults === 'number' && body.maxResults > 0 ? Math.min(body.maxResults, 1000) : 100;
      const offset = typeof body.nextToken === 'string' ? Number.parseInt(body.nextToken, 10) || 0 : 0;
      const all = [...executions.values()]
        .map((e) => e.record)
        .filter((r) => r.stateMachineArn === machine.arn)
        .filter((r) => body.statusFilter === undefined || r.status === body.statusFilter)
        .reverse();
      const page = all.slice(offset, offset + max);
      return {
        executions: page.map((r) => ({
          executionArn: r.executionArn,
          stateMachineArn: r.stateMachineArn,
          name: r.name,
          status: r.status,
          startDate: epochSeconds(r.startDate),
          ...(r.stopDate ? { stopDate: epochSeconds(r.stopDate) } : {}),
        })),
        ...(offset + max < all.length ? { nextToken: String(offset + max) } : {}),
      };
    },

    DescribeStateMachine(body) {
      const machine = getMachine(body.stateMachineArn);
      return {
        stateMachineArn: machine.arn,
        name: machine.name,
        status: 'ACTIVE',
        definition: machine.definition,
        roleArn: `arn:aws:iam::${account}:role/local-step-functions`,
        type: 'STANDARD',
        creationDate: epochSeconds(machine.creationDate),
      };
    },

    SendTaskSuccess(body) {
      const entry = lookupToken(body);
      let output: unknown;
      try {
        if (typeof body.output !== 'string' || body.output.length > MAX_PAYLOAD_CHARS)
          throw new Error('size');
        output = JSON.parse(body.output);
      } catch {
        throw new SfnApiError('InvalidOutput', 'Invalid Output');
      }
      closeAttempt(entry.attempt);
      entry.attempt.resolve(output);
      return {};
    },

    SendTaskFailure(body) {
      const entry = lookupToken(body);
      const error = typeof body.error === 'string' ? body.error.slice(0, 256) : '';
      const cause = typeof body.cause === 'string' ? body.cause.slice(0, 32768) : '';
      closeAttempt(entry.attempt);
      entry.attempt.reject(new TaskFailure(error, cause));
      return {};
    },

    SendTaskHeartbeat(body) {
      lookupToken(body);
      return {};
    },
  };

  /**
   * One API call, already authenticated by whoever fronts this service (the local AWS endpoint):
   * `target` is the X-Amz-Target header, `body` the parsed JSON. Answers the JSON 1.0 error shape.
   */
  async function handleJson(target: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const fail = (status: number, code: string, message: string) => ({
      status,
      body: { __type: code, message },
    });
    const operation = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
    const op = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
    if (!op) return fail(400, 'UnknownOperationException', `unknown operation ${operation || '(none)'}`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return fail(400, 'SerializationException', 'the body must be a JSON object');
    }
    try {
      return { status: 200, body: await op(body as Record<string, unknown>) };
    } catch (error) {
      if (error instanceof SfnApiError) return fail(400, error.code, error.message);
      log(`local step functions: internal error ${(error as Error).name}`);
      return fail(500, 'InternalFailure', 'internal error');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentType = 'application/x-amz-json-1.0';
    const fail = (status: number, code: string, message: string) =>
      sendJson(res, status, { __type: code, message }, contentType);
    try {
      if (req.method !== 'POST') {
        req.resume();
        return fail(405, 'UnknownOperationException', 'only POST is supported');
      }
      const raw = await readBody(req);
      let body: unknown;
      try {
        body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        return fail(400, 'SerializationException', 'the body is not valid JSON');
      }
      const answer = await handleJson(String(req.headers['x-amz-target'] ?? ''), body);
      sendJson(res, answer.status, answer.body, contentType);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return fail(413, 'RequestEntityTooLarge', error.message);
      log(`local step functions: internal error ${(error as Error).name}`);
      return fail(500, 'InternalFailure', 'internal error');
    }
  }

  return {
    handle,
    handleJson,
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

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function functionName(nameOrArn: string): string {
  return LAMBDA_ARN.exec(nameOrArn)?.[1] ?? nameOrArn.replace(/:\$LATEST$/, '');
}

/**
 * AWS execution names: 1–80 characters, none of whitespace, `< > { } [ ] ? * " # % \ ^ | ~ \` $ & , ; : /`
 * or control characters (U+0000–U+001F, U+007F–U+009F).
 */
export function isValidName(name: string): boolean {
  if (name.length < 1 || name.length > 80) return false;
  for (const ch of name) {
    const code = ch.codePointAt(0) ?? 0;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return false;
    if (/\s/.test(ch) || '<>{}[]?*"#%\\^|~`$&,;:/'.includes(ch)) return false;
  }
  return true;
}

type StateDef = Record<string, unknown> & { Type?: string };

/** Walks every (nested) Task state, plans how it runs, and rewrites what the interpreter gets wrong. */
function prepareStates(
  definition: { States?: Record<string, StateDef> },
  tasks: Map<string, TaskPlan>,
  machineName: string,
  log: (message: string) => void,
): void {
  for (const [stateName, state] of Object.entries(definition.States ?? {})) {
    if (state.Type === 'Parallel') {
      for (const branch of (state.Branches as Array<{ States?: Record<string, StateDef> }>) ?? []) {
        prepareStates(branch, tasks, machineName, log);
      }
    }
    if (state.Type === 'Map') {
      const inner = (state.ItemProcessor ?? state.Iterator) as
        | { States?: Record<string, StateDef> }
        | undefined;
      if (inner) prepareStates(inner, tasks, machineName, log);
    }
    if (state.Type !== 'Task') continue;
    if (tasks.has(stateName)) throw new Error(`${machineName}: task state name ${stateName} is used twice`);
    const resource = String(state.Resource);
    const kind: TaskKind | undefined =
      resource === LAMBDA_INVOKE
        ? 'invoke'
        : resource === LAMBDA_CALLBACK
          ? 'callback'
          : LAMBDA_ARN.test(resource)
            ? 'direct'
            : undefined;
    if (!kind) throw new Error(`${machineName}.${stateName}: resource ${resource} is not supported locally`);
    if (kind === 'callback' && !JSON.stringify(state.Parameters ?? null).includes('$$.Task.Token')) {
      throw new Error(
        `${machineName}.${stateName}: a .waitForTaskToken task must pass $$.Task.Token in Parameters`,
      );
    }
    if (kind === 'callback' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
      log(
        `${machineName}.${stateName}: callback task without TimeoutSeconds waits ${DEFAULT_TASK_TIMEOUT_SECONDS} s locally (on AWS it would wait up to a year)`,
      );
    }
    if (state.HeartbeatSeconds !== undefined || state.HeartbeatSecondsPath !== undefined) {
      log(`${machineName}.${stateName}: HeartbeatSeconds is not enforced locally`);
    }
    let wrapped = false;
    if (typeof state.TimeoutSecondsPath === 'string') {
      const params = state.Parameters;
      delete state.Parameters;
      state.Parameters = {
        ...(params === undefined ? { [`${PARAMS_KEY}.$`]: '$' } : { [PARAMS_KEY]: params }),
        [LOCAL_KEY]: { 'timeoutSeconds.$': state.TimeoutSecondsPath },
      };
      state.TimeoutSecondsPath = `$.${LOCAL_KEY}.timeoutSeconds`;
      wrapped = true;
    }
    tasks.set(stateName, {
      kind,
      stateName,
      wrapped,
      resource,
      ...(typeof state.TimeoutSeconds === 'number' ? { timeoutSeconds: state.TimeoutSeconds } : {}),
    });
  }
}
