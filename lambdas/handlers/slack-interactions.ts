import { buildDecisions, buildLazyNotifier, slackSecrets } from '../adapters/compose.js';
import { apiHandler, header, json, rawBody } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import type { CountersignConfig } from '../core/config.js';
import type { Decisions } from '../core/decisions.js';
import {
  CountersignError,
  describeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../core/errors.js';
import type { ChatNotifier, Clock } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { buildClickAnswer, type ClickOutcome, clickOutcomeFromError } from '../core/slack/click-answers.js';
import { parseSlackInteraction } from '../core/slack-interaction.js';
import { slackSignatureHeaders, verifySlackSignature } from '../core/slack-signature.js';

interface SlackInteractionsDeps {
  decisions: Decisions;
  notifier: ChatNotifier;
  /**
   * Slack's signing secret, or how to read it (on AWS: from Secrets Manager, per request until read).
   * Unreadable: 503, nothing decided. Empty (the secret was never filled in): 401, nothing decided.
   */
  signingSecret: string | (() => Promise<string>);
  config: CountersignConfig;
  logger: Logger;
  clock?: Clock;
}

/**
 * `POST /v1/slack/interactions`: an Approve/Deny click. Verified over the raw body (HMAC, ±300 s),
 * the team and app must be ours, the Slack user must map to an approver identity; then the same
 * decision path as the API. The clicker is answered with an ephemeral message; Slack gets a 200
 * (or 401 when nothing about the request can be trusted) well inside its 3-second limit.
 */
const createSlackInteractionsHandler = (deps: SlackInteractionsDeps) =>
  apiHandler(deps.logger, async (event) => {
    const clock = deps.clock ?? systemClock;
    const contentType = header(event, 'content-type') ?? '';
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
      throw new UnsupportedMediaTypeError('Slack interactions are form-encoded.');
    }
    const body = rawBody(event);
    const signingSecret =
      typeof deps.signingSecret === 'string' ? deps.signingSecret : await deps.signingSecret();
    if (!signingSecret) {
      deps.logger.error('slack signing secret is not set; every click is refused', {});
      throw new UnauthorizedError(
        'Slack request not verified: the signing secret is not set up on this deployment.',
      );
    }
    verifySlackSignature({
      signingSecret,
      // A signature header given twice with different values counts as absent: refused.
      ...slackSignatureHeaders(event.headers),
      rawBody: body,
      now: clock.now(),
    });
    const click = parseSlackInteraction(body);
    if (click.teamId !== deps.config.slack.teamId || click.appId !== deps.config.slack.appId) {
      throw new UnauthorizedError('Slack request not verified: another workspace or app.');
    }
    const approver = deps.config.slack.users[click.userId];
    let outcome: ClickOutcome;
    let code: string | undefined;
    if (!approver) {
      outcome = { kind: 'unknown-user' };
      code = 'NotAnApprover';
    } else {
      try {
        const result = await deps.decisions.decide({
          requestId: click.requestId,
          approver,
          decision: click.actionId,
          channel: 'slack',
        });
        outcome =
          click.actionId === 'deny'
            ? { kind: 'denied' }
            : { kind: 'approved', approvals: result.approvals, quorum: result.quorum };
      } catch (error) {
        // A repeated click has already re-driven the workflow (Decisions.decide), as an API retry has.
        outcome = clickOutcomeFromError(error);
        code = error instanceof CountersignError ? error.code : 'InternalError';
        if (outcome.kind === 'failed') {
          deps.logger.error('slack decision failed', {
            requestId: click.requestId,
            error: describeError(error),
          });
        } else if (outcome.kind === 'recorded-unfinished') {
          deps.logger.warn('slack decision recorded, workflow not resumed', {
            requestId: click.requestId,
            error: describeError((error as Error).cause),
          });
        }
      }
    }
    const answer = buildClickAnswer(outcome);
    if (click.channelId) {
      await deps.notifier.ephemeral(click.channelId, click.userId, answer).catch((error: unknown) => {
        deps.logger.warn('ephemeral answer failed', {
          requestId: click.requestId,
          error: describeError(error),
        });
      });
    }
    deps.logger.info('slack click', {
      requestId: click.requestId,
      user: click.userId,
      action: click.actionId,
      outcome: outcome.kind,
    });
    return json(
      200,
      code ? { ok: false, code, message: answer } : { ok: true, outcome: outcome.kind, message: answer },
    );
  });

export const handler = lazyHandler((settings) => {
  const secrets = slackSecrets(settings);
  // Start reading now so the first click does not wait for it; a failure here is not remembered.
  secrets().catch(() => undefined);
  return createSlackInteractionsHandler({
    decisions: buildDecisions(settings),
    notifier: buildLazyNotifier(settings),
    // Read per click until read (then reused for a few minutes): a function started while Secrets
    // Manager was unavailable, or before the secret was filled in, recovers without a restart.
    signingSecret: async () => (await secrets()).signingSecret,
    config: settings.config,
    logger: createLogger({ fn: 'slack-interactions' }),
  });
});
