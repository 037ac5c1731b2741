import { createHash } from 'node:crypto';
import { ValidationError } from './errors.js';
import {
  type EvidenceActivity,
  EvidenceTally,
  type ItemsVerdict,
  KeyedItemsCheck,
} from './evidence-tally.js';
import type { LinkedEvent, MintedSession } from './model.js';
import type { Mac } from './ports.js';
import { badCursor, type Params, readCursor, refuseUnknown } from './query-params.js';
import type { PartitionItem, StoredRequest } from './report-reader.js';

/**
 * One evidence record, page by page (issue 12, item 7): `GET /v1/reports/requests/{id}` lists at
 * most `limit` sessions and `limit` events a call, and `nextCursor` leads to the next ones, so no
 * number of sessions or calls can hide part of a record from its reviewer. Every call still reads
 * the request's whole partition, one DynamoDB page at a time, and checks and sums every item on the
 * way: the totals, findings and the keyed integrity verdict always cover all of them, whichever
 * page is asked for; only the page's items are kept.
 */

export const DEFAULT_EVIDENCE_LIMIT = 100;
export const MAX_EVIDENCE_LIMIT = 500;
const RECORD_PARAMS = ['limit', 'cursor'] as const;
/** A position is a stored sort key's suffix: a DynamoDB sort key has at most 1,024 bytes. */
const MAX_KEY_CHARS = 1024;

/** Where a list resumes: after `after` (in descending key order), from its start, or nowhere (done). */
type Resume = { after?: string } | undefined;

export interface EvidenceQuery {
  limit: number;
  sessions: Resume;
  events: Resume;
  /** Binds a cursor to the request it was made for. */
  fingerprint: string;
}

const fingerprintOf = (id: string) =>
  createHash('sha256').update(`evidence|${id}`).digest('base64url').slice(0, 16);

/** `limit` and `cursor` of `GET /v1/reports/requests/{id}`; anything else is a 400. */
export function parseEvidenceQuery(params: Params, id: string): EvidenceQuery {
  refuseUnknown(params, RECORD_PARAMS);
  const raw = params?.limit;
  if (raw !== undefined && (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_EVIDENCE_LIMIT)) {
    throw new ValidationError('limit', `limit must be a whole number from 1 to ${MAX_EVIDENCE_LIMIT}.`);
  }
  const limit = raw === undefined ? DEFAULT_EVIDENCE_LIMIT : Number(raw);
  const fingerprint = fingerprintOf(id);
  if (params?.cursor === undefined) return { limit, sessions: {}, events: {}, fingerprint };
  const c = readCursor(params.cursor, fingerprint, ['q', 's', 'e'], 3000);
  const position = (value: unknown): Resume => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length < 1 || value.length > MAX_KEY_CHARS)
      throw badCursor('bad position');
    return { after: value };
  };
  const sessions = position(c.s);
  const events = position(c.e);
  // A cursor is only written while a list goes on.
  if (!sessions && !events) throw badCursor('bad position');
  return { limit, sessions, events, fingerprint };
}

function encodeEvidenceCursor(query: EvidenceQuery, sessions: Resume, events: Resume): string | null {
  if (!sessions && !events) return null;
  const body = {
    v: 1,
    q: query.fingerprint,
    ...(sessions?.after !== undefined ? { s: sessions.after } : {}),
    ...(events?.after !== undefined ? { e: events.after } : {}),
  };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** One page of a record, with what all of the request's items add up to. */
export interface EvidencePage extends StoredRequest {
  sessions: MintedSession[];
  events: LinkedEvent[];
  /** What every event of the request adds up to (`activity` is the linker's counters). */
  tally: EvidenceActivity;
  /** How many sessions and events the request has in all. */
  recorded: { sessions: number; events: number };
  /** The keyed check of every session and event (when a history key is given). */
  checked?: ItemsVerdict;
  nextCursor: string | null;
}

/** One list's page: the items after its position, up to the limit, and where the next page starts. */
class ListPage<T> {
  readonly items: T[] = [];
  count = 0;
  private last: string | undefined;
  private more = false;
  constructor(
    private readonly resume: Resume,
    private readonly limit: number,
  ) {}
  offer(key: string, item: T): void {
    this.count += 1;
    if (!this.resume || (this.resume.after !== undefined && key >= this.resume.after)) return;
    if (this.items.length < this.limit) {
      this.items.push(item);
      this.last = key;
    } else this.more = true;
  }
  next(): Resume {
    return this.more ? { after: this.last! } : undefined;
  }
}

/**
 * Reads one page of a request's evidence from its partition's items (`items`, in the store's
 * order), checking every session and event with `mac` when given. Undefined when there is no such
 * request. Items out of the expected order fail the call rather than skip a check.
 */
export async function readEvidencePage(
  items: AsyncIterable<PartitionItem>,
  query: EvidenceQuery,
  mac?: Mac,
): Promise<EvidencePage | undefined> {
  const sessions = new ListPage<MintedSession>(query.sessions, query.limit);
  const events = new ListPage<LinkedEvent>(query.events, query.limit);
  const check = mac ? new KeyedItemsCheck(mac) : undefined;
  let stored: StoredRequest | undefined;
  let tally: EvidenceTally | undefined;
  for await (const item of items) {
    if (item.kind === 'session') {
      if (stored) throw new Error('evidence partition read out of order: a session after the request');
      sessions.offer(item.key, item.session);
      await check?.session(item.session);
    } else if (item.kind === 'request') {
      stored = item.stored;
      // The page's sessions are known now; the events that follow tell which CloudTrail confirmed.
      tally = new EvidenceTally({
        confirmedAmong: new Set(sessions.items.map((s) => s.accessKeyId)),
        executionKey: stored.request.execution?.accessKeyId,
      });
    } else {
      if (!tally) throw new Error('evidence partition read out of order: an event before the request');
      tally.add(item.event);
      events.offer(item.key, item.event);
      await check?.event(item.event);
    }
  }
  if (!stored || !tally) return undefined;
  return {
    ...stored,
    sessions: sessions.items,
    events: events.items,
    tally: tally.summary(),
    recorded: { sessions: sessions.count, events: events.count },
    ...(check ? { checked: await check.verdict() } : {}),
    nextCursor: encodeEvidenceCursor(query, sessions.next(), events.next()),
  };
}
