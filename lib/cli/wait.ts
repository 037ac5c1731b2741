import { setTimeout as delay } from 'node:timers/promises';
import type { Decision } from '../../lambdas/core/model.js';
import { EXIT } from './exit-codes.js';
import { type CountersignClient, MAX_WAIT_SECONDS, type RequestView } from './http-client.js';
import { approvalsSoFar, type CliIo, sanitize } from './output.js';

/**
 * Waits for a request to leave PENDING by long-polling GET /v1/requests/{id}?waitSeconds=20, and
 * narrates on stderr: who must approve, each poll, each decision as it arrives. Stdout is left
 * alone: `request --json` and `exec`'s command own it.
 */

export interface WaitResult {
  readonly request: RequestView;
  /** True when `timeoutSeconds` ran out first; the request is still PENDING on the server. */
  readonly gaveUp: boolean;
}

export interface WaitOptions {
  readonly timeoutSeconds?: number;
  /**
   * Floor between two polls. A server that answers at once instead of holding the long poll
   * would otherwise be hammered in a tight loop.
   */
  readonly minPollIntervalMs?: number;
}

export async function waitForDecision(
  client: CountersignClient,
  initial: RequestView,
  io: CliIo,
  options: WaitOptions = {},
): Promise<WaitResult> {
  if (initial.status !== 'PENDING') return { request: initial, gaveUp: false };

  const started = Date.now();
  const deadline =
    options.timeoutSeconds === undefined ? Number.POSITIVE_INFINITY : started + options.timeoutSeconds * 1000;
  const minInterval = options.minPollIntervalMs ?? 1_000;
  const progress = new Progress(io);
  progress.line(
    `countersign: waiting for approval of ${sanitize(initial.id, 200)} — ${describeRule(initial)}`,
  );

  const seen = new Set<string>();
  progress.decisions(initial, seen);
  const stopInterrupt = onInterrupt(initial.id, io, progress);

  let request = initial;
  try {
    for (;;) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        progress.end();
        return { request, gaveUp: true };
      }
      const pollStarted = Date.now();
      const waitSeconds = Math.max(1, Math.min(MAX_WAIT_SECONDS, Math.ceil(remainingMs / 1000)));
      request = await client.getRequest(initial.id, waitSeconds);
      progress.decisions(request, seen);
      if (request.status !== 'PENDING') {
        progress.end();
        if (request.status === 'APPROVED') {
          const until = request.grant?.notAfter
            ? ` — access until ${sanitize(request.grant.notAfter, 40)}`
            : '';
          io.err(`countersign: ${sanitize(request.id, 200)} APPROVED${until}\n`);
        }
        return { request, gaveUp: false };
      }
      const elapsed = Math.round((Date.now() - started) / 1000);
      progress.poll(`still PENDING after ${elapsed}s${quorumText(request)}`);
      const sincePoll = Date.now() - pollStarted;
      if (sincePoll < minInterval)
        await delay(Math.min(minInterval - sincePoll, Math.max(0, deadline - Date.now())));
    }
  } finally {
    stopInterrupt();
  }
}

function describeRule(request: RequestView): string {
  const policy = request.policy;
  if (!policy) return 'approvers have been asked';
  const quorum = policy.quorum ?? 1;
  const who = policy.approvers?.length
    ? ` from ${policy.approvers.map((a) => sanitize(a, 200)).join(', ')}`
    : '';
  const timeout = policy.approvalTimeoutSeconds
    ? `; the approval times out after ${policy.approvalTimeoutSeconds}s`
    : '';
  return `rule "${sanitize(policy.rule, 100)}" needs ${quorum} approval${quorum === 1 ? '' : 's'}${who}${timeout}`;
}

function quorumText(request: RequestView): string {
  const quorum = request.policy?.quorum;
  return quorum ? `, ${approvalsSoFar(request)}/${quorum} approvals` : '';
}

/** Progress on stderr: dots on a terminal (a human watches), whole lines otherwise (a log or an agent reads). */
class Progress {
  private dotsOpen = false;

  constructor(private readonly io: CliIo) {}

  line(text: string): void {
    this.end();
    this.io.err(`${text}\n`);
  }

  poll(text: string): void {
    if (this.io.errIsTTY) {
      this.io.err('.');
      this.dotsOpen = true;
    } else {
      this.io.err(`  … ${text}\n`);
    }
  }

  /** Prints the decisions not printed before, in the order the server lists them. */
  decisions(request: RequestView, seen: Set<string>): void {
    for (const d of request.decisions ?? []) {
      const key = decisionKey(d);
      if (seen.has(key)) continue;
      seen.add(key);
      const verb = d.decision === 'approve' ? 'approved' : 'denied';
      const comment = d.comment ? ` — ${sanitize(d.comment)}` : '';
      this.line(
        `  ${verb} by ${sanitize(d.approver, 200)} via ${sanitize(d.channel, 20)}${comment}${quorumText(request)}`,
      );
    }
  }

  end(): void {
    if (this.dotsOpen) this.io.err('\n');
    this.dotsOpen = false;
  }
}

/** Each approver decides once (DESIGN.md §4), so approver + decision identifies a decision across polls. */
function decisionKey(d: Decision): string {
  return `${d.approver}\u0000${d.decision}`;
}

/**
 * Ctrl-C while waiting ends the CLI, not the request: say so, and how to follow up or give it back.
 */
function onInterrupt(id: string, io: CliIo, progress: Progress): () => void {
  const handler = () => {
    progress.end();
    const safe = sanitize(id, 200);
    io.err(
      `countersign: stopped waiting; ${safe} is still PENDING (resume: countersign status --request ${safe} --wait; give it back: countersign revoke --request ${safe})\n`,
    );
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}
