import { buildAuthenticator, buildReader } from '../adapters/compose.js';
import { apiHandler, header, json, pathId } from '../adapters/http.js';
import type { JwtAuthenticator } from '../adapters/jwt-authenticator.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { settingsFromEnvironment } from '../adapters/settings.js';
import { ValidationError } from '../core/errors.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';
import type { RequestReader } from '../core/request-reader.js';

export interface GetRequestDeps {
  requests: RequestReader;
  authenticator: JwtAuthenticator;
  logger: Logger;
  maxWaitSeconds: number;
}

/** `GET /v1/requests/{id}[?waitSeconds=N]`: read a request, long-polling while it is PENDING. */
export const createGetRequestHandler = (deps: GetRequestDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
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

export const handler = lazyHandler(() => {
  const settings = settingsFromEnvironment();
  return createGetRequestHandler({
    requests: buildReader(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'get-request' }),
    maxWaitSeconds: settings.config.limits.maxWaitSeconds,
  });
});
