import { createHash } from 'node:crypto';
import type { AccessRequest, HistoryEntry, LinkedEvent, MintedSession } from './model.js';
import type { Mac } from './ports.js';

/**
 * Tamper evidence. Every state change of a request appends an entry whose hash covers the previous
 * entry's hash and a snapshot of the facts that matter (status, what was asked, decisions, grant).
 * A reviewer recomputes the chain and compares its head with the stored request: an edit to a
 * history entry breaks the chain, and an edit to the request breaks the comparison with the head.
 */

/** The entry's shape lives with the other stored shapes (model.ts); it is re-exported for readers of this module. */

export const GENESIS_HASH = '0'.repeat(64);

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** JSON with keys sorted at every depth, so the same facts always hash the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The facts the chain protects — everything a reviewer relies on that lives on the request:
 * refusals (SELF_APPROVAL_ATTEMPT) and when approvers were shown it (RUBBER_STAMP) included.
 * Volatile bookkeeping (version, updatedAt, Slack ts) is left out. Sessions, linked events and the
 * activity counters are separate items, each with its own MAC (`sessionMacInput`, …).
 */
export function snapshotOf(request: AccessRequest): string {
  return sha256(
    canonicalJson({
      shownAt: request.shownAt,
      refusals: request.refusals,
      id: request.id,
      status: request.status,
      requester: request.requester,
      resource: request.resource,
      actions: request.actions,
      reason: request.reason,
      context: request.context,
      durationSeconds: request.durationSeconds,
      createdAt: request.createdAt,
      policy: request.policy,
      decisions: request.decisions,
      grant: request.grant,
      outcome: request.outcome,
      call: request.call,
      execution: request.execution,
    }),
  );
}

export function appendHistory(
  history: readonly HistoryEntry[],
  request: AccessRequest,
  event: string,
  at: string,
): HistoryEntry[] {
  const previous = history.at(-1);
  const seq = (previous?.seq ?? 0) + 1;
  const state = snapshotOf(request);
  const hash = sha256(`${previous?.hash ?? GENESIS_HASH}|${seq}|${at}|${event}|${state}`);
  return [...history, { seq, at, event, state, hash }];
}

export interface ChainVerdict {
  valid: boolean;
  /** Why it does not verify, naming the first bad entry. */
  problem?: string;
}

export function verifyHistory(history: readonly HistoryEntry[], request: AccessRequest): ChainVerdict {
  if (history.length === 0) return { valid: false, problem: 'no history recorded' };
  let previousHash = GENESIS_HASH;
  for (const [i, entry] of history.entries()) {
    if (entry.seq !== i + 1) return { valid: false, problem: `entry ${i + 1} has sequence ${entry.seq}` };
    const expected = sha256(`${previousHash}|${entry.seq}|${entry.at}|${entry.event}|${entry.state}`);
    if (expected !== entry.hash)
      return { valid: false, problem: `entry ${entry.seq} (${entry.event}) was altered` };
    previousHash = entry.hash;
  }
  if (history.at(-1)!.state !== snapshotOf(request)) {
    return { valid: false, problem: 'the stored request differs from the state its history last recorded' };
  }
  return { valid: true };
}

// ---------------------------------------------------------------------------------------------
// The keyed chain. Every input is domain-separated and names its request, so no MAC can be moved
// to another request or another kind of item.

export function historyMacInput(requestId: string, previousMac: string, entry: HistoryEntry): string {
  return `countersign:history:v1|${requestId}|${previousMac}|${entry.seq}|${entry.at}|${entry.event}|${entry.state}`;
}

/**
 * Adds the keyed link to the entries that lack one (the store calls this as it writes): only
 * entries after the last sealed one, so an entry slipped in before a sealed one is never signed.
 */
export async function sealHistory(
  requestId: string,
  history: readonly HistoryEntry[],
  mac: Mac,
): Promise<HistoryEntry[]> {
  const sealed: HistoryEntry[] = [];
  let previous = '';
  // A history written before there was a key gets only its newest entry sealed: the unkeyed ones
  // before it stay unkeyed (and are reported so), never signed after the fact.
  const lastSealed = history.findLastIndex((e) => e.mac !== undefined);
  const from = lastSealed === -1 ? history.length - 1 : lastSealed;
  for (const [i, entry] of history.entries()) {
    const next =
      entry.mac || i < from
        ? entry
        : { ...entry, mac: await mac.sign(historyMacInput(requestId, previous, entry)) };
    sealed.push(next);
    previous = next.mac ?? '';
  }
  return sealed;
}

/**
 * Before a state change is written on top of `stored`: its last entry must verify with the key and
 * record exactly the stored facts. Otherwise an edit made in the table (a refusal removed, an
 * approver rewritten) would be laundered: the new entry would record the edited facts and be
 * signed. A history never keyed (written before there was a key) is accepted as it is.
 */
export async function assertExtendable(stored: AccessRequest, mac: Mac): Promise<ChainVerdict> {
  const history = stored.history ?? [];
  if (history.every((e) => e.mac === undefined)) return { valid: true };
  const last = history.at(-1)!;
  const previous = history.at(-2)?.mac ?? '';
  if (!last.mac || !(await mac.verify(historyMacInput(stored.id, previous, last), last.mac))) {
    return {
      valid: false,
      problem: `entry ${last.seq} (${last.event}) does not verify with the history key`,
    };
  }
  if (last.state !== snapshotOf(stored)) {
    return { valid: false, problem: 'the stored request differs from the state its history last recorded' };
  }
  return { valid: true };
}

/**
 * The keyed verdict on a request's own facts: every entry carries a MAC that verifies against its
 * predecessor's, and the last recorded state is the stored request's. Removing a refusal, changing
 * `shownAt`, rewriting an approver — and recomputing the unkeyed hashes — all fail here.
 */
export async function verifyKeyedHistory(
  history: readonly HistoryEntry[],
  request: AccessRequest,
  mac: Mac,
): Promise<ChainVerdict> {
  const unkeyed = verifyHistory(history, request);
  if (!unkeyed.valid) return unkeyed;
  // Each link's input names its predecessor's stored MAC, so all are checked at once (one KMS round
  // trip, not one per entry); the first entry in order that fails is the one reported, as before.
  const verified = await Promise.all(
    history.map((entry, i) =>
      entry.mac
        ? mac.verify(historyMacInput(request.id, history[i - 1]?.mac ?? '', entry), entry.mac)
        : false,
    ),
  );
  for (const [i, entry] of history.entries()) {
    if (!entry.mac) return { valid: false, problem: `entry ${entry.seq} (${entry.event}) carries no MAC` };
    if (!verified[i]) {
      return {
        valid: false,
        problem: `entry ${entry.seq} (${entry.event}) does not verify with the history key`,
      };
    }
  }
  return { valid: true };
}

export function sessionMacInput(session: Omit<MintedSession, 'mac'>): string {
  const { mac: _mac, ...facts } = session as MintedSession & { mac?: string };
  return `countersign:session:v1|${session.requestId}|${canonicalJson(facts)}`;
}

export function eventMacInput(event: LinkedEvent): string {
  const { mac: _mac, ...facts } = event as LinkedEvent & { mac?: string };
  return `countersign:event:v1|${event.requestId}|${canonicalJson(facts)}`;
}

/** The linker's counters on the request: calls, denied, unlinked and resources touched. */
export function countersMacInput(
  requestId: string,
  counters: { calls: number; denied: number; unlinked: number; resources: readonly string[] },
): string {
  return `countersign:activity:v1|${requestId}|${canonicalJson({
    calls: counters.calls,
    denied: counters.denied,
    unlinked: counters.unlinked,
    resources: [...counters.resources].sort(),
  })}`;
}
