// The local stand-in for Lambda's Node.js runtime inside one execution environment: a fresh
// process (forked by lambda-runner.ts) with exactly the function's environment, its cwd the
// asset folder. It loads the handler once (init), then runs one event at a time on request.
//
// Plain JavaScript on purpose: it must load in a bare `node` with no loader, as the bundle does.
//
// What it reproduces of the runtime (aws-lambda-nodejs-runtime-interface-client):
// - handler "index.handler": module `index` (index.mjs, index.js, index.cjs) in LAMBDA_TASK_ROOT;
//   a missing module is Runtime.ImportModuleError, a missing or non-function export is
//   Runtime.HandlerNotFound, a syntax error Runtime.UserCodeSyntaxError; any other error thrown
//   while importing is reported as itself (its `name`).
// - errors are reported as { errorType: error.name, errorMessage: error.message, trace: stack lines };
//   a thrown non-Error as { errorType: typeof value, errorMessage: String(value) }.
// - console output is prefixed with the timestamp, request id and level, as Lambda's text format.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerSetting = process.env._HANDLER ?? 'index.handler';

let currentRequestId;

for (const [method, level] of [
  ['log', 'INFO'],
  ['info', 'INFO'],
  ['warn', 'WARN'],
  ['error', 'ERROR'],
  ['debug', 'DEBUG'],
  ['trace', 'TRACE'],
]) {
  const stream = level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout;
  console[method] = (...args) => {
    const text = format(...args).replace(/\n/g, '\r');
    stream.write(`${new Date().toISOString()}\t${currentRequestId ?? 'undefined'}\t${level}\t${text}\n`);
  };
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function toRapidResponse(error) {
  try {
    if (
      error instanceof Error ||
      (error && typeof error === 'object' && 'name' in error && 'message' in error)
    ) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

async function loadHandler() {
  const dot = handlerSetting.lastIndexOf('.');
  if (dot <= 0) throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${handlerSetting}`);
  const modulePath = handlerSetting.slice(0, dot);
  const exportPath = handlerSetting.slice(dot + 1);
  const file = ['.mjs', '.js', '.cjs']
    .map((ext) => join(taskRoot, modulePath + ext))
    .find((f) => existsSync(f));
  if (!file) {
    throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${modulePath}'`);
  }
  let module;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error instanceof SyntaxError)
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`);
    if (error && (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'MODULE_NOT_FOUND')) {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${error.message}`);
    }
    throw error;
  }
  let handler = module;
  for (const part of exportPath.split('.')) handler = handler?.[part];
  if (handler === undefined && module.default) {
    handler = module.default;
    for (const part of exportPath.split('.')) handler = handler?.[part];
  }
  if (handler === undefined || handler === null) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerSetting} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerSetting} is not a function`);
  }
  return handler;
}

const send = (message) => {
  if (process.connected) process.send(message);
};

let handler;
try {
  handler = await loadHandler();
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'init-error', error: toRapidResponse(error) });
  // Lambda discards an environment whose init failed; the runner kills this process.
}

function invoke(message) {
  const { id, event, context: base } = message;
  currentRequestId = base.awsRequestId;
  const deadline = base.deadlineMs;
  const context = {
    ...base,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: undefined,
    succeed: undefined,
    fail: undefined,
  };
  delete context.deadlineMs;
  let settled = false;
  const finish = (error, result) => {
    if (settled) return;
    settled = true;
    if (error !== undefined && error !== null) {
      send({ type: 'result', id, ok: false, error: toRapidResponse(error) });
    } else {
      let payload;
      try {
        payload = JSON.stringify(result === undefined ? null : result);
      } catch (cause) {
        send({ type: 'result', id, ok: false, error: toRapidResponse(cause) });
        return;
      }
      send({ type: 'result', id, ok: true, payload });
    }
  };
  context.done = finish;
  context.succeed = (result) => finish(null, result);
  context.fail = (error) => finish(error ?? new Error('handled'));
  try {
    const returned = handler(event, context, finish);
    if (returned && typeof returned.then === 'function') {
      returned.then(
        (result) => finish(null, result),
        (error) => finish(error ?? new Error('Promise rejected without a reason')),
      );
    } else if (handler.length < 3) {
      finish(null, returned);
    }
  } catch (error) {
    finish(error);
  }
}

process.on('message', (message) => {
  if (message?.type === 'invoke' && handler) invoke(message);
});

// An unhandled rejection or exception ends the environment, as on Lambda (Runtime.ExitError).
process.on('uncaughtException', (error) => {
  send({ type: 'crash', error: toRapidResponse(error) });
  process.exit(129);
});
process.on('unhandledRejection', (reason) => {
  const detail = toRapidResponse(reason);
  send({
    type: 'crash',
    error: {
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: `${detail.errorType}: ${detail.errorMessage}`,
      trace: detail.trace,
    },
  });
  process.exit(128);
});

// The runner went away (crashed, killed): never outlive it.
process.on('disconnect', () => process.exit(0));
