/**
 * How the local Step Functions runs each Task state of a definition, and the rewrites that bend the
 * `aws-local-stepfunctions` interpreter towards AWS before it sees the definition (see
 * step-functions.ts for why each one is needed).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const LAMBDA_ARN = /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:([\w-]+)(?::[\w$-]+)?$/;
/** The interpreter's default task timeout (AWS has none short of the execution's own). */
const DEFAULT_TASK_TIMEOUT_SECONDS = 60;
const LOCAL_KEY = '__local';
const PARAMS_KEY = '__params';

type TaskKind = 'invoke' | 'callback' | 'direct';

export interface TaskPlan {
  readonly kind: TaskKind;
  readonly stateName: string;
  readonly resource: string;
  readonly timeoutSeconds?: number;
  /** Parameters were wrapped to carry TimeoutSecondsPath's value. */
  readonly wrapped: boolean;
}

export type StateDef = Record<string, unknown> & { Type?: string };

/** A Lambda function's name, from its name, its ARN or its `:$LATEST` name. */
export function functionName(nameOrArn: string): string {
  return LAMBDA_ARN.exec(nameOrArn)?.[1] ?? nameOrArn.replace(/:\$LATEST$/, '');
}

/** The task's real Parameters and timeout, from what the interpreter hands a (maybe wrapped) task. */
export function unwrap(plan: TaskPlan, rawInput: Json): { params: Json; timeoutSeconds: number } {
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

/** Walks every (nested) Task state, plans how it runs, and rewrites what the interpreter gets wrong. */
export function prepareStates(
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
