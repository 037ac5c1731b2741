import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestStack } from '../support/local-stack.js';

/**
 * Issue 13, "Restarts keep their promises" (docs/local-aws.md, "Local durability"). The local Step
 * Functions keeps executions in memory: a restart loses every running workflow. On a data dir, the
 * next start sweeps the requests whose workflow was lost and starts it again, so that what the lost
 * workflow would have written is still written. One stack creates requests in each state and stops;
 * a second one starts on the same data dir; everything is asserted through the HTTP API (and the
 * local Slack sink, which keeps its messages in the data dir as Slack keeps them).
 */

interface Outcome {
  reason: string;
  at: string;
}
interface Req {
  id: string;
  status: string;
  createdAt: string;
  shownAt?: string;
  grant?: { notAfter: string };
  outcome?: Outcome;
}
interface Evidence {
  complete: boolean;
  facts: Record<string, string>;
}
interface SweepLine {
  part?: string;
  requestId?: string;
  status?: string;
  approvalTimeoutSeconds?: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a restart on the same data dir', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'countersign-restart-'));
  let before: TestStack | undefined;
  let after: TestStack;
  let agent: string;
  let auditor: string;
  /** Shown, quick-timeout rule (10 s): past its approval timeout when the second stack starts. */
  let lapsed: Req;
  /** Shown, writes rule (3600 s): still within its timeout after the restart. */
  let waiting: Req;
  /** Approved before the restart: its grant's end falls after the restart. */
  let approved: Req;
  /** The approval messages the first stack posted, by request id. */
  const postedTs = new Map<string, string>();
  let restartedAt = 0;

  const get = async (id: string) =>
    (await after.call<Req>('GET', `/v1/requests/${id}`, { token: agent })).body;
  const evidence = async (id: string) =>
    (await after.call<Evidence>('GET', `/v1/reports/requests/${id}`, { token: auditor })).body;
  /** Top-level (not thread, not ephemeral) messages about a request: approval posts. */
  const postsFor = (stack: TestStack, id: string) =>
    stack
      .slackMessages()
      .filter((m) => !m.ephemeral && !m.thread_ts && JSON.stringify(m.blocks ?? '').includes(id));
  const sweepLines = () =>
    after.logs
      .map((line) => {
        try {
          return JSON.parse(line) as SweepLine;
        } catch {
          return {} as SweepLine;
        }
      })
      .filter((l) => l.part === 'restart-sweep' && l.requestId);

  beforeAll(async () => {
    // One port for both runs, as `npm start` keeps 8787: the issuer's URL (the tokens' `iss`) is it.
    const port = await freePort();
    before = await TestStack.start({ inMemory: false, dataDir, port });
    agent = await before.agentToken('restart-bot');
    const read = async (id: string) =>
      (await before!.call<Req>('GET', `/v1/requests/${id}`, { token: agent })).body;
    waiting = await read(await before.pendingRequest(agent, 'orders'));
    approved = await read(await before.approvedRequest(agent, 'orders'));
    // Last, and the stack stops right after it is shown: its 10 s must run out while nothing runs.
    lapsed = await read(await before.pendingRequest(agent, 'ephemeral-orders'));
    for (const request of [lapsed, waiting, approved]) {
      const posts = postsFor(before, request.id);
      expect(posts).toHaveLength(1);
      postedTs.set(request.id, String(posts[0]!.ts));
    }
    expect(lapsed.status).toBe('PENDING');
    expect(approved.status).toBe('APPROVED');
    await before.stop();
    before = undefined;
    // The quick-timeout request's deadline passes while nothing runs.
    const deadline = Date.parse(lapsed.createdAt) + 10_000;
    if (Date.now() < deadline + 1000) await sleep(deadline + 1000 - Date.now());
    // A grant lasts at least MIN_GRANT_SECONDS (over 15 min): the Wait until notAfter is shortened,
    // so these tests prove the restarted workflow reaches its Expire step and what it writes.
    after = await TestStack.start({
      inMemory: false,
      dataDir,
      port,
      waitTimeOverrides: { WaitUntilNotAfter: 3000 },
    });
    restartedAt = Date.now();
    auditor = await after.token('audrey@example.com', ['auditors']);
  }, 180_000);

  afterAll(async () => {
    await before?.stop();
    await after?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the agent token minted before the restart working', async () => {
    expect((await after.call('GET', `/v1/requests/${waiting.id}`, { token: agent })).status).toBe(200);
  });

  it('starts the lost workflows again with the approval time that was left', () => {
    const lines = new Map(sweepLines().map((l) => [l.requestId, l]));
    expect(lines.get(lapsed.id)).toMatchObject({ status: 'PENDING', approvalTimeoutSeconds: 1 });
    expect(lines.get(approved.id)).toMatchObject({ status: 'APPROVED' });
    // What was left of the 3600 s, counted from creation: not a fresh full timeout.
    const left = lines.get(waiting.id)?.approvalTimeoutSeconds ?? 0;
    const elapsed = (restartedAt - Date.parse(waiting.createdAt)) / 1000;
    expect(left).toBeLessThan(3600 - 10);
    expect(left).toBeGreaterThanOrEqual(Math.floor(3600 - elapsed) - 1);
  });

  it('a request past its approval timeout ends TIMED_OUT with its outcome and a complete record, and is not approvable', async () => {
    const click = await after.click({ requestId: lapsed.id, userId: 'U0ALICE' });
    expect(click.body).toMatchObject({ ok: false });
    expect(['TimedOut', 'AlreadyDecided']).toContain(click.body.code);

    const settled = await eventually(async () => {
      const r = await get(lapsed.id);
      return r.outcome ? r : undefined;
    }, 30_000);
    expect(settled).toMatchObject({
      status: 'TIMED_OUT',
      outcome: { reason: expect.stringContaining('10 s') },
    });
    expect(settled.grant).toBeUndefined();
    const record = await evidence(lapsed.id);
    expect(record).toMatchObject({ complete: true, facts: { decision: 'present', grant: 'not-applicable' } });

    // The message posted before the restart now says how it ended; no second one was posted.
    const message = await eventually(() => {
      const m = after.slackMessages().find((x) => x.ts === postedTs.get(lapsed.id));
      return m?.edited && !JSON.stringify(m.blocks).includes('"action_id":"approve"') ? m : undefined;
    }, 15_000);
    expect(message.ts).toBe(postedTs.get(lapsed.id));
    expect(postsFor(after, lapsed.id)).toHaveLength(1);
  });

  it('a request within its timeout stays decidable, without a second approval message, and its grant ends with an outcome', async () => {
    expect((await get(waiting.id)).status).toBe('PENDING');
    // Shown once already: the restarted workflow rewrites that message instead of posting again.
    await eventually(
      () => (after.slackMessages().find((m) => m.ts === postedTs.get(waiting.id))?.edited ? true : undefined),
      15_000,
    );
    expect(postsFor(after, waiting.id)).toHaveLength(1);

    const click = await after.click({ requestId: waiting.id, userId: 'U0ALICE' });
    expect(click).toMatchObject({ status: 200, body: { ok: true, outcome: 'approved' } });
    const granted = await get(waiting.id);
    expect(granted.status).toBe('APPROVED');

    const expired = await eventually(async () => {
      const r = await get(waiting.id);
      return r.outcome?.reason.includes('grant ended') ? r : undefined;
    }, 30_000);
    expect(expired).toMatchObject({
      status: 'EXPIRED',
      outcome: { reason: `The grant ended at ${granted.grant!.notAfter}.` },
    });
    expect(postsFor(after, waiting.id)).toHaveLength(1);
    expect(await evidence(waiting.id)).toMatchObject({ complete: true, facts: { decision: 'present' } });
  }, 90_000);

  it('a grant approved before the restart gets its expiry outcome written and its message updated', async () => {
    const expired = await eventually(async () => {
      const r = await get(approved.id);
      return r.outcome?.reason.includes('grant ended') ? r : undefined;
    }, 30_000);
    expect(expired).toMatchObject({
      status: 'EXPIRED',
      outcome: { reason: `The grant ended at ${approved.grant!.notAfter}.` },
    });
    expect(await evidence(approved.id)).toMatchObject({
      complete: true,
      facts: { decision: 'present', grant: 'present', activity: 'present' },
    });

    // The approval message from before the restart shows the end, and the session's summary follows
    // in its thread, as without a restart.
    const ts = postedTs.get(approved.id);
    await eventually(() => {
      const m = after.slackMessages().find((x) => x.ts === ts);
      return m && JSON.stringify(m.blocks).toLowerCase().includes('expired') ? m : undefined;
    }, 15_000);
    await eventually(() => after.slackMessages().find((m) => m.thread_ts === ts), 15_000);
    expect(postsFor(after, approved.id)).toHaveLength(1);
  }, 90_000);
});
