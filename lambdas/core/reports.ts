import { createHash } from 'node:crypto';
import { ForbiddenError, ValidationError } from './errors.js';
import {
  buildEvidenceRecord,
  buildEvidenceSummary,
  type EvidenceRecord,
  type EvidenceSummary,
  verifyEvidenceIntegrity,
  withKeyedIntegrity,
} from './evidence.js';
import { type EvidencePage, type EvidenceQuery, readEvidencePage } from './evidence-pages.js';
import { normalizeIdentity } from './identity.js';
import { type AccessRequest, type Caller, REQUEST_STATUSES, type RequestStatus } from './model.js';
import type { Mac } from './ports.js';
import { badCursor, type Params, readCursor, refuseUnknown } from './query-params.js';
import type {
  ListFilter,
  ListPosition,
  PartitionItem,
  ReportReader,
  StoredRequest,
} from './report-reader.js';
import { effectiveStatus } from './status.js';

/**
 * The reports API for auditors (docs/openapi.yaml, Reports): query parsing with clear 400s, the opaque
 * cursor, and the access review. Storage walks the indexes (ReportReader); this decides what the
 * parameters mean and what comes back.
 */

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 100;
/** The widest time range one listing call may cover: bounds the byDay partitions a call walks. */
export const MAX_RANGE_DAYS = 90;
/** Without `from`, a report covers this many days up to `to`. */
export const DEFAULT_RANGE_DAYS = 7;
/** An access review reads every request in its range; beyond this it asks for a narrower one. */
export const MAX_REVIEW_REQUESTS = 10_000;

const DAY_MS = 86_400_000;

export function requireAuditor(caller: Caller): void {
  if (!caller.roles.has('auditor')) throw new ForbiddenError('Reports are for auditors.');
}

const INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * A bound: an ISO-8601 instant, or a date. A date `from` is that day's first instant; a date `to`
 * (exclusive) is the next day's, so `to=2026-11-30` includes the whole of November 30th.
 */
function parseInstant(name: 'from' | 'to', value: string): number {
  const dateOnly = value.length === 10;
  const time = INSTANT.test(value)
    ? Date.parse(dateOnly ? `${value}T00:00:00Z` : value) + (dateOnly && name === 'to' ? DAY_MS : 0)
    : Number.NaN;
  if (Number.isNaN(time) || time < Date.UTC(2000, 0, 1) || time >= Date.UTC(10000, 0, 1)) {
    throw new ValidationError(
      name,
      `${name} must be a date (2025-01-31) or an ISO-8601 instant (2025-01-31T12:00:00Z).`,
    );
  }
  return time;
}

/** `from`/`to`: defaults (the last 7 days up to now), order and the bound (90 days for a listing). */
export function parseRange(
  params: Params,
  now: Date,
  maxDays = MAX_RANGE_DAYS,
): { from: string; to: string } {
  const to = params?.to !== undefined ? parseInstant('to', params.to) : now.getTime();
  const from =
    params?.from !== undefined ? parseInstant('from', params.from) : to - DEFAULT_RANGE_DAYS * DAY_MS;
  return checkRange(from, to, maxDays);
}

function checkRange(from: number, to: number, maxDays = MAX_RANGE_DAYS): { from: string; to: string } {
  if (from >= to) throw new ValidationError('from', 'from must be earlier than to.');
  if (to - from > maxDays * DAY_MS) {
    throw new ValidationError('from', `The range may span at most ${maxDays} days.`, {
      maxDays,
    });
  }
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

/** The days (`yyyy-mm-dd`) a range touches, newest first: the byDay partitions to walk. */
export function daysOf(from: string, to: string): string[] {
  const days: string[] = [];
  const first = Date.parse(`${from.slice(0, 10)}T00:00:00Z`);
  for (
    let day = Date.parse(`${new Date(Date.parse(to) - 1).toISOString().slice(0, 10)}T00:00:00Z`);
    day >= first;
    day -= DAY_MS
  ) {
    days.push(new Date(day).toISOString().slice(0, 10));
  }
  return days;
}

const LIST_PARAMS = ['agent', 'status', 'from', 'to', 'limit', 'cursor'] as const;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f]/;

export interface ListQuery {
  filter: ListFilter;
  position?: ListPosition;
  /** Binds a cursor to the filters it was made for. */
  fingerprint: string;
}

/**
 * `GET /v1/reports/requests` parameters. `agent` is the agent's `sub` under this deployment's
 * issuer. The cursor carries the resolved range, so paging through a report that defaulted to
 * "the last 7 days" keeps the window page 1 had.
 */
export function parseListQuery(params: Params, now: Date, issuer: string): ListQuery {
  refuseUnknown(params, LIST_PARAMS);
  const agent = params?.agent;
  if (agent !== undefined && (agent.length < 1 || agent.length > 256 || CONTROL.test(agent))) {
    throw new ValidationError('agent', 'agent must be an agent identity (the JWT sub), 1-256 characters.');
  }
  const status = params?.status;
  if (status !== undefined && !(REQUEST_STATUSES as readonly string[]).includes(status)) {
    throw new ValidationError('status', `status must be one of ${REQUEST_STATUSES.join(', ')}.`);
  }
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([agent ?? null, status ?? null, params?.from ?? null, params?.to ?? null]))
    .digest('base64url')
    .slice(0, 16);
  const base = {
    ...(agent !== undefined ? { agent: { issuer, sub: normalizeIdentity(agent) } } : {}),
    ...(status !== undefined ? { status: status as RequestStatus } : {}),
    limit: parseLimit(params?.limit),
  };
  if (params?.cursor === undefined) return { filter: { ...base, ...parseRange(params, now) }, fingerprint };

  const cursor = decodeCursor(params.cursor, fingerprint);
  const range = checkRange(Date.parse(cursor.f), Date.parse(cursor.t));
  // Explicit bounds must be the ones the cursor was made with; omitted ones come from the cursor.
  const explicit = { from: params.from, to: params.to };
  for (const name of ['from', 'to'] as const) {
    const value = explicit[name];
    if (value !== undefined && new Date(parseInstant(name, value)).toISOString() !== range[name]) {
      throw badCursor('it belongs to a query with other filters');
    }
  }
  const filter: ListFilter = { ...base, ...range };
  const position = checkPosition(cursor, filter);
  return { filter, position, fingerprint };
}

/** `limit`: 1 to MAX_LIMIT, DEFAULT_LIMIT when absent. */
export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT) {
    throw new ValidationError('limit', `limit must be a whole number from 1 to ${MAX_LIMIT}.`);
  }
  return Number(raw);
}

interface CursorBody {
  v: 1;
  q: string;
  f: string;
  t: string;
  d?: string;
  k?: string;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
export const SORT_KEY = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)#(req_[A-Za-z0-9]{20})$/;

export function encodeCursor(query: ListQuery, next: ListPosition): string {
  const body: CursorBody = {
    v: 1,
    q: query.fingerprint,
    f: query.filter.from,
    t: query.filter.to,
    ...(next.day ? { d: next.day } : {}),
    ...(next.after ? { k: next.after } : {}),
  };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** Decodes a report listing's cursor: its range and position must be its own. */
function decodeCursor(raw: string, fingerprint: string): CursorBody {
  const c = readCursor(raw, fingerprint, ['q', 'f', 't', 'd', 'k'], 512);
  if (typeof c.f !== 'string' || !ISO.test(c.f) || typeof c.t !== 'string' || !ISO.test(c.t))
    throw badCursor('bad range');
  if (c.d !== undefined && (typeof c.d !== 'string' || !DAY.test(c.d))) throw badCursor('bad position');
  if (c.k !== undefined && (typeof c.k !== 'string' || !SORT_KEY.test(c.k))) throw badCursor('bad position');
  return c as unknown as CursorBody;
}

/** The cursor's position must lie inside its own range, or the database would refuse the start key. */
function checkPosition(cursor: CursorBody, filter: ListFilter): ListPosition {
  const days = daysOf(filter.from, filter.to);
  // Only a listing over everyone without a status filter walks the byDay partitions.
  const byDay = !filter.agent && !filter.status;
  if (byDay ? cursor.d === undefined || !days.includes(cursor.d) : cursor.d !== undefined) {
    throw badCursor('position outside the range');
  }
  if (cursor.k !== undefined) {
    const createdAt = SORT_KEY.exec(cursor.k)![1]!;
    if (
      createdAt < filter.from ||
      createdAt >= filter.to ||
      (cursor.d !== undefined && !createdAt.startsWith(cursor.d))
    ) {
      throw badCursor('position outside the range');
    }
  }
  return { ...(cursor.d ? { day: cursor.d } : {}), ...(cursor.k ? { after: cursor.k } : {}) };
}

/**
 * The stored statuses that can read as `status` (an APPROVED grant past notAfter reads EXPIRED, a
 * PENDING request past its timeout reads TIMED_OUT), for a database-side pre-filter; the exact
 * test is on the effective status.
 */
export function storedStatusesFor(status: RequestStatus): RequestStatus[] {
  if (status === 'EXPIRED') return ['EXPIRED', 'APPROVED'];
  if (status === 'TIMED_OUT') return ['TIMED_OUT', 'PENDING'];
  return [status];
}

/** `GET /v1/reports/requests`. */
export async function listEvidence(reader: ReportReader, query: ListQuery, now: Date) {
  const { filter } = query;
  const page = await reader.listRequests(filter, query.position, {
    ...(filter.status ? { storedStatuses: storedStatusesFor(filter.status) } : {}),
    accept: (stored) => !filter.status || safeStatus(stored.request, now) === filter.status,
  });
  return {
    items: page.items.map((stored) => summarise(stored, now)),
    nextCursor: page.next ? encodeCursor(query, page.next) : null,
  };
}

export function safeStatus(request: AccessRequest, now: Date): RequestStatus | undefined {
  try {
    return effectiveStatus(request, now);
  } catch {
    return undefined;
  }
}

/**
 * A summary, or — for an item edited into a shape the code cannot read — a record that says so
 * instead of failing the whole page.
 */
function summarise(stored: StoredRequest, now: Date): EvidenceSummary | MalformedSummary {
  try {
    return buildEvidenceSummary(stored.request, stored.activity, now);
  } catch {
    return malformed(stored.request.id);
  }
}

export interface MalformedSummary {
  request: { id: string };
  findings: Array<{ type: 'INTEGRITY_FAILURE'; detail: string }>;
  complete: false;
  integrity: { valid: false; problem: string };
}

function malformed(id: unknown): MalformedSummary {
  const problem = 'the stored request is malformed';
  return {
    request: { id: typeof id === 'string' ? id : '(unknown)' },
    findings: [{ type: 'INTEGRITY_FAILURE', detail: problem }],
    complete: false,
    integrity: { valid: false, problem },
  };
}

/**
 * `GET /v1/reports/requests/{id}`: one page of the evidence record, read from the request's
 * partition (`items`), with the keyed integrity verdict over all of it when there is a history key.
 * Undefined when there is no such request.
 */
export async function readEvidenceRecord(
  items: AsyncIterable<PartitionItem>,
  query: EvidenceQuery,
  now: Date,
  mac?: Mac,
) {
  const page = await readEvidencePage(items, query, mac);
  if (!page) return undefined;
  const record = evidenceRecordOf(page, now);
  if (!mac || !page.checked || !('evidence' in record)) return record;
  const verdict = await verifyEvidenceIntegrity(
    { request: page.request, counters: page.activity, checked: page.checked },
    mac,
  );
  return withKeyedIntegrity(record, verdict);
}

/** One page of the record, and the cursor to the next. */
function evidenceRecordOf(
  page: EvidencePage,
  now: Date,
): (EvidenceRecord & { nextCursor: string | null }) | MalformedSummary {
  try {
    return {
      ...buildEvidenceRecord({
        request: page.request,
        sessions: page.sessions,
        events: page.events,
        activity: page.tally,
        recorded: page.recorded,
        now,
      }),
      nextCursor: page.nextCursor,
    };
  } catch {
    return malformed(page.request.id);
  }
}
