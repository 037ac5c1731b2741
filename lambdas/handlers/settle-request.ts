import { buildSteps } from '../adapters/compose.js';
import { lazyHandler } from '../adapters/lambda.js';
import { ValidationError } from '../core/errors.js';
import { REQUEST_ID } from '../core/ids.js';
import type { ApprovalSteps, SettleStep, StepResult } from '../core/workflow-steps.js';

interface SettleRequestEvent {
  step: SettleStep;
  requestId: string;
  error?: string;
}

const STEPS: ReadonlySet<string> = new Set(['grant', 'deny', 'timeout', 'expire', 'abort']);

/** The workflow's other tasks: grant / deny / timeout / expire / abort (see approval.asl.json). */
const createSettleRequestHandler =
  (steps: ApprovalSteps) =>
  async (event: SettleRequestEvent): Promise<StepResult> => {
    if (!STEPS.has(event?.step) || !REQUEST_ID.test(event.requestId ?? '')) {
      throw new ValidationError('event', 'expected {step, requestId}');
    }
    return steps.settle(
      event.step,
      event.requestId,
      typeof event.error === 'string' ? event.error : undefined,
    );
  };

// Slack's secret is read when a message is first sent, not here: an unfilled secret or a Secrets
// Manager hiccup fails that step with a DependencyError, which the state machine retries.
export const handler = lazyHandler((settings) => createSettleRequestHandler(buildSteps(settings)));
