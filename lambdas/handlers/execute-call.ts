import { SigV4CallExecutor } from '../adapters/call-executor.js';
import { buildAuthenticator, buildMinter, buildStore, optionalMac } from '../adapters/compose.js';
import { apiHandler, header, json, pathId } from '../adapters/http.js';
import type { JwtAuthenticator } from '../adapters/jwt-authenticator.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { type Settings, settingsFromEnvironment } from '../adapters/settings.js';
import { ExactCalls } from '../core/exact-call-execution.js';
import { maskingRules } from '../core/masking.js';
import { systemClock } from '../core/ports.js';
import { presentExecution } from '../core/present.js';

export interface ExecuteCallDeps {
  calls: ExactCalls;
  authenticator: JwtAuthenticator;
  logger: Logger;
}

/** `POST /v1/requests/{id}/execute`: make the approved exact call, once, and answer its masked output. */
export const createExecuteCallHandler = (deps: ExecuteCallDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
    const id = pathId(event);
    const execution = await deps.calls.execute(caller, id);
    // Never the output: only what a reader of the logs may see.
    deps.logger.info('exact call executed', {
      requestId: id,
      agent: caller.sub,
      status: execution.status,
      ...(execution.awsError ? { awsError: execution.awsError.code } : {}),
      masked: execution.masked.length,
    });
    return json(200, { execution: presentExecution(execution) });
  });

/** The use case from settings: the store, the STS minter and the SDK executor. */
export const buildExactCalls = (settings: Settings) =>
  new ExactCalls({
    store: buildStore(settings),
    minter: buildMinter(settings),
    executor: new SigV4CallExecutor({
      defaultRegion: settings.region,
      // The old local stack's DynamoDB endpoint; elsewhere AWS_ENDPOINT_URL (local) or AWS itself.
      endpoints: { ...(settings.endpoints.dynamodb ? { dynamodb: settings.endpoints.dynamodb } : {}) },
      env: process.env,
    }),
    clock: systemClock,
    masking: maskingRules(settings.config.masking),
    ...optionalMac(settings),
  });

export const handler = lazyHandler(() => {
  const settings = settingsFromEnvironment();
  return createExecuteCallHandler({
    calls: buildExactCalls(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'execute-call' }),
  });
});
