import { buildAuthenticator, buildLazyNotifier, buildRevocations } from '../adapters/compose.js';
import { authenticatedApi, json, pathId, type RouteDeps, rawBody } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import type { Revocations } from '../core/credentials.js';
import { describeError } from '../core/errors.js';
import type { ChatNotifier } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';
import { parseRevokeBody } from '../core/revoke-body.js';
import { buildOutcomeMessage } from '../core/slack/request-messages.js';

interface RevokeRequestDeps extends RouteDeps {
  revocations: Revocations;
}

/** `POST /v1/requests/{id}/revoke` `{"reason"?}`: end a grant (or a pending request) now. */
const createRevokeRequestHandler = (deps: RevokeRequestDeps) =>
  authenticatedApi(deps, async (caller, event) => {
    const id = pathId(event);
    const request = await deps.revocations.revoke(caller, id, parseRevokeBody(rawBody(event)));
    deps.logger.info('request revoked', { requestId: id, by: caller.sub });
    return json(200, presentRequest(request, systemClock.now()));
  });

/**
 * Rewrites the approval message when a request is revoked (the workflow is stopped, so not there).
 * Best effort: the revoke is already in force when this runs, and Slack (unfilled, unreachable)
 * never blocks or fails it; a failed rewrite is logged.
 */
export const updateMessageOnRevoke =
  (notifier: ChatNotifier, logger?: Logger) =>
  async (request: Parameters<typeof buildOutcomeMessage>[0]['request']) => {
    if (!request.slack) return;
    try {
      await notifier.update(request.slack, buildOutcomeMessage({ request }));
    } catch (error) {
      logger?.warn('slack message not updated after revoke', {
        requestId: request.id,
        error: describeError(error),
      });
    }
  };

export const handler = lazyHandler((settings) => {
  const logger = createLogger({ fn: 'revoke-request' });
  return createRevokeRequestHandler({
    // Slack's secret is read only if there is a message to rewrite: revoking never waits on Slack.
    revocations: buildRevocations(settings, updateMessageOnRevoke(buildLazyNotifier(settings), logger)),
    authenticator: buildAuthenticator(settings),
    logger,
  });
});
