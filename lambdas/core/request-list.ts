import { createHash } from 'node:crypto';
import { isRequester } from './access.js';
import { isNamedApprover } from './decisions.js';
import { ForbiddenError, ValidationError } from './errors.js';
import { type AccessRequest, type Caller, REQUEST_STATUSES, type RequestStatus } from './model.js';
import { presentRequest } from './present.js';
import { badCursor, type Params, readCursor, refuseUnknown } from './query-params.js';
import type { ReportReader, StoredRequest } from './report-reader.js';
import { parseLimit, SORT_KEY, safeStatus, storedStatusesFor } from './reports.js';

/**
 * `GET /v1/requests?status=&limit=&cursor=` (docs/openapi.yaml): the caller's own view, newest
 * first. Auditors see every request; approvers the requests they may decide (the matching rule names
 * them, by identity or `group:NAME`, and they neither made it nor are its `onBehalfOf`) — with
 * `status=PENDING` that is their inbox, less what they have already decided; agents their own.
 * Someone with two roles sees the union. Reads are Queries on the byStatus and byAgent indexes.
 */

const PARAMS = ['status', 'limit', 'cursor'] as const;

/** The whole time axis: every sort key `<createdAt>#<id>` lies between these. */
const FIRST_KEY = '0000';
const LAST_KEY = '9999';

export interface CallerListQuery {
  status?: RequestStatus;
  limit: number;
  /** The sort key of the last request the previous page examined. */
  after?: string;
  fingerprint: string;
}

/** What a caller may list; 403 for a caller with none of the three roles. */
export function listScope(caller: Caller): { all: boolean; decides: boolean; own: boolean } {
  const scope = {
    all: caller.roles.has('auditor'),
    decides: caller.roles.has('approver'),
    own: caller.roles.has('agent'),
  };
  if (!scope.all && !scope.decides && !scope.own) {
    throw new ForbiddenError('Only agents, approvers and auditors may list requests.');
  }
  return scope;
}

/** May `caller` decide `request` as far as who they are goes (not whether it is still open)? */
export function mayDecide(caller: Caller, request: AccessRequest): boolean {
  if (request.policy?.effect !== 'approve') return false;
  if (caller.sub === request.requester?.sub || caller.sub === request.context?.onBehalfOf) return false;
  return isNamedApprover(request, caller.sub, caller.groups);
}

const fingerprintOf = (caller: Caller, status: RequestStatus | undefined) =>
  createHash('sha256')
    .update(JSON.stringify(['requests', caller.issuer, caller.sub, status ?? null]))
    .digest('base64url')
    .slice(0, 16);

export function parseCallerListQuery(params: Params, caller: Caller): CallerListQuery {
  refuseUnknown(params, PARAMS);
  const status = params?.status;
  if (status !== undefined && !(REQUEST_STATUSES as readonly string[]).includes(status)) {
    throw new ValidationError('status', `status must be one of ${REQUEST_STATUSES.join(', ')}.`);
  }
  const query: CallerListQuery = {
    ...(status !== undefined ? { status: status as RequestStatus } : {}),
    limit: parseLimit(params?.limit),
    fingerprint: fingerprintOf(caller, status as RequestStatus | undefined),
  };
  if (params?.cursor === undefined) return query;
  return { ...query, after: decodeListCursor(params.cursor, query.fingerprint) };
}

/** `{v, q, k}` in base64url: the version, the query (and caller) it belongs to, the position. */
function decodeListCursor(raw: string, fingerprint: string): string {
  const c = readCursor(raw, fingerprint, ['q', 'k'], 256);
  if (typeof c.k !== 'string' || !SORT_KEY.test(c.k)) throw badCursor('bad position');
  return c.k;
}

const encodeListCursor = (fingerprint: string, after: string) =>
  Buffer.from(JSON.stringify({ v: 1, q: fingerprint, k: after }), 'utf8').toString('base64url');

/** Lists what `caller` may see, newest first: `{items: [request…], nextCursor}`. */
export async function listForCaller(reader: ReportReader, caller: Caller, query: CallerListQuery, now: Date) {
  const scope = listScope(caller);
  const { status } = query;
  const visible = (request: AccessRequest): boolean => {
    if (scope.all) return true;
    if (scope.own && isRequester(caller, request)) return true;
    if (!scope.decides || !mayDecide(caller, request)) return false;
    // The inbox leaves out what this approver has already decided.
    if (status === 'PENDING' && request.decisions?.some((d) => d.approver === caller.sub)) return false;
    return true;
  };
  const accept = ({ request }: StoredRequest) =>
    visible(request) && (status === undefined || safeStatus(request, now) === status);
  // An agent-only caller reads its own byAgent partition; anyone who may see others' requests reads
  // the byStatus partitions of the statuses that can read as the one asked for (all, without one).
  const source =
    scope.own && !scope.all && !scope.decides
      ? { agent: { issuer: caller.issuer, sub: caller.sub } }
      : { statuses: status ? storedStatusesFor(status) : [...REQUEST_STATUSES] };
  const page = await reader.listNewest({
    source,
    from: FIRST_KEY,
    to: LAST_KEY,
    ...(query.after ? { after: query.after } : {}),
    limit: query.limit,
    accept,
  });
  const items = [];
  for (const { request } of page.items) {
    try {
      items.push(presentRequest(request, now));
    } catch {
      // An item edited into a shape the code cannot read is left out here; the reports name it.
    }
  }
  return { items, nextCursor: page.next ? encodeListCursor(query.fingerprint, page.next) : null };
}
