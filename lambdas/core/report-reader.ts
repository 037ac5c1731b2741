import type { ActivityCounters } from './activity.js';
import type { AssessedRequest } from './evidence.js';
import type { AccessRequest, LinkedEvent, MintedSession, RequestStatus } from './model.js';

/**
 * What the reports read, as a port (ReportReader) and the shapes it answers in. Implemented on
 * DynamoDB by adapters/dynamodb-reports.ts; the listings (reports.ts, request-list.ts), the access
 * review and the evidence pages (evidence-pages.ts) decide what the reads mean.
 */

/** Where a listing stopped: the byDay partition (absent for an agent's listing) and the last sort key read. */
export interface ListPosition {
  day?: string;
  /** The index sort key `<createdAt>#<id>` of the last request examined. */
  after?: string;
}

export interface ListFilter {
  agent?: { issuer: string; sub: string };
  status?: RequestStatus;
  /** Inclusive, ISO-8601 (`toISOString`). */
  from: string;
  /** Exclusive. */
  to: string;
  limit: number;
}

export interface NewestListing {
  source: { statuses: readonly RequestStatus[] } | { agent: { issuer: string; sub: string } };
  /** Inclusive bound on the sort key `<createdAt>#<id>`. */
  from: string;
  /** Exclusive bound on the sort key. */
  to: string;
  after?: string;
  limit: number;
  accept: (request: StoredRequest) => boolean;
}

/** A REQUEST item as stored: the request and the linker's counters beside it. */
export interface StoredRequest {
  request: AccessRequest;
  activity: ActivityCounters;
}

/** The subset of a REQUEST item an access review reads (its projection leaves the history out). */
export type ReviewRow = { request: AssessedRequest; activity: ActivityCounters };

/** Reads for the reports; implemented on DynamoDB with Query and GetItem only, never Scan. */
export interface ReportReader {
  /**
   * Requests of `filter` newest first, from `position`, at most `filter.limit` of those `accept`
   * keeps; `storedStatuses` may pre-filter in the database. `next` is absent at the end.
   */
  listRequests(
    filter: ListFilter,
    position: ListPosition | undefined,
    options: { storedStatuses?: readonly RequestStatus[]; accept: (request: StoredRequest) => boolean },
  ): Promise<{ items: StoredRequest[]; next?: ListPosition }>;
  /**
   * Requests of one agent, or in any of some stored statuses, created in [from, to), newest first,
   * strictly older than `after` (a sort key `<createdAt>#<id>` from a previous `next`).
   */
  listNewest(listing: NewestListing): Promise<{ items: StoredRequest[]; next?: string }>;
  /**
   * Every item of one request's partition (`PartitionItem` below, in that order), read a
   * database page at a time as the caller consumes them; nothing when there is no such request.
   */
  evidenceItems(id: string): AsyncIterable<PartitionItem>;
  /** Every request created in [from, to); throws TooManyError past `max`. */
  reviewRows(from: string, to: string, max: number): Promise<ReviewRow[]>;
}

/**
 * One item of a request's partition, in the order the store reads them: every session, then the
 * request, then every event (descending sort key: `SESSION#…`, `REQUEST`, `EVENT#…`). `key` is the
 * item's sort key without its prefix; pages follow it.
 */
export type PartitionItem =
  | { kind: 'session'; key: string; session: MintedSession }
  | { kind: 'request'; stored: StoredRequest }
  | { kind: 'event'; key: string; event: LinkedEvent };
