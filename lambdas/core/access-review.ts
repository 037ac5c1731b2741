import { ValidationError } from './errors.js';
import { toCsvRow } from './escape.js';
import { findingsFor } from './evidence.js';
import { globMatch } from './glob.js';
import { type AccessRequest, type Decision, REQUEST_STATUSES, type RequestStatus } from './model.js';
import { type Params, refuseUnknown } from './query-params.js';
import type { ReviewRow } from './report-reader.js';
import { CONTROL, parseRange, safeStatus } from './reports.js';

/**
 * `GET /v1/reports/access-review?from=&to=&resource=&view=` (docs/evidence.md, "The access
 * review"): what a periodic access review asks, per agent and per approver, in one call of up to
 * 366 days — a calendar quarter or a year — so medians are computed over the whole period (they do
 * not merge across calls). Counts add up: the status columns sum to `requests`; DENIED splits into
 * policy denials, approver denials and refusals; grants into human approvals and policy allows.
 */

/** A year, leap day included: the longest period one review covers. */
export const MAX_REVIEW_DAYS = 366;

export interface ReviewQuery {
  from: string;
  to: string;
  /** An ARN or an IAM-style pattern (`*`, `?`): only requests for matching resources. */
  resource?: string;
  /** Which table CSV answers: per agent (default) or per approver. JSON carries both. */
  view: 'agents' | 'approvers';
}

export function parseReviewQuery(params: Params, now: Date): ReviewQuery {
  refuseUnknown(params, ['from', 'to', 'resource', 'view']);
  const resource = params?.resource;
  if (resource !== undefined && (resource.length < 1 || resource.length > 2048 || CONTROL.test(resource))) {
    throw new ValidationError(
      'resource',
      'resource must be an ARN or an ARN pattern (* and ?), 1-2048 characters.',
    );
  }
  const view = params?.view ?? 'agents';
  if (view !== 'agents' && view !== 'approvers') {
    throw new ValidationError('view', 'view must be agents or approvers.');
  }
  return {
    ...parseRange(params, now, MAX_REVIEW_DAYS),
    ...(resource !== undefined ? { resource } : {}),
    view,
  };
}

/** `{ "arn…": ["dynamodb:PutItem", …] }` flattened for JSON: each resource with the actions granted on it. */
export interface GrantedAccess {
  resource: string;
  actions: string[];
}

export interface AgentReview {
  agent: string;
  issuer: string;
  requests: number;
  /** Requests by their status now (effective: a grant past notAfter is EXPIRED); sums to `requests`. */
  statuses: Record<RequestStatus, number>;
  /** Requests that became a grant (whatever their status now): approvedByHumans + allowedByPolicy. */
  approved: number;
  approvedByHumans: number;
  allowedByPolicy: number;
  /** DENIED requests: deniedByPolicy + deniedByApprovers + refused. */
  denied: number;
  deniedByPolicy: number;
  deniedByApprovers: number;
  /** DENIED for another reason: a grant that could not exist (no target role, …) or a failed start. */
  refused: number;
  timedOut: number;
  /** Median `reviewSeconds` of human decisions (approve or deny) on the agent's requests; null without any. */
  medianDecisionSeconds: number | null;
  rubberStamps: number;
  unusedGrants: number;
  /** The people who decided the agent's requests (approve or deny). */
  approvers: string[];
  /** Actions × resources the agent was granted. */
  granted: GrantedAccess[];
  /** Resources the agent's successful calls named. */
  resourcesTouched: string[];
  /** Exact calls Countersign made for the agent (EXECUTED requests; docs/exact-calls.md). */
  executions: number;
}

export interface ApproverReview {
  approver: string;
  /** Requests this approver decided (approved or denied). */
  decided: number;
  approvals: number;
  denials: number;
  medianReviewSeconds: number | null;
  /** Approvals sooner than the rule's minReviewSeconds (the RUBBER_STAMP finding). */
  rubberStamps: number;
  /** Requests whose agents this approver decided, and how many. */
  agents: string[];
}

export interface AccessReview {
  from: string;
  to: string;
  resource?: string;
  agents: AgentReview[];
  approvers: ApproverReview[];
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return Math.round(value * 10) / 10;
}

const isHuman = (d: Decision) => d.channel === 'slack' || d.channel === 'api';

const isRubberStamp = (d: Decision, minReview: number) =>
  d.decision === 'approve' &&
  isHuman(d) &&
  (d.rubberStamp === true || (d.reviewSeconds !== undefined && d.reviewSeconds < minReview));

const zeroStatuses = () =>
  Object.fromEntries(REQUEST_STATUSES.map((s) => [s, 0])) as Record<RequestStatus, number>;

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The review of `rows` (every request created in the range), filtered by `query.resource`. */
export function buildAccessReview(rows: readonly ReviewRow[], query: ReviewQuery, now: Date): AccessReview {
  type AgentEntry = AgentReview & {
    seconds: number[];
    people: Set<string>;
    access: Map<string, Set<string>>;
    touched: Set<string>;
  };
  type ApproverEntry = ApproverReview & { seconds: number[]; requestIds: Set<string>; agentSet: Set<string> };
  const agents = new Map<string, AgentEntry>();
  const approvers = new Map<string, ApproverEntry>();

  for (const { request, activity } of rows) {
    if (query.resource !== undefined && !globMatch(query.resource, String(request.resource ?? ''))) continue;
    const sub = String(request.requester?.sub ?? '(unknown)');
    const issuer = String(request.requester?.issuer ?? '(unknown)');
    const key = JSON.stringify([issuer, sub]);
    let entry = agents.get(key);
    if (!entry) {
      entry = {
        agent: sub,
        issuer,
        requests: 0,
        statuses: zeroStatuses(),
        approved: 0,
        approvedByHumans: 0,
        allowedByPolicy: 0,
        denied: 0,
        deniedByPolicy: 0,
        deniedByApprovers: 0,
        refused: 0,
        timedOut: 0,
        medianDecisionSeconds: null,
        rubberStamps: 0,
        unusedGrants: 0,
        approvers: [],
        granted: [],
        resourcesTouched: [],
        executions: 0,
        seconds: [],
        people: new Set(),
        access: new Map(),
        touched: new Set(),
      };
      agents.set(key, entry);
    }
    entry.requests += 1;
    const status = safeStatus(request as AccessRequest, now);
    if (status) entry.statuses[status] += 1;
    const decisions = Array.isArray(request.decisions) ? request.decisions : [];
    const human = decisions.filter(isHuman);
    if (request.grant) {
      entry.approved += 1;
      if (request.policy?.effect === 'allow') entry.allowedByPolicy += 1;
      else entry.approvedByHumans += 1;
      let actions = entry.access.get(request.grant.resource);
      if (!actions) {
        actions = new Set();
        entry.access.set(request.grant.resource, actions);
      }
      for (const action of request.grant.actions ?? []) actions.add(action);
    }
    if (status === 'DENIED') {
      entry.denied += 1;
      if (request.policy?.effect === 'deny') entry.deniedByPolicy += 1;
      else if (human.some((d) => d.decision === 'deny')) entry.deniedByApprovers += 1;
      else entry.refused += 1;
    }
    if (status === 'TIMED_OUT') entry.timedOut += 1;
    if (status === 'EXECUTED') entry.executions += 1;

    const minReview = request.policy?.minReviewSeconds ?? 0;
    for (const d of human) {
      entry.people.add(d.approver);
      if (typeof d.reviewSeconds === 'number') entry.seconds.push(d.reviewSeconds);
      let who = approvers.get(d.approver);
      if (!who) {
        who = {
          approver: d.approver,
          decided: 0,
          approvals: 0,
          denials: 0,
          medianReviewSeconds: null,
          rubberStamps: 0,
          agents: [],
          seconds: [],
          requestIds: new Set(),
          agentSet: new Set(),
        };
        approvers.set(d.approver, who);
      }
      who.requestIds.add(request.id);
      who.agentSet.add(sub);
      if (d.decision === 'approve') who.approvals += 1;
      else who.denials += 1;
      if (typeof d.reviewSeconds === 'number') who.seconds.push(d.reviewSeconds);
      if (isRubberStamp(d, minReview)) who.rubberStamps += 1;
    }

    let findings: ReturnType<typeof findingsFor> = [];
    try {
      findings = findingsFor(request, activity, now);
    } catch {
      // A malformed item counts as a request; the evidence listing names it.
    }
    if (findings.some((f) => f.type === 'RUBBER_STAMP')) entry.rubberStamps += 1;
    if (findings.some((f) => f.type === 'UNUSED_GRANT')) entry.unusedGrants += 1;
    for (const resource of activity.resources) entry.touched.add(resource);
  }

  return {
    from: query.from,
    to: query.to,
    ...(query.resource !== undefined ? { resource: query.resource } : {}),
    agents: [...agents.values()]
      .map(({ seconds, people, access, touched, ...review }) => ({
        ...review,
        medianDecisionSeconds: median(seconds),
        approvers: [...people].sort(byName),
        granted: [...access.entries()]
          .sort(([a], [b]) => byName(a, b))
          .map(([resource, actions]) => ({ resource, actions: [...actions].sort(byName) })),
        resourcesTouched: [...touched].sort(byName),
      }))
      .sort((a, b) => byName(a.agent, b.agent) || byName(a.issuer, b.issuer)),
    approvers: [...approvers.values()]
      .map(({ seconds, requestIds, agentSet, ...review }) => ({
        ...review,
        decided: requestIds.size,
        medianReviewSeconds: median(seconds),
        agents: [...agentSet].sort(byName),
      }))
      .sort((a, b) => byName(a.approver, b.approver)),
  };
}

/** Per agent: each column named in the header row, one per status among them. */
const AGENT_COLUMNS: ReadonlyArray<[string, (r: AgentReview) => string | number | null]> = [
  ['agent', (r) => r.agent],
  ['issuer', (r) => r.issuer],
  ['requests', (r) => r.requests],
  ...REQUEST_STATUSES.map((s): [string, (r: AgentReview) => number] => [s, (r) => r.statuses[s]]),
  ['approvedByHumans', (r) => r.approvedByHumans],
  ['allowedByPolicy', (r) => r.allowedByPolicy],
  ['deniedByApprovers', (r) => r.deniedByApprovers],
  ['deniedByPolicy', (r) => r.deniedByPolicy],
  ['refused', (r) => r.refused],
  ['medianDecisionSeconds', (r) => r.medianDecisionSeconds],
  ['rubberStamps', (r) => r.rubberStamps],
  ['unusedGrants', (r) => r.unusedGrants],
  ['approvers', (r) => r.approvers.join(' ')],
  ['granted', (r) => r.granted.map((g) => `${g.resource} ${g.actions.join(',')}`).join('; ')],
  ['resourcesTouched', (r) => r.resourcesTouched.join(' ')],
  ['executions', (r) => r.executions],
];

const APPROVER_COLUMNS: ReadonlyArray<[string, (r: ApproverReview) => string | number | null]> = [
  ['approver', (r) => r.approver],
  ['decided', (r) => r.decided],
  ['approvals', (r) => r.approvals],
  ['denials', (r) => r.denials],
  ['medianReviewSeconds', (r) => r.medianReviewSeconds],
  ['rubberStamps', (r) => r.rubberStamps],
  ['agents', (r) => r.agents.join(' ')],
];

function table<T>(
  columns: ReadonlyArray<[string, (row: T) => string | number | null]>,
  rows: readonly T[],
): string {
  const lines = [toCsvRow(columns.map(([name]) => name))];
  for (const row of rows) lines.push(toCsvRow(columns.map(([, cell]) => cell(row))));
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * The access review as RFC 4180 CSV, with a header row naming each column. Agent names, approvers
 * and resources are someone else's text: every cell goes through the CSV-injection-safe escaper,
 * so `=HYPERLINK(…)` arrives in a spreadsheet as text.
 */
export function accessReviewCsv(review: AccessReview, view: ReviewQuery['view']): string {
  return view === 'approvers'
    ? table(APPROVER_COLUMNS, review.approvers)
    : table(AGENT_COLUMNS, review.agents);
}
