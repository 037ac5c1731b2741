import { buildAuthenticator, buildReader } from '../adapters/compose.js';
import { authenticatedApi, json, pathId, type RouteDeps } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger } from '../adapters/logger.js';
import { ValidationError } from '../core/errors.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';
import type { RequestReader } from '../core/request-reader.js';

interface GetRequestDeps extends RouteDeps {
  requests: RequestReader;
  maxWaitSeconds: number;
}

/** `GET /v1/requests/{id}[?waitSeconds=N]`: read a request, long-polling while it is PENDING. */
const createGetRequestHandler = (deps: GetRequestDeps) =>
  authenticatedApi(deps, async (caller, event) => {
    const id = pathId(event);
    const raw = event.queryStringParameters?.waitSeconds;
    let waitSeconds = 0;
    if (raw !== undefined) {
      if (!/^\d{1,2}$/.test(raw) || Number(raw) > deps.maxWaitSeconds) {
        throw new ValidationError(
          'waitSeconds',
          `waitSeconds must be a whole number from 0 to ${deps.maxWaitSeconds}`,
        );
      }
      waitSeconds = Number(raw);
    }
    const request = await deps.requests.get(caller, id, waitSeconds);
    return json(200, presentRequest(request, systemClock.now()));
  });

export const handler = lazyHandler((settings) =>
  createGetRequestHandler({
    requests: buildReader(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'get-request' }),
    maxWaitSeconds: settings.config.limits.maxWaitSeconds,
  }),
);
