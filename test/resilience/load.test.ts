import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SecretLedger,
  storedRequest,
  storedRequestIds,
  storedTaskToken,
  tableClient,
} from '../security/support.js';
import { type ApiAnswer, eventually, TABLE, TestStack } from '../support/local-stack.js';
import { signedInteraction } from '../support/slack.js';

type Stored = {
  id: string;
  status: string;
  decisions: Array<{ approver: string; decision: string }>;
  history: Array<{ event: string }>;
};
type Review = { agent: string; requests: number; approved: number; denied: number; timedOut: number };

const AGENTS = 20;
const PER_AGENT = 10;
const TOTAL = AGENTS * PER_AGENT;

/**
 * Races and load, bounded and on loopback only: 200 requests from 20 agents at once, then for every
 * request an approve click, a deny click, an API approval and a replay of the approve click, all at
 * once. Every request must end in exactly one final state with exactly one decision, its workflow
 * must get exactly one outcome, and the reports must count every request once.
 */
describe('load: 200 concurrent requests from 20 agents with racing decisions', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let ledger: SecretLedger;
  const agents: Array<{ sub: string; token: string }> = [];
  /** request id → the agent that made it. */
  const owner = new Map<string, string>();
  /** request id → the answers of its four racing deciders. */
  const races = new Map<
    string,
    { slackApprove: ApiAnswer; slackDeny: ApiAnswer; apiApprove: ApiAnswer; replay: ApiAnswer }
  >();

  beforeAll(async () => {
    // Grants end 1 s after approval, so every execution runs to its end inside the test.
    stack = await TestStack.start({ waitTimeOverrides: { WaitUntilNotAfter: 1_000 } });
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
    for (let i = 0; i < AGENTS; i++) {
      const sub = `load-bot-${String(i).padStart(2, '0')}`;
      agents.push({ sub, token: await stack.agentToken(sub) });
    }
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  it('every request is stored once and its workflow started once', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      agents.flatMap(({ sub, token }) =>
        Array.from({ length: PER_AGENT }, (_, j) =>
          stack
            .request(
              token,
              {
                resource: TABLE(`orders-${sub}-${j}`),
                actions: ['dynamodb:PutItem'],
                reason: `Load test ${sub} #${j}`,
              },
              { 'idempotency-key': `${sub}-${j}` },
            )
            .then((answer) => ({ sub, answer })),
        ),
      ),
    );
    for (const { sub, answer } of answers) {
      expect(answer).toMatchObject({ status: 201, body: { status: 'PENDING' } });
      owner.set(String(answer.body.id), sub);
    }
    expect(owner.size).toBe(TOTAL);
    console.info(`${TOTAL} concurrent requests stored in ${Date.now() - started} ms`);
    for (const { sub } of agents) expect(await storedRequestIds(stack, ddb, sub)).toHaveLength(PER_AGENT);
  }, 120_000);

  it('approve, deny, an API approval and a replayed click race on every request: exactly one wins each', async () => {
    const dave = await stack.token('dave@example.com', ['approvers']);
    ledger.add('bearer token', dave);
    const started = Date.now();
    // Waves of 25 requests, 100 racing calls at once: the stage's burst limit on AWS (the template's
    // API Gateway throttling), and what the local front door — one process that also plays the
    // issuer and the local AWS — answers without starving a fresh function's JWKS fetch.
    const ids = [...owner.keys()];
    const waves = Array.from({ length: Math.ceil(ids.length / 25) }, (_, i) =>
      ids.slice(i * 25, i * 25 + 25),
    );
    for (const wave of waves) {
      await Promise.all(
        wave.map(async (id) => {
          const approveClick = signedInteraction({
            secret: stack.stack.slackSigningSecret,
            requestId: id,
            userId: 'U0ALICE',
          });
          const post = () =>
            stack.call('POST', '/v1/slack/interactions', {
              rawBody: approveClick.body,
              headers: approveClick.headers,
            });
          const [slackApprove, slackDeny, apiApprove, replay] = await Promise.all([
            post(),
            stack.click({ requestId: id, userId: 'U0BOB', actionId: 'deny' }),
            stack.call('POST', `/v1/requests/${id}/decisions`, {
              token: dave,
              body: { decision: 'approve' },
            }),
            post(),
          ]);
          races.set(id, { slackApprove, slackDeny, apiApprove, replay });
        }),
      );
    }
    console.info(`${TOTAL * 4} racing decisions answered in ${Date.now() - started} ms`);

    for (const [id, race] of races) {
      const wins = [
        race.slackApprove.body.ok === true ? 'approve' : undefined,
        race.slackDeny.body.ok === true ? 'deny' : undefined,
        race.apiApprove.status === 200 ? 'approve' : undefined,
        race.replay.body.ok === true ? 'approve' : undefined,
      ].filter((w) => w !== undefined);
      expect({ id, wins: wins.length }).toEqual({ id, wins: 1 });
      // Losers were told why, in the contract's words: nobody was answered with a failure.
      for (const click of [race.slackApprove, race.slackDeny, race.replay]) {
        expect(click.status).toBe(200);
        if (click.body.ok !== true) expect(click.body.code).toBe('AlreadyDecided');
      }
      if (race.apiApprove.status !== 200)
        expect(race.apiApprove.status, JSON.stringify(race.apiApprove.body)).toBe(409);
    }
  }, 120_000);

  it('every request ends in exactly one final state, with one decision and one workflow outcome', async () => {
    const names = new Set(owner.keys());
    await eventually(() => {
      const mine = stack.stack.sfn.executions().filter((e) => names.has(e.name));
      return mine.length === TOTAL && mine.every((e) => e.status !== 'RUNNING') ? true : undefined;
    }, 120_000);
    const executions = stack.stack.sfn.executions().filter((e) => names.has(e.name));
    expect(executions).toHaveLength(TOTAL);
    expect(new Set(executions.map((e) => e.name)).size).toBe(TOTAL);
    expect(executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);

    for (const [id, race] of races) {
      const stored = (await storedRequest(stack, ddb, id)) as unknown as Stored;
      const denied = race.slackDeny.body.ok === true;
      expect({ id, status: stored.status }).toEqual({ id, status: denied ? 'DENIED' : 'EXPIRED' });
      expect(stored.decisions).toHaveLength(1);
      expect(stored.decisions[0]?.decision).toBe(denied ? 'deny' : 'approve');
      // One settling event in the hash-chained history: no decision lost, none applied twice.
      expect(stored.history.filter((h) => /; (approved|denied)$/.test(h.event))).toHaveLength(1);
      ledger.add('task token', await storedTaskToken(stack, ddb, id));
    }
    // One approval message per request, no duplicate post, each rewritten with its outcome.
    const posted = stack.slackMessages().filter((m) => !m.ephemeral && !m.thread_ts);
    for (const id of owner.keys()) {
      const messages = posted.filter((m) => JSON.stringify(m.blocks ?? '').includes(id));
      expect({ id, messages: messages.length }).toEqual({ id, messages: 1 });
      expect(messages[0]?.edited).toBeTruthy();
    }
  }, 180_000);

  it('the reports count every request once, per agent, as the races decided them', async () => {
    const auditor = await stack.token('auditor@example.com', ['auditors']);
    ledger.add('bearer token', auditor);
    const review = await stack.call<{ agents: Review[] }>('GET', '/v1/reports/access-review', {
      token: auditor,
    });
    expect(review.status).toBe(200);
    const byAgent = new Map(review.body.agents.map((a) => [a.agent, a]));
    let requests = 0;
    for (const { sub } of agents) {
      const ids = [...owner].filter(([, s]) => s === sub).map(([id]) => id);
      const denied = ids.filter((id) => races.get(id)!.slackDeny.body.ok === true).length;
      expect(byAgent.get(sub)).toMatchObject({
        agent: sub,
        requests: PER_AGENT,
        approved: PER_AGENT - denied,
        denied,
        timedOut: 0,
      });
      requests += byAgent.get(sub)!.requests;
    }
    expect(requests).toBe(TOTAL);
    // The listing agrees, one agent at a time.
    const listing = await stack.call<{ items: unknown[] }>(
      'GET',
      `/v1/reports/requests?agent=${agents[0]!.sub}&limit=100`,
      {
        token: auditor,
      },
    );
    expect(listing.body.items).toHaveLength(PER_AGENT);
  }, 60_000);

  it('no task token, bearer token, signing secret or bot token appears in any log line', () => {
    for (const { token } of agents) ledger.add('bearer token', token);
    expect(ledger.count('task token')).toBe(TOTAL);
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});
