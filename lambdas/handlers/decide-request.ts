import { buildAuthenticator, buildDecisions } from '../adapters/compose.js';
import { apiHandler, header, json, pathId, rawBody } from '../adapters/http.js';
import type { JwtAuthenticator } from '../adapters/jwt-authenticator.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { settingsFromEnvironment } from '../adapters/settings.js';
import type { Decisions } from '../core/decisions.js';
import { AlreadyDecidedError, ForbiddenError, ValidationError } from '../core/errors.js';
import { systemClock } from '../core/ports.js';
import { presentRequest } from '../core/present.js';
import { parseStrictJson } from '../core/strict-json.js';

export interface DecideRequestDeps {
  decisions: Decisions;
  authenticator: JwtAuthenticator;
  logger: Logger;
}

/** `POST /v1/requests/{id}/decisions` `{"decision":"approve|deny","comment"?}`: the API channel. */
export const createDecideRequestHandler = (deps: DecideRequestDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
    if (!caller.roles.has('approver')) throw new ForbiddenError('Only approvers may decide requests.');
    const id = pathId(event);
    const body = parseStrictJson(rawBody(event)) as Record<string, unknown>;
    for (const key of Object.keys(body)) {
      if (key !== 'decision' && key !== 'comment') throw new ValidationError(key, `unknown field ${key}`);
    }
    if (body.decision !== 'approve' && body.decision !== 'deny') {
      throw new ValidationError('decision', 'decision must be "approve" or "deny"');
    }
    if (body.comment !== undefined && typeof body.comment !== 'string') {
      throw new ValidationError('comment', 'comment must be a string');
    }
    try {
      const result = await deps.decisions.decide({
        requestId: id,
        approver: caller.sub,
        groups: caller.groups,
        decision: body.decision,
        channel: 'api',
        ...(body.comment ? { comment: body.comment } : {}),
      });
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
    } catch (error) {
      // A repeated decision may be the retry of one whose workflow was never told: tell it now.
      if (error instanceof AlreadyDecidedError) await deps.decisions.redrive(id);
      throw error;
    }
  });

export const handler = lazyHandler(() => {
  const settings = settingsFromEnvironment();
  return createDecideRequestHandler({
    decisions: buildDecisions(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'decide-request' }),
  });
});
