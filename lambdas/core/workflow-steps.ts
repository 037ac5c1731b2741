import { summarizeActivity } from './activity.js';
import type { CountersignConfig } from './config.js';
import type { Decisions } from './decisions.js';
import { NotGrantedError, RequestNotReadyError } from './errors.js';
import { computeGrant } from './grants.js';
import type { AccessRequest, RequestStatus } from './model.js';
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS } from './policy.js';
import type { AgentHistoryReader, ChatNotifier, Clock, EventStore, RequestStore } from './ports.js';
import { buildActivitySummary } from './slack/activity-summary.js';
import { buildApprovalMessage, buildOutcomeMessage } from './slack/request-messages.js';
import { changeRequest } from './transitions.js';

export interface WorkflowStepDeps {
  store: RequestStore;
  clock: Clock;
  config: CountersignConfig;
  notifier: ChatNotifier;
  history: AgentHistoryReader;
  decisions: Decisions;
  events?: EventStore;
}

/** What every settle step answers the state machine with (its Choice states read `status`). */
export interface StepResult {
  status: RequestStatus;
  /** Always present (null without a grant): the ASL's ResultSelector reads it unconditionally. */
  notAfter: string | null;
}

export type SettleStep = 'grant' | 'deny' | 'timeout' | 'expire' | 'abort';

const result = (request: AccessRequest): StepResult => ({
  status: request.status,
  notAfter: request.grant?.notAfter ?? null,
});

/**
 * The steps of `state-machines/approval.asl.json`. Each is idempotent: Step Functions retries
 * them, and each one re-reads the request and only moves it forward from the state it expects.
 */
export class ApprovalSteps {
  constructor(private readonly deps: WorkflowStepDeps) {}

  /**
   * RequestApproval (`.waitForTaskToken`): keep the token in DynamoDB (it never goes to Slack), show
   * the request to approvers, and remember when it was shown (the review clock starts there).
   */
  async notify(requestId: string, taskToken: string): Promise<void> {
    const { store, clock, notifier, config } = this.deps;
    const request = await store.get(requestId, { consistent: true });
    if (!request) throw new RequestNotReadyError(requestId);
    await store.putTaskToken(requestId, taskToken);
    if (request.status !== 'PENDING') {
      // Decided before the token was stored (possible through the API): resume the workflow here.
      await this.deps.decisions.resumeWorkflow(request);
      return;
    }
    const since = new Date(clock.now().getTime() - 7 * 86_400_000).toISOString();
    const recent = await this.deps.history.recentActivity(request.requester, since);
    // What approval would grant, shown as it would be sent to STS; the real notAfter is fixed at
    // approval time (approval time + duration), so the preview's date is indicative.
    const preview = computeGrant(config, request, clock.now());
    const message = buildApprovalMessage({
      request,
      sessionPolicy: preview.sessionPolicy,
      roleArn: preview.roleArn,
      history: { requests7d: recent.requests, denied7d: recent.denied, capped: recent.capped },
    });
    // A retried step re-renders the message it already posted instead of posting a second one.
    const slack = request.slack
      ? await notifier.update(request.slack, message).then(() => request.slack!)
      : await notifier.post(config.slack.channel, message);
    const { request: latest } = await changeRequest(this.deps, requestId, (current, now) =>
      current.slack && current.shownAt
        ? undefined
        : {
            patch: { slack, shownAt: current.shownAt ?? now.toISOString() },
            event: 'shown to approvers',
          },
    );
    // Settled while this step ran (its timeout fired first, as for a workflow started again after a
    // restart, or a decision landed): the settle step may have rewritten the message before the
    // buttons above did. The message must end showing the outcome, not buttons.
    if (latest.status !== 'PENDING' && latest.slack)
      await notifier.update(latest.slack, buildOutcomeMessage({ request: latest }));
  }

  async settle(step: SettleStep, requestId: string, error?: string): Promise<StepResult> {
    const { store } = this.deps;
    const current = await store.get(requestId, { consistent: true });
    if (!current) {
      if (step === 'abort') return { status: 'DENIED', notAfter: null };
      throw new RequestNotReadyError(requestId);
    }
    let request = current;
    switch (step) {
      case 'grant':
      case 'deny':
        break;
      case 'timeout':
        request = await this.moveFrom(requestId, 'PENDING', 'TIMED_OUT', 'timed out', (now) => ({
          reason: `No decision within ${current.policy.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS} s.`,
          at: now,
        }));
        break;
      case 'expire':
        request = await this.moveFrom(requestId, 'APPROVED', 'EXPIRED', 'expired', (now) => ({
          reason: `The grant ended at ${current.grant?.notAfter}.`,
          at: now,
        }));
        // An exact call's grant ends as EXECUTED (or APPROVED, never used, then EXPIRED): either way
        // the approver is told what was done under it.
        if (request.status === 'EXPIRED' || request.status === 'EXECUTED')
          await this.postActivitySummary(request);
        break;
      case 'abort':
        request = await this.moveFrom(requestId, 'PENDING', 'DENIED', 'workflow failed', (now) => ({
          reason: `The approval workflow failed (${(error ?? 'unknown error').slice(0, 200)}); nothing was granted.`,
          at: now,
        }));
        break;
    }
    if (request.slack) await this.deps.notifier.update(request.slack, buildOutcomeMessage({ request }));
    // An exact call may already have run between the approval and this step: still granted.
    if (step === 'grant' && request.status !== 'APPROVED' && request.status !== 'EXECUTED')
      throw new NotGrantedError(requestId, request.status);
    return result(request);
  }

  private async moveFrom(
    requestId: string,
    from: RequestStatus,
    to: RequestStatus,
    event: string,
    outcome: (now: string) => AccessRequest['outcome'],
  ): Promise<AccessRequest> {
    const { request } = await changeRequest(this.deps, requestId, (current, now) =>
      current.status !== from
        ? undefined
        : { patch: { status: to, outcome: outcome(now.toISOString()) }, event },
    );
    return request;
  }

  /**
   * Closes the loop for the approver: what the session did, in the message's thread — counted and
   * grouped as the evidence record counts and groups it (activity.ts), so the two never disagree.
   */
  private async postActivitySummary(request: AccessRequest): Promise<void> {
    if (!request.slack || !this.deps.events) return;
    const activity = await this.deps.events.readActivity(request.id);
    await this.deps.notifier.reply(request.slack, buildActivitySummary(summarizeActivity(activity)));
  }
}
