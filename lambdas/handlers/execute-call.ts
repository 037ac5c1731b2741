import { SigV4CallExecutor } from '../adapters/call-executor.js';
import { buildAuthenticator, buildMinter, buildStore, optionalMac } from '../adapters/compose.js';
import { authenticatedApi, json, pathId, type RouteDeps } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger } from '../adapters/logger.js';
import type { Settings } from '../adapters/settings.js';
import { ExactCalls } from '../core/exact-call-execution.js';
import { maskingRules } from '../core/masking.js';
import { systemClock } from '../core/ports.js';
import { presentExecution } from '../core/present.js';

interface ExecuteCallDeps extends RouteDeps {
  calls: ExactCalls;
}

/** `POST /v1/requests/{id}/execute`: make the approved exact call, once, and answer its masked output. */
const createExecuteCallHandler = (deps: ExecuteCallDeps) =>
  authenticatedApi(deps, async (caller, event) => {
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
const buildExactCalls = (settings: Settings) =>
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

export const handler = lazyHandler((settings) =>
  createExecuteCallHandler({
    calls: buildExactCalls(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'execute-call' }),
  }),
);
