import { buildAccessRequests, buildAuthenticator } from '../adapters/compose.js';
import { authenticatedApi, header, json, type RouteDeps, rawBody } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger } from '../adapters/logger.js';
import type { AccessRequests } from '../core/access-requests.js';
import { UnsupportedMediaTypeError } from '../core/errors.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';

interface RequestAccessDeps extends RouteDeps {
  requests: AccessRequests;
}

/** `POST /v1/requests`: an agent asks for one action set on one resource. */
const createRequestAccessHandler = (deps: RequestAccessDeps) =>
  authenticatedApi(deps, async (caller, event) => {
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

export const handler = lazyHandler((settings) =>
  createRequestAccessHandler({
    requests: buildAccessRequests(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'request-access' }),
  }),
);
