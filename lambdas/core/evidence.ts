import { type ActivityCounters, type CallGroup, isAssumeRole } from './activity.js';
import {
  type EvidenceActivity,
  EvidenceTally,
  type ItemsVerdict,
  KeyedItemsCheck,
} from './evidence-tally.js';
import { type ChainVerdict, countersMacInput, verifyHistory, verifyKeyedHistory } from './history.js';
import type { AccessRequest, Decision, LinkedEvent, MintedSession } from './model.js';
import type { Mac } from './ports.js';
import { presentExecution, presentRequest } from './present.js';
import { effectiveStatus } from './status.js';

/**
 * The evidence record (DESIGN.md §1, §4): for one request, the six facts, what is wrong with them
 * (findings), whether all of them are on record (`complete`), and whether the stored record is the
 * one Countersign wrote (`integrity`, from the hash-chained history). Pure: the adapters read the
 * items, this decides what they mean. docs/evidence.md explains the record to its readers.
 */

export const FACTS = ['requester', 'requested', 'justification', 'decision', 'grant', 'activity'] as const;
export type FactName = (typeof FACTS)[number];

/**
 * - `present`: on record.
 * - `missing`: should be on record and is not — the record is incomplete.
 * - `pending`: not known yet, because the request is still open (no decision yet, or a grant still
 *   running: what happens next is still being written) — the record is not complete *yet*.
 * - `not-applicable`: cannot exist for this request (no grant and no activity for a request that
 *   was never granted).
 */
export type FactState = 'present' | 'missing' | 'pending' | 'not-applicable';

export type FindingType =
  | 'RUBBER_STAMP'
  | 'UNUSED_GRANT'
  | 'ACCESS_DENIED'
  | 'SELF_APPROVAL_ATTEMPT'
  | 'UNLINKED_ACTIVITY'
  | 'INTEGRITY_FAILURE';

export interface Finding {
  type: FindingType;
  detail: string;
}

/** Detail the full record has and a listing's counters do not. */
type Failure = CallGroup & { errorCode: string };
interface ActivityDetail {
  failures?: Failure[];
  unlinkedEvents?: Array<{ eventName: string; eventTime: string; accessKeyId?: string }>;
}

const nonEmpty = (value: unknown): boolean => typeof value === 'string' && value.trim().length > 0;

/** The fields the facts and findings look at: a listing's projection carries these and no more. */
export type AssessedRequest = Pick<
  AccessRequest,
  | 'id'
  | 'status'
  | 'requester'
  | 'resource'
  | 'actions'
  | 'reason'
  | 'createdAt'
  | 'policy'
  | 'decisions'
  | 'grant'
  | 'outcome'
  | 'refusals'
  | 'execution'
>;

const isHumanApproval = (d: Decision) => d.decision === 'approve' && d.channel !== 'policy';

/**
 * Which of the six facts the record holds. A request that was never granted (DENIED, TIMED_OUT, or
 * REVOKED while PENDING) has no grant and no activity: facts 5 and 6 are `not-applicable`, and its
 * record is complete with facts 1–4. A granted request needs all six; while its grant is still
 * running, fact 6 is `pending`.
 */
export function assessFacts(request: AssessedRequest, now: Date): Record<FactName, FactState> {
  const status = effectiveStatus(request as AccessRequest, now);
  const granted = request.grant !== undefined || status === 'APPROVED' || status === 'EXPIRED';
  return {
    requester:
      nonEmpty(request.requester?.sub) && nonEmpty(request.requester?.issuer) ? 'present' : 'missing',
    requested:
      nonEmpty(request.resource) && Array.isArray(request.actions) && request.actions.length > 0
        ? 'present'
        : 'missing',
    justification: nonEmpty(request.reason) ? 'present' : 'missing',
    decision: decisionFact(request, status, granted),
    grant: !granted ? 'not-applicable' : grantIsWhole(request.grant) ? 'present' : 'missing',
    activity: !granted
      ? 'not-applicable'
      : !request.grant
        ? 'missing'
        : status === 'APPROVED'
          ? 'pending'
          : status === 'EXECUTED'
            ? // An exact call's fact 6 is its execution, written once the call ended.
              request.execution?.at
              ? 'present'
              : 'missing'
            : 'present',
  };
}

function decisionFact(request: AssessedRequest, status: string, granted: boolean): FactState {
  if (status === 'PENDING') return 'pending';
  const decisions = Array.isArray(request.decisions) ? request.decisions : [];
  if (granted) {
    if (request.policy?.effect === 'allow') {
      return decisions.some((d) => d.channel === 'policy' && d.decision === 'approve')
        ? 'present'
        : 'missing';
    }
    const approvals = decisions.filter(
      (d) => isHumanApproval(d) && nonEmpty(d.approver) && nonEmpty(d.at),
    ).length;
    return approvals >= (request.policy?.quorum ?? 1) ? 'present' : 'missing';
  }
  // Never granted: the decision is the deny (approver or policy rule), the timeout, or the revoke,
  // each written as the request's outcome. A request that timed out only by the clock (its workflow
  // never wrote TIMED_OUT) has none: that is a hole worth flagging.
  return request.outcome && nonEmpty(request.outcome.reason) && nonEmpty(request.outcome.at)
    ? 'present'
    : 'missing';
}

function grantIsWhole(grant: AccessRequest['grant']): boolean {
  return (
    grant !== undefined &&
    nonEmpty(grant.roleArn) &&
    nonEmpty(grant.notAfter) &&
    nonEmpty(grant.resource) &&
    Array.isArray(grant.actions) &&
    grant.actions.length > 0 &&
    typeof grant.durationSeconds === 'number' &&
    Array.isArray(grant.sessionPolicy?.Statement) &&
    grant.sessionPolicy.Statement.length > 0
  );
}

export const isComplete = (facts: Record<FactName, FactState>): boolean =>
  FACTS.every((fact) => facts[fact] === 'present' || facts[fact] === 'not-applicable');

/** `verifyHistory`, made safe against items edited into shapes it does not expect. */
export function verifyIntegrity(request: AccessRequest): ChainVerdict {
  if (!Array.isArray(request.history)) return { valid: false, problem: 'no history recorded' };
  try {
    return verifyHistory(request.history, request);
  } catch {
    return { valid: false, problem: 'the stored history is malformed' };
  }
}

/** Findings, from the request and its activity (counters for a listing, events for the record). */
export function findingsFor(
  request: AssessedRequest,
  activity: ActivityCounters & ActivityDetail,
  now: Date,
  integrity?: ChainVerdict,
): Finding[] {
  const findings: Finding[] = [];
  const minReview = request.policy?.minReviewSeconds ?? 0;
  for (const d of Array.isArray(request.decisions) ? request.decisions : []) {
    // A deny is never a rubber stamp: refusing quickly is always safe (see decisions.ts).
    const tooFast = d.reviewSeconds !== undefined && d.reviewSeconds < minReview;
    if (isHumanApproval(d) && (d.rubberStamp === true || tooFast)) {
      findings.push({
        type: 'RUBBER_STAMP',
        detail: `${d.approver} approved via ${d.channel} after ${d.reviewSeconds ?? '?'} s of review; the rule ${request.policy.rule} asks for at least ${minReview} s.`,
      });
    }
  }
  for (const r of Array.isArray(request.refusals) ? request.refusals : []) {
    if (r.code === 'SelfApproval') {
      findings.push({
        type: 'SELF_APPROVAL_ATTEMPT',
        detail: `${r.approver} tried to decide their own request (made by or on behalf of them) via ${r.channel} at ${r.at}; refused.`,
      });
    }
  }
  if (request.grant && effectiveStatus(request as AccessRequest, now) === 'EXPIRED' && activity.calls === 0) {
    findings.push({
      type: 'UNUSED_GRANT',
      detail: `The grant of ${request.grant.actions.join(', ')} ended at ${request.grant.notAfter} and no API call was recorded under it.`,
    });
  }
  if (activity.denied > 0) {
    const kinds = (activity.failures ?? [])
      .map((f) => `${f.eventName} → ${f.errorCode} ×${f.count}`)
      .join('; ');
    findings.push({
      type: 'ACCESS_DENIED',
      detail: `${activity.denied} call(s) under this grant failed with an error code${kinds ? `: ${kinds}` : ''}.`,
    });
  }
  if (activity.unlinked > 0) {
    const examples = (activity.unlinkedEvents ?? [])
      .slice(0, 5)
      .map((e) => `${e.eventName} at ${e.eventTime}${e.accessKeyId ? ` with ${e.accessKeyId}` : ''}`)
      .join('; ');
    findings.push({
      type: 'UNLINKED_ACTIVITY',
      detail: `${activity.unlinked} event(s) under this request's session name used an access key Countersign never minted for it${examples ? `: ${examples}` : ''}.`,
    });
  }
  if (integrity && !integrity.valid) {
    findings.push({ type: 'INTEGRITY_FAILURE', detail: integrity.problem ?? 'the history does not verify' });
  }
  return findings;
}

export interface EvidenceInput {
  request: AccessRequest;
  /** The sessions to list: all of them, or one page. */
  sessions: readonly MintedSession[];
  /** The events to list: all of them, or one page. */
  events: readonly LinkedEvent[];
  /**
   * What all of the request's events add up to (an EvidenceTally fed every event), when `events`
   * is one page of them. @default tallied from `events`
   */
  activity?: EvidenceActivity;
  /** How many sessions and events the request has on record in all. @default the lengths of the lists */
  recorded?: { sessions: number; events: number };
  now: Date;
}

const byTime =
  <T>(key: (item: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/**
 * The evidence record of `GET /v1/reports/requests/{id}`: the lists are the page given, and
 * everything derived from activity (totals, findings, the exact call's events) is over all events.
 */
export function buildEvidenceRecord(input: EvidenceInput) {
  const { request, now } = input;
  const events = [...input.events].sort(byTime((e) => `${e.eventTime}#${e.eventId}`));
  const activity =
    input.activity ??
    EvidenceTally.of(input.events, {
      executionKey: request.execution?.accessKeyId,
    });
  const totals = activity.totals;

  const integrity = verifyIntegrity(request);
  const facts = assessFacts(request, now);
  const findings = findingsFor(
    request,
    { ...totals, failures: activity.failures, unlinkedEvents: activity.unlinkedEvents },
    now,
    integrity,
  );
  return {
    request: presentRequest(request, now),
    evidence: {
      requester: {
        sub: request.requester.sub,
        issuer: request.requester.issuer,
        groups: request.requester.groups ?? [],
        ...(request.context?.onBehalfOf ? { onBehalfOf: request.context.onBehalfOf } : {}),
      },
      requested: {
        resource: request.resource,
        actions: request.actions,
        accessLevels: request.policy?.accessLevels ?? [],
        durationSeconds: request.durationSeconds,
        createdAt: request.createdAt,
      },
      justification: { reason: request.reason, context: request.context ?? {} },
      decision: {
        policy: request.policy,
        ...(request.shownAt ? { shownAt: request.shownAt } : {}),
        decisions: request.decisions ?? [],
        refusals: request.refusals ?? [],
        ...(request.outcome ? { outcome: request.outcome } : {}),
      },
      grant: request.grant ?? null,
      sessions: [...input.sessions].sort(byTime((s) => s.issuedAt)).map((s) => ({
        accessKeyId: s.accessKeyId,
        issuedAt: s.issuedAt,
        expiresAt: s.expiresAt,
        roleArn: s.roleArn,
        assumedRoleId: s.assumedRoleId,
        sourceIdentity: s.sourceIdentity,
        /** CloudTrail's own AssumeRole record of this session has been linked. */
        cloudTrailConfirmed: activity.confirmed.has(s.accessKeyId),
      })),
      activity: events.map(({ requestId: _r, ...event }) => event),
      ...(request.call ? { execution: executionFact(request, activity.executionEvents) } : {}),
      activityTotals: totals,
      recorded: input.recorded ?? { sessions: input.sessions.length, events: input.events.length },
    },
    facts,
    findings,
    complete: isComplete(facts),
    integrity,
  };
}

export type EvidenceRecord = ReturnType<typeof buildEvidenceRecord>;

/**
 * Fact 6 of an exact call: what was asked (operation, input hash), what happened (status, masked
 * output and its hash, the AWS error), and the CloudTrail events made with the call's session.
 */
function executionFact(request: AccessRequest, events: readonly LinkedEvent[]) {
  const call = request.call!;
  const execution = request.execution;
  return {
    operation: call.operation,
    inputSha256: call.inputSha256,
    ...(execution ? presentExecution(execution) : { status: 'not-executed' }),
    cloudTrail: execution?.accessKeyId
      ? events
          .filter((e) => e.accessKeyId === execution.accessKeyId && !isAssumeRole(e))
          .map(({ requestId: _r, ...event }) => event)
      : [],
  };
}

/** One item of `GET /v1/reports/requests`: built from the REQUEST item alone (no extra read). */
export function buildEvidenceSummary(request: AccessRequest, counters: ActivityCounters, now: Date) {
  const integrity = verifyIntegrity(request);
  const facts = assessFacts(request, now);
  return {
    request: presentRequest(request, now),
    activity: counters,
    facts,
    findings: findingsFor(request, counters, now, integrity),
    complete: isComplete(facts),
    integrity,
  };
}

export type EvidenceSummary = ReturnType<typeof buildEvidenceSummary>;

/**
 * The keyed verdict on everything a reviewer relies on (issue 12, item 3): the request's history
 * chain (refusals and `shownAt` included), every minted session, every linked event and the
 * activity counters each carry a MAC only the history key can make; and the events still add up
 * to the MAC'd counters, so deleting an event (to erase ACCESS_DENIED) is seen even though a
 * deletion leaves no MAC to check. Counters may run high by one after a linker crash (see
 * DynamoDbEventStore.putEvent), so a mismatch says "may have been deleted". The sessions and events
 * are all of the request's: given as lists, or already checked while streaming (`checked`, from a
 * KeyedItemsCheck fed every item) — never a part of them.
 */
export async function verifyEvidenceIntegrity(
  input: {
    request: AccessRequest;
    sessions?: Iterable<MintedSession>;
    events?: Iterable<LinkedEvent>;
    counters?: ActivityCounters & { mac?: string };
    checked?: ItemsVerdict;
  },
  mac: Mac,
): Promise<ChainVerdict> {
  const { request } = input;
  if (!Array.isArray(request.history)) return { valid: false, problem: 'no history recorded' };
  const chain = await verifyKeyedHistory(request.history, request, mac);
  if (!chain.valid) return chain;
  let items = input.checked;
  if (!items) {
    const check = new KeyedItemsCheck(mac);
    for (const session of input.sessions ?? []) await check.session(session);
    for (const event of input.events ?? []) await check.event(event);
    items = await check.verdict();
  }
  if (items.problem !== undefined) return { valid: false, problem: items.problem };
  const counters = input.counters;
  if (counters && (counters.calls > 0 || counters.denied > 0 || counters.unlinked > 0 || items.events > 0)) {
    if (!counters.mac || !(await mac.verify(countersMacInput(request.id, counters), counters.mac))) {
      return { valid: false, problem: 'the activity counters do not verify with the history key' };
    }
    for (const key of ['calls', 'denied', 'unlinked'] as const) {
      if (items.summed[key] < counters[key]) {
        return {
          valid: false,
          problem: `the counters record ${counters[key]} ${key} but only ${items.summed[key]} such events remain: events may have been deleted`,
        };
      }
    }
  }
  return { valid: true };
}

/**
 * The evidence record with its integrity verdict replaced by the keyed one (and its
 * INTEGRITY_FAILURE finding with it). `integrity.keyed` tells a reviewer which check was made.
 */
export function withKeyedIntegrity<T extends { integrity: ChainVerdict; findings: Finding[] }>(
  record: T,
  verdict: ChainVerdict,
): T & { integrity: ChainVerdict & { keyed: true } } {
  const findings = record.findings.filter((f) => f.type !== 'INTEGRITY_FAILURE');
  if (!verdict.valid) {
    findings.push({ type: 'INTEGRITY_FAILURE', detail: verdict.problem ?? 'the history does not verify' });
  }
  return { ...record, findings, integrity: { ...verdict, keyed: true } };
}
