import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody, sendJson } from './http-server.js';
import type { Json } from './step-functions-plan.js';

/**
 * The AWS JSON 1.0 API of the local Step Functions: request validation, AWS's error codes and
 * messages, and the response shapes `@aws-sdk/client-sfn` reads. What executions and task tokens
 * do is the engine's (step-functions.ts); this file only speaks the protocol in front of it.
 */

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

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

export interface MachineView {
  readonly arn: string;
  readonly name: string;
  readonly definition: string;
  readonly creationDate: Date;
}

/** A task token's callback state, as the engine knows it. */
export type TaskTokenState =
  | 'unknown'
  | 'gone'
  | { succeed(output: unknown): void; fail(error: string, cause: string): void };

/** What the API needs of the engine. */
export interface StepFunctionsEngine {
  readonly account: string;
  readonly stopped: boolean;
  machine(arn: string): MachineView | undefined;
  execution(arn: string): ExecutionRecord | undefined;
  /** Every execution of the machine, oldest first. */
  executionsOf(stateMachineArn: string): ExecutionRecord[];
  executionArn(machine: MachineView, name: string): string;
  start(machine: MachineView, name: string, input: string, parsed: Json): ExecutionRecord;
  /** Aborts the execution if it is still running; returns its record. */
  abort(executionArn: string, patch: { error?: string; cause?: string }): ExecutionRecord;
  taskToken(token: string): TaskTokenState;
}

/** An API error: HTTP 400 with `{"__type": code}`, which the SDK turns into the class of that name. */
class SfnApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

const MAX_PAYLOAD_CHARS = 256 * 1024;
const PREFIX = 'AWSStepFunctions.';

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
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

/** The fields DescribeExecution and ListExecutions both report. */
function executionSummary(r: ExecutionRecord) {
  return {
    executionArn: r.executionArn,
    stateMachineArn: r.stateMachineArn,
    name: r.name,
    status: r.status,
    startDate: epochSeconds(r.startDate),
    ...(r.stopDate ? { stopDate: epochSeconds(r.stopDate) } : {}),
  };
}

/** A JSON document given as a string, at most 256 KiB; anything else is `error`. */
function parsePayload(text: unknown, error: SfnApiError): Json {
  try {
    if (typeof text !== 'string' || text.length > MAX_PAYLOAD_CHARS) throw new Error('size');
    return JSON.parse(text) as Json;
  } catch {
    throw error;
  }
}

export function createStepFunctionsApi(
  engine: StepFunctionsEngine,
  log: (message: string) => void,
): {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  handleJson(target: string, body: unknown): Promise<{ status: number; body: unknown }>;
} {
  function getExecution(arn: unknown): ExecutionRecord {
    if (typeof arn !== 'string' || !/^arn:aws:states:[\w-]+:\d{12}:execution:[^:]+:[^:]+$/.test(arn)) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${String(arn).slice(0, 200)}'`);
    }
    const record = engine.execution(arn);
    if (!record) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return record;
  }

  function getMachine(arn: unknown): MachineView {
    if (typeof arn !== 'string' || !/^arn:aws:states:[\w-]+:\d{12}:stateMachine:[^:]+$/.test(arn)) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${String(arn).slice(0, 200)}'`);
    }
    const machine = engine.machine(arn);
    if (!machine) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  function lookupToken(body: Record<string, unknown>) {
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
    const state = engine.taskToken(token);
    if (state === 'unknown') throw new SfnApiError('InvalidToken', "Invalid Token: 'Invalid token'");
    if (state === 'gone') {
      throw new SfnApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    return state;
  }

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution(body) {
      if (engine.stopped)
        throw new SfnApiError('ServiceUnavailable', 'the local Step Functions service is stopped');
      const machine = getMachine(body.stateMachineArn);
      const name = body.name === undefined ? randomUUID() : body.name;
      if (typeof name !== 'string' || !isValidName(name)) {
        throw new SfnApiError('InvalidName', `Invalid Name: '${String(name).slice(0, 100)}'`);
      }
      const input = body.input === undefined ? '{}' : body.input;
      const parsed = parsePayload(
        input,
        new SfnApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input'),
      );
      const executionArn = engine.executionArn(machine, name);
      const existing = engine.execution(executionArn);
      if (existing) {
        // AWS Standard: the same name and input while RUNNING is the same execution (idempotent).
        if (existing.status === 'RUNNING' && existing.input === input) {
          return { executionArn, startDate: epochSeconds(existing.startDate) };
        }
        throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      const started = engine.start(machine, name, input as string, parsed);
      return { executionArn, startDate: epochSeconds(started.startDate) };
    },

    DescribeExecution(body) {
      const r = getExecution(body.executionArn);
      return {
        ...executionSummary(r),
        input: r.input,
        inputDetails: { included: true },
        ...(r.output !== undefined ? { output: r.output, outputDetails: { included: true } } : {}),
        ...(r.error !== undefined ? { error: r.error } : {}),
        ...(r.cause !== undefined ? { cause: r.cause } : {}),
      };
    },

    StopExecution(body) {
      const r = getExecution(body.executionArn);
      const stopped = engine.abort(r.executionArn, {
        ...(typeof body.error === 'string' ? { error: body.error } : {}),
        ...(typeof body.cause === 'string' ? { cause: body.cause } : {}),
      });
      return { stopDate: epochSeconds(stopped.stopDate ?? new Date()) };
    },

    ListExecutions(body) {
      const machine = getMachine(body.stateMachineArn);
      const max =
        typeof body.maxResults === 'number' && body.maxResults > 0 ? Math.min(body.maxResults, 1000) : 100;
      const offset = typeof body.nextToken === 'string' ? Number.parseInt(body.nextToken, 10) || 0 : 0;
      const all = engine
        .executionsOf(machine.arn)
        .filter((r) => body.statusFilter === undefined || r.status === body.statusFilter)
        .reverse();
      const page = all.slice(offset, offset + max);
      return {
        executions: page.map(executionSummary),
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
        roleArn: `arn:aws:iam::${engine.account}:role/local-step-functions`,
        type: 'STANDARD',
        creationDate: epochSeconds(machine.creationDate),
      };
    },

    SendTaskSuccess(body) {
      const task = lookupToken(body);
      task.succeed(parsePayload(body.output, new SfnApiError('InvalidOutput', 'Invalid Output')));
      return {};
    },

    SendTaskFailure(body) {
      const task = lookupToken(body);
      const error = typeof body.error === 'string' ? body.error.slice(0, 256) : '';
      const cause = typeof body.cause === 'string' ? body.cause.slice(0, 32768) : '';
      task.fail(error, cause);
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
    const operation = target.startsWith(PREFIX) ? target.slice(PREFIX.length) : '';
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

  return { handle, handleJson };
}
