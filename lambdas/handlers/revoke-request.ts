import { buildAuthenticator, buildLazyNotifier, buildRevocations } from '../adapters/compose.js';
import { apiHandler, describe, header, json, pathId, rawBody } from '../adapters/http.js';
import type { JwtAuthenticator } from '../adapters/jwt-authenticator.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { settingsFromEnvironment } from '../adapters/settings.js';
import type { Revocations } from '../core/credentials.js';
import { ValidationError } from '../core/errors.js';
import type { ChatNotifier } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';
import { buildOutcomeMessage } from '../core/slack-message.js';
import { parseStrictJson } from '../core/strict-json.js';
import { validateText } from '../core/text-rules.js';

const MAX_REVOKE_REASON_CHARS = 1_000;

export interface RevokeRequestDeps {
  revocations: Revocations;
  authenticator: JwtAuthenticator;
  logger: Logger;
}

/** `POST /v1/requests/{id}/revoke` `{"reason"?}`: end a grant (or a pending request) now. */
export const createRevokeRequestHandler = (deps: RevokeRequestDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
    const id = pathId(event);
    const body = rawBody(event).trim();
    let reason: string | undefined;
    if (body) {
      const parsed = parseStrictJson(body) as Record<string, unknown>;
      for (const key of Object.keys(parsed)) {
        if (key !== 'reason') throw new ValidationError(key, `unknown field ${key}`);
      }
      // The same text rules as a request's reason: reviewers read this one too.
      if (parsed.reason !== undefined)
        reason = validateText('reason', parsed.reason, MAX_REVOKE_REASON_CHARS);
    }
    const request = await deps.revocations.revoke(caller, id, reason);
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
        error: describe(error),
      });
    }
  };

export const handler = lazyHandler(() => {
  const settings = settingsFromEnvironment();
  const logger = createLogger({ fn: 'revoke-request' });
  return createRevokeRequestHandler({
    // Slack's secret is read only if there is a message to rewrite: revoking never waits on Slack.
    revocations: buildRevocations(settings, updateMessageOnRevoke(buildLazyNotifier(settings), logger)),
    authenticator: buildAuthenticator(settings),
    logger,
  });
});
