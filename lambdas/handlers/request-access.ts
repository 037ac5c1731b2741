import { buildAccessRequests, buildAuthenticator } from '../adapters/compose.js';
import { apiHandler, header, json, rawBody } from '../adapters/http.js';
import type { JwtAuthenticator } from '../adapters/jwt-authenticator.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { settingsFromEnvironment } from '../adapters/settings.js';
import type { AccessRequests } from '../core/access-requests.js';
import { UnsupportedMediaTypeError } from '../core/errors.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';

export interface RequestAccessDeps {
  requests: AccessRequests;
  authenticator: JwtAuthenticator;
  logger: Logger;
}

/** `POST /v1/requests`: an agent asks for one action set on one resource. */
export const createRequestAccessHandler = (deps: RequestAccessDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
    const contentType = header(event, 'content-type');
    if (contentType && !/^application\/json\s*(;|$)/i.test(contentType)) {
      throw new UnsupportedMediaTypeError('Send the request as application/json.');
    }
    const { request, created } = await deps.requests.create(
      caller,
      rawBody(event),
      header(event, 'idempotency-key'),
    );
    if (created)
      deps.logger.info('request created', {
        requestId: request.id,
        status: request.status,
        rule: request.policy.rule,
        agent: caller.sub,
      });
    return json(created ? 201 : 200, presentRequest(request, systemClock.now()));
  });

export const handler = lazyHandler(() => {
  const settings = settingsFromEnvironment();
  return createRequestAccessHandler({
    requests: buildAccessRequests(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'request-access' }),
  });
});
