import { createHash } from 'node:crypto';
import type { AccessRequest } from './model.js';

/**
 * Tamper evidence. Every state change of a request appends an entry whose hash covers the previous
 * entry's hash and a snapshot of the facts that matter (status, what was asked, decisions, grant).
 * A reviewer recomputes the chain and compares its head with the stored request: an edit to a
 * history entry breaks the chain, and an edit to the request breaks the comparison with the head.
 */
export interface HistoryEntry {
  seq: number;
  at: string;
  /** What happened, in a few words: `created`, `decision:approve by alice@example.com`, `approved`, … */
  event: string;
  /** sha256 of the facts after this change (see `snapshotOf`). */
  state: string;
  /** sha256 over the previous hash, seq, at, event and state. */
  hash: string;
}

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

/** The facts the chain protects. Volatile bookkeeping (version, updatedAt, Slack ts) is left out. */
export function snapshotOf(request: AccessRequest): string {
  return sha256(
    canonicalJson({
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
