/**
 * Block Kit messages for approvers, one file per concern under `slack/`: the building blocks and
 * Slack's limits (`blocks.ts`), the approval message and its outcome rewrite
 * (`request-messages.ts`), the end-of-grant activity summary (`activity-summary.ts`), and the
 * clicker's answers (`click-answers.ts`). This module gathers them for the handlers.
 */
export { buildActivitySummary } from './slack/activity-summary.js';
export { formatDuration, SLACK_LIMITS } from './slack/blocks.js';
export { buildClickAnswer, type ClickOutcome, clickOutcomeFromError } from './slack/click-answers.js';
export {
  type AgentRecentCounts,
  type ApprovalMessageInput,
  buildApprovalMessage,
  buildOutcomeMessage,
  type OutcomeMessageInput,
} from './slack/request-messages.js';
