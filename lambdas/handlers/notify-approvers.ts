import { buildSteps } from '../adapters/compose.js';
import { lazyHandler } from '../adapters/lambda.js';
import { ValidationError } from '../core/errors.js';
import { REQUEST_ID } from '../core/ids.js';
import type { ApprovalSteps } from '../core/workflow-steps.js';

interface NotifyApproversEvent {
  requestId: string;
  taskToken: string;
}

/** The workflow's `.waitForTaskToken` task: store the token, post the approval message. */
const createNotifyApproversHandler = (steps: ApprovalSteps) => async (event: NotifyApproversEvent) => {
  if (!REQUEST_ID.test(event?.requestId ?? '') || typeof event.taskToken !== 'string' || !event.taskToken) {
    throw new ValidationError('event', 'expected {requestId, taskToken}');
  }
  await steps.notify(event.requestId, event.taskToken);
  return { notified: event.requestId };
};

// Slack's secret is read when a message is first sent, not here: an unfilled secret or a Secrets
// Manager hiccup fails that step with a DependencyError, which the state machine retries.
export const handler = lazyHandler((settings) => createNotifyApproversHandler(buildSteps(settings)));
