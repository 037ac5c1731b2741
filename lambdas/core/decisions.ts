import type { CountersignConfig } from './config.js';
import {
  AlreadyDecidedError,
  type CountersignError,
  DependencyError,
  describeError,
  ForbiddenError,
  NotAnApproverError,
  SelfApprovalError,
  TimedOutError,
  TooFastError,
  ValidationError,
} from './errors.js';
import { computeGrant } from './grants.js';
import { couldBeSamePerson, normalizeIdentity, sameIdentity } from './identity.js';
import type { AccessRequest, Caller, Decision } from './model.js';
import type { ApprovalWorkflow, Clock, OperatorLog, RequestStore } from './ports.js';
import { approvalDeadline, effectiveStatus } from './status.js';
import { parseStrictJson } from './strict-json.js';
import { validateText } from './text-rules.js';
import { type Change, changeRequest } from './transitions.js';

/** The longest decision comment (DESIGN.md §4 leaves it to us; Slack sections hold 3,000). */
export const MAX_COMMENT_CHARS = 1_000;

export interface DecisionDeps {
  store: RequestStore;
  workflow: ApprovalWorkflow;
  clock: Clock;
  config: CountersignConfig;
  /** Where a failed re-drive is reported (the decider is answered AlreadyDecided regardless). */
  log?: OperatorLog;
}

/** What an approver asks: the API's decision body, or a Slack button. */
export interface DecisionBody {
  decision: 'approve' | 'deny';
  comment?: string;
}

/** One decision, by who made it: the two channels bring their approver differently. */
export type DecisionInput = DecisionBody & { requestId: string } & (
    | {
        /** A verified API caller: must hold the approver role, then be named by the request's rule. */
        channel: 'api';
        caller: Caller;
      }
    | {
        /** A Slack user mapped through `slack.users`: the mapping is the approver's identity. */
        channel: 'slack';
        approver: string;
      }
  );

/** `POST /v1/requests/{id}/decisions`'s body: `{"decision":"approve|deny","comment"?}` and nothing else. */
export function parseDecisionBody(raw: string): DecisionBody {
  const body = parseStrictJson(raw);
  for (const key of Object.keys(body)) {
    if (key !== 'decision' && key !== 'comment') throw new ValidationError(key, `unknown field ${key}`);
  }
  if (body.decision !== 'approve' && body.decision !== 'deny') {
    throw new ValidationError('decision', 'decision must be "approve" or "deny"');
  }
  if (body.comment !== undefined && typeof body.comment !== 'string') {
    throw new ValidationError('comment', 'comment must be a string');
  }
  return { decision: body.decision, ...(body.comment ? { comment: body.comment } : {}) };
}

/** A decision once its approver is known, in normal form. */
interface Decider extends DecisionBody {
  requestId: string;
  approver: string;
  /** The approver's groups when known (JWT); Slack clicks carry none. */
  groups: readonly string[];
  channel: DecisionInput['channel'];
}

export interface DecisionResult {
  request: AccessRequest;
  /** `approved`/`denied` when this decision settled the request; `recorded` while quorum is not met. */
  outcome: 'approved' | 'denied' | 'recorded';
  approvals: number;
  quorum: number;
}

/** Is `approver` one of those the matching rule names (directly or through `group:NAME`)? */
export function isNamedApprover(
  request: AccessRequest,
  approver: string,
  groups: readonly string[] = [],
): boolean {
  return (request.policy.approvers ?? []).some((entry) =>
    entry.startsWith('group:')
      ? groups.includes(entry.slice('group:'.length))
      : sameIdentity(entry, approver),
  );
}

/** Approvals count people, not clicks: distinct approvers in normal form (one vote per approver). */
const approvalsOf = (decisions: readonly Decision[]) =>
  new Set(decisions.filter((d) => d.decision === 'approve').map((d) => normalizeIdentity(d.approver))).size;

/**
 * One implementation of "an approver decides", for both channels (Slack buttons and the API).
 * Each decision is a conditional write on the request's version, so a double click, a replay or an
 * approve racing a deny yields exactly one outcome; only the writer that settles the request resumes
 * the workflow. Refusals that matter to reviewers (self-approval, too fast) are recorded too.
 */
export class Decisions {
  constructor(private readonly deps: DecisionDeps) {}

  async decide(given: DecisionInput): Promise<DecisionResult> {
    const input = decider(given);
    if (input.comment !== undefined && input.comment !== '') {
      validateText('comment', input.comment, MAX_COMMENT_CHARS);
    }
    // Read the task token while the decision is judged and written: on the click path that takes
    // one round trip off the answer. Only a token that was there is trusted; when none was seen yet,
    // resumeWorkflow reads again after the write (see there for why that order matters).
    const token = this.deps.store.getTaskToken(input.requestId).catch(() => undefined);
    let refusal: CountersignError | undefined;
    // A verdict is always a change or a refusal, so `request` is either the one written or, with a
    // refusal, the current one.
    const { request } = await changeRequest(this.deps, input.requestId, (current, now) => {
      refusal = undefined;
      const verdict = this.judge(current, input, now);
      if (verdict instanceof Error) {
        refusal = verdict;
        return this.recordRefusal(current, input, verdict, now);
      }
      return verdict;
    });
    if (refusal instanceof AlreadyDecidedError) await this.redrive(request, await token);
    if (refusal) throw refusal;

    const quorum = request.policy.quorum ?? 1;
    if (request.status === 'APPROVED' || request.status === 'DENIED') {
      try {
        await this.resumeWorkflow(request, await token);
      } catch (error) {
        // The decision is stored and in force (DynamoDB is the source of truth; a grant is already
        // claimable). Only the workflow was not told. Say exactly that: repeating the decision
        // re-drives it (AlreadyDecided → redrive), and so does the workflow's own timeout.
        throw new DependencyError(
          `The decision was recorded: the request is ${request.status}. The approval workflow could not be told yet; send the same decision again to finish.`,
          { details: { requestId: request.id, status: request.status, recorded: true }, cause: error },
        );
      }
    }
    return {
      request,
      outcome:
        request.status === 'APPROVED' ? 'approved' : request.status === 'DENIED' ? 'denied' : 'recorded',
      approvals: approvalsOf(request.decisions),
      quorum,
    };
  }

  /**
   * A repeated decision may be the retry of one whose workflow was never told (the resume failed
   * after the write, or the function died in between): tell it now, on either channel. The token
   * is single-use, so when the workflow already knows this changes nothing.
   *
   * The decider is answered AlreadyDecided whether or not this works: that answer is true (their
   * decision, or another, is stored and in force), and a 503 would only invite retries of a
   * decision that needs none. A failed re-drive is the operator's concern, not the decider's: it is
   * reported (the same line from both channels), and the next repeat or the workflow's own timeout
   * re-drives again.
   */
  private async redrive(request: AccessRequest, knownToken: string | undefined): Promise<void> {
    if (request.status !== 'APPROVED' && request.status !== 'DENIED') return;
    try {
      await this.resumeWorkflow(request, knownToken);
    } catch (error) {
      this.deps.log?.warn('workflow not re-driven after a repeated decision', {
        requestId: request.id,
        status: request.status,
        error: describeError(error),
        cause: describeError(error instanceof Error ? error.cause : undefined),
      });
    }
  }

  /** Returns the change this decision makes, or the error refusing it. */
  private judge(current: AccessRequest, input: Decider, now: Date): Change | CountersignError {
    const status = effectiveStatus(current, now);
    // The grace period effectiveStatus gives the workflow to record a timeout is for readers only: past
    // its approval timeout a request is never approved, whether or not the timeout was recorded yet.
    if (status === 'TIMED_OUT' || (status === 'PENDING' && now.getTime() >= approvalDeadline(current)))
      return new TimedOutError('The request timed out before it was decided.');
    if (status !== 'PENDING') {
      return new AlreadyDecidedError(`The request is already ${status}.`, { details: { status } });
    }
    if (
      // Fail closed: an approver whose name merely reads like the requester's is refused too.
      couldBeSamePerson(input.approver, current.requester.sub) ||
      couldBeSamePerson(input.approver, current.context.onBehalfOf)
    ) {
      return new SelfApprovalError('An approver cannot decide a request made by or on behalf of themselves.');
    }
    if (!isNamedApprover(current, input.approver, input.groups)) {
      return new NotAnApproverError(`The rule ${current.policy.rule} does not name this approver.`);
    }
    if (current.decisions.some((d) => sameIdentity(d.approver, input.approver))) {
      return new AlreadyDecidedError('This approver has already decided this request.');
    }
    const shownAt = Date.parse(current.shownAt ?? current.createdAt);
    const reviewSeconds = Math.max(0, Math.round((now.getTime() - shownAt) / 100) / 10);
    const minReview = current.policy.minReviewSeconds ?? 0;
    const tooFast = input.decision === 'approve' && reviewSeconds < minReview;
    // A deny is never refused for speed: refusing access quickly is always safe.
    if (tooFast && (current.policy.minReviewMode ?? 'refuse') === 'refuse') {
      return new TooFastError(
        `Approvals need at least ${minReview} s of review; this came after ${reviewSeconds} s.`,
        {
          details: { minReviewSeconds: minReview, reviewSeconds },
        },
      );
    }
    const at = now.toISOString();
    const decision: Decision = {
      approver: input.approver,
      decision: input.decision,
      channel: input.channel,
      at,
      reviewSeconds,
      ...(input.comment ? { comment: input.comment } : {}),
      ...(tooFast ? { rubberStamp: true } : {}),
    };
    const decisions = [...current.decisions, decision];
    const who = `${input.decision} by ${input.approver} via ${input.channel}`;
    if (input.decision === 'deny') {
      return {
        patch: {
          decisions,
          status: 'DENIED',
          outcome: {
            reason: input.comment ? `Denied: ${input.comment}` : 'Denied by an approver.',
            by: input.approver,
            at,
          },
        },
        event: `decision:${who}; denied`,
      };
    }
    const approvals = approvalsOf(decisions);
    if (approvals < (current.policy.quorum ?? 1)) return { patch: { decisions }, event: `decision:${who}` };
    return {
      patch: {
        decisions,
        status: 'APPROVED',
        grant: computeGrant(this.deps.config, current, now),
        outcome: { reason: 'Approved.', by: input.approver, at },
      },
      event: `decision:${who}; approved`,
    };
  }

  /** Keeps refused attempts that reviewers care about on the request (bounded), without changing its state. */
  private recordRefusal(
    current: AccessRequest,
    input: Decider,
    refusal: CountersignError,
    now: Date,
  ): Change | undefined {
    if (!(refusal instanceof SelfApprovalError || refusal instanceof TooFastError)) return undefined;
    if ((current.refusals?.length ?? 0) >= 50) return undefined;
    return {
      patch: {
        refusals: [
          ...(current.refusals ?? []),
          { approver: input.approver, code: refusal.code, channel: input.channel, at: now.toISOString() },
        ],
      },
      event: `refused:${refusal.code} ${input.approver}`,
    };
  }

  /**
   * Sends the settled outcome to the waiting workflow. Also used to re-drive a request whose
   * decision was stored but whose workflow was never told (a crash in between): the token is
   * single-use, so a second send is answered `gone` and changes nothing.
   */
  async resumeWorkflow(request: AccessRequest, knownToken?: string): Promise<void> {
    // A token seen before the write can be used; its absence only counts once confirmed after the
    // write: the notify step stores the token and then re-reads the request, so one of the two
    // always sees the other. With no token yet, the notify step resumes the workflow itself.
    const token = knownToken ?? (await this.deps.store.getTaskToken(request.id));
    if (!token) return;
    const answer = await this.send(request, token);
    // A token read before the write may have been replaced meanwhile (a retried notify step mints
    // a new one): if the one we had is gone, try the current one once.
    if (answer === 'gone' && knownToken) {
      const current = await this.deps.store.getTaskToken(request.id);
      if (current && current !== knownToken) await this.send(request, current);
    }
  }

  private send(request: AccessRequest, token: string): Promise<'sent' | 'gone' | 'skipped'> {
    if (request.status === 'APPROVED') {
      return this.deps.workflow.succeed(token, { status: 'APPROVED', notAfter: request.grant?.notAfter });
    }
    if (request.status === 'DENIED') {
      return this.deps.workflow.fail(token, 'Countersign.Denied', request.outcome?.reason ?? 'Denied');
    }
    return Promise.resolve('skipped');
  }
}

/**
 * The approver of a decision, in normal form. The API channel's caller must hold the approver role
 * before any rule is consulted; a Slack click's approver is whom `slack.users` maps the clicker to.
 * Identities enter in normal form (the JWT and Slack edges normalize); normalizing again is
 * idempotent and keeps this path safe for any caller that did not.
 */
function decider(given: DecisionInput): Decider {
  const body = { decision: given.decision, ...(given.comment ? { comment: given.comment } : {}) };
  if (given.channel === 'api') {
    if (!given.caller.roles.has('approver')) throw new ForbiddenError('Only approvers may decide requests.');
    const approver = normalizeIdentity(given.caller.sub);
    if (approver === '') throw new NotAnApproverError('An empty identity approves nothing.');
    return { ...body, requestId: given.requestId, approver, groups: given.caller.groups, channel: 'api' };
  }
  const approver = normalizeIdentity(given.approver);
  if (approver === '') throw new NotAnApproverError('An empty identity approves nothing.');
  return { ...body, requestId: given.requestId, approver, groups: [], channel: 'slack' };
}
