import { buildAuthenticator, buildDecisions } from '../adapters/compose.js';
import { authenticatedApi, json, pathId, type RouteDeps, rawBody } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger } from '../adapters/logger.js';
import { type Decisions, parseDecisionBody } from '../core/decisions.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';

interface DecideRequestDeps extends RouteDeps {
  decisions: Decisions;
}

/** `POST /v1/requests/{id}/decisions` `{"decision":"approve|deny","comment"?}`: the API channel. */
const createDecideRequestHandler = (deps: DecideRequestDeps) =>
  authenticatedApi(deps, async (caller, event) => {
    const id = pathId(event);
    const body = parseDecisionBody(rawBody(event));
    const result = await deps.decisions.decide({ ...body, requestId: id, caller, channel: 'api' });
    deps.logger.info('decision recorded', {
      requestId: id,
      approver: caller.sub,
      decision: body.decision,
      outcome: result.outcome,
    });
    return json(200, {
      ...presentRequest(result.request, systemClock.now()),
      approvals: result.approvals,
      quorum: result.quorum,
    });
  });

export const handler = lazyHandler((settings) =>
  createDecideRequestHandler({
    decisions: buildDecisions(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'decide-request' }),
  }),
);
