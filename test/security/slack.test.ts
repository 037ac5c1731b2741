import { createHmac } from 'node:crypto';
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { type ApiAnswer, eventually, TABLE, TestStack } from '../support/local-stack.js';
import {
  blockActionsPayload,
  encodeInteractionBody,
  signedInteraction,
  signedSlackBody,
} from '../support/slack.js';
import { expectContractError, SecretLedger, storedRequest, storedTaskToken, tableClient } from './support.js';

type Stored = {
  status: string;
  version: number;
  decisions: unknown[];
  refusals?: Array<Record<string, unknown>>;
};

/**
 * Threats: a forged or replayed webhook, a Slack user who is not (or may not be) an approver, an
 * insider approving their own request, and clicks that race or come too late. Door:
 * `POST /v1/slack/interactions`. Guards: verifySlackSignature over the raw body (±300 s),
 * parseSlackInteraction, the team/app/user checks in the handler, and Decisions (one conditional
 * write per outcome).
 */
describe('slack: forged, replayed and unwelcome clicks', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let ledger: SecretLedger;
  let agent: string;
  let approver: string;
  let timingOut: string;
  const createdIds: string[] = [];

  beforeAll(async () => {
    stack = await TestStack.start();
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
    agent = await stack.agentToken('slack-target-bot');
    approver = await stack.token('carol@example.com', ['approvers']);
    // Started first so its 10 s approval timeout runs out while the other tests run (quick-timeout rule).
    const ephemeral = await stack.request(agent, {
      resource: TABLE('ephemeral-jobs'),
      actions: ['dynamodb:PutItem'],
    });
    expect(ephemeral.body).toMatchObject({ status: 'PENDING', policy: { rule: 'quick-timeout' } });
    timingOut = String(ephemeral.body.id);
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  const stored = async (id: string) => (await storedRequest(stack, ddb, id)) as unknown as Stored;
  const post = (body: string, headers: Record<string, string>) =>
    stack.call('POST', '/v1/slack/interactions', { rawBody: body, headers });
  const execution = (id: string) => stack.stack.sfn.executions().find((e) => e.name === id);

  /** A PENDING request whose approval message was posted (its task token is stored). */
  async function pending(
    table = 'orders',
    extra: Record<string, unknown> = {},
    token = agent,
  ): Promise<string> {
    const answer = await stack.request(token, {
      resource: TABLE(table),
      actions: ['dynamodb:PutItem'],
      ...extra,
    });
    expect(answer.body.status).toBe('PENDING');
    const id = String(answer.body.id);
    createdIds.push(id);
    await eventually(async () => ((await stored(id)) as unknown as { shownAt?: string }).shownAt);
    return id;
  }

  /** Runs `act` and asserts the stored request did not change at all. */
  async function unchanged(id: string, act: () => Promise<void>): Promise<void> {
    const before = await stored(id);
    await act();
    expect(await stored(id)).toEqual(before);
  }

  const clickBody = (requestId: string, options: Parameters<typeof blockActionsPayload>[0] | object = {}) =>
    encodeInteractionBody(blockActionsPayload({ requestId, userId: 'U0ALICE', ...options }));

  it('a correctly signed click by a mapped approver decides (control)', async () => {
    const id = await pending();
    const answer = await stack.click({ requestId: id, userId: 'U0ALICE' });
    expect(answer.body).toMatchObject({ ok: true, outcome: 'approved' });
    expect(await stored(id)).toMatchObject({
      status: 'APPROVED',
      decisions: [{ approver: 'alice@example.com' }],
    });
  });

  describe('signature and freshness', () => {
    let id: string;
    beforeAll(async () => {
      id = await pending();
    });

    const refusals: Array<[string, () => { body: string; headers: Record<string, string> }]> = [
      [
        'a signature made with another secret',
        () => signedSlackBody('not-the-signing-secret-000000', clickBody(id)),
      ],
      [
        'no signature headers',
        () => ({ body: clickBody(id), headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      ],
      [
        'a timestamp 301 s old',
        () => signedSlackBody(stack.stack.slackSigningSecret, clickBody(id), new Date(Date.now() - 301_000)),
      ],
      [
        'a timestamp 301 s in the future',
        () => signedSlackBody(stack.stack.slackSigningSecret, clickBody(id), new Date(Date.now() + 301_000)),
      ],
      [
        'a v1= signature',
        () => {
          const signed = signedSlackBody(stack.stack.slackSigningSecret, clickBody(id));
          const timestamp = signed.headers['x-slack-request-timestamp'];
          const mac = createHmac('sha256', stack.stack.slackSigningSecret)
            .update(`v1:${timestamp}:${signed.body}`)
            .digest('hex');
          return { body: signed.body, headers: { ...signed.headers, 'x-slack-signature': `v1=${mac}` } };
        },
      ],
      [
        'the v0 MAC under a v1= label',
        () => {
          const signed = signedSlackBody(stack.stack.slackSigningSecret, clickBody(id));
          const mac = signed.headers['x-slack-signature'].slice(3);
          return { body: signed.body, headers: { ...signed.headers, 'x-slack-signature': `v1=${mac}` } };
        },
      ],
      [
        'two signatures in one header',
        () => {
          const signed = signedSlackBody(stack.stack.slackSigningSecret, clickBody(id));
          const good = signed.headers['x-slack-signature'];
          return {
            body: signed.body,
            headers: { ...signed.headers, 'x-slack-signature': `v0=${'0'.repeat(64)}, ${good}` },
          };
        },
      ],
      [
        'a timestamp with a fraction',
        () => {
          const signed = signedSlackBody(stack.stack.slackSigningSecret, clickBody(id));
          const timestamp = `${signed.headers['x-slack-request-timestamp']}.5`;
          const mac = createHmac('sha256', stack.stack.slackSigningSecret)
            .update(`v0:${timestamp}:${signed.body}`)
            .digest('hex');
          return {
            body: signed.body,
            headers: {
              ...signed.headers,
              'x-slack-request-timestamp': timestamp,
              'x-slack-signature': `v0=${mac}`,
            },
          };
        },
      ],
      [
        'the body re-encoded after signing (%20 for +)',
        () => {
          const signed = signedSlackBody(stack.stack.slackSigningSecret, clickBody(id));
          expect(signed.body).toContain('+');
          return { body: signed.body.replaceAll('+', '%20'), headers: signed.headers };
        },
      ],
      [
        'the payload JSON re-serialised after signing',
        () => {
          const payload = blockActionsPayload({ requestId: id, userId: 'U0ALICE' });
          const signed = signedSlackBody(stack.stack.slackSigningSecret, encodeInteractionBody(payload));
          const reformatted = new URLSearchParams({ payload: JSON.stringify(payload, null, 1) }).toString();
          return { body: reformatted, headers: signed.headers };
        },
      ],
      [
        'a second payload appended after signing',
        () => {
          const signed = signedSlackBody(stack.stack.slackSigningSecret, clickBody(id));
          return { body: `${signed.body}&${clickBody(id, { actionId: 'deny' })}`, headers: signed.headers };
        },
      ],
      [
        'a signed deny whose action was edited to approve',
        () => {
          const signed = signedSlackBody(stack.stack.slackSigningSecret, clickBody(id, { actionId: 'deny' }));
          return { body: signed.body.replace('deny', 'approve'), headers: signed.headers };
        },
      ],
    ];

    it.each(refusals)('refuses %s: 401, and the request does not change', async (_what, build) => {
      await unchanged(id, async () => {
        const { body, headers } = build();
        expectContractError(await post(body, headers), 401, 'Unauthorized');
      });
    });

    it('a click from another workspace or another app is 401 even when signed', async () => {
      await unchanged(id, async () => {
        expectContractError(
          await stack.click({ requestId: id, userId: 'U0ALICE', teamId: 'T0EVILCORP1' }),
          401,
          'Unauthorized',
        );
        expectContractError(
          await stack.click({ requestId: id, userId: 'U0ALICE', appId: 'A0OTHERAPP1' }),
          401,
          'Unauthorized',
        );
      });
    });

    it('a signed interaction that is not one of our buttons is 400 and changes nothing', async () => {
      await unchanged(id, async () => {
        const shapes: Array<Record<string, unknown>> = [
          { actions: [] },
          {
            actions: [
              { action_id: 'approve', value: id, type: 'button' },
              { action_id: 'approve', value: id, type: 'button' },
            ],
          },
          { actions: [{ action_id: 'approve_all', value: id, type: 'button' }] },
          { actions: [{ action_id: 'approve', value: `${id}/../x`, type: 'button' }] },
          { overrides: { type: 'view_submission' } },
        ];
        for (const shape of shapes) {
          const signed = signedInteraction({
            secret: stack.stack.slackSigningSecret,
            requestId: id,
            userId: 'U0ALICE',
            ...shape,
          });
          expectContractError(await post(signed.body, signed.headers), 400, 'ValidationError');
        }
      });
    });

    it('a body of raw UTF-8 signed over its bytes verifies (non-ASCII user name, control for the above)', async () => {
      const name = 'Zoë 山田 🚀';
      const encoded = encodeInteractionBody(
        blockActionsPayload({ requestId: id, userId: 'U0BOB', userName: name, actionId: 'deny' }),
      );
      const raw = encoded.replace(
        new URLSearchParams({ n: name }).toString().slice(2),
        name.replaceAll(' ', '+'),
      );
      expect(raw).toContain('山田');
      const signed = signedSlackBody(stack.stack.slackSigningSecret, raw);
      const answer = await post(signed.body, signed.headers);
      expect(answer.body).toMatchObject({ ok: true, outcome: 'denied' });
      expect(await stored(id)).toMatchObject({
        status: 'DENIED',
        decisions: [{ approver: 'bob@example.com' }],
      });
    });
  });

  it('a non-ASCII user name, percent-encoded as Slack sends it, verifies and decides', async () => {
    const id = await pending();
    const answer = await stack.click({ requestId: id, userId: 'U0ALICE', userName: 'Ålice Ünicode 🚀 أليس' });
    expect(answer.body).toMatchObject({ ok: true, outcome: 'approved' });
  });

  it('a replayed click (same bytes, same signature) counts once under a quorum of 2', async () => {
    const id = await pending('payments');
    const signed = signedInteraction({
      secret: stack.stack.slackSigningSecret,
      requestId: id,
      userId: 'U0ALICE',
    });
    const first = await post(signed.body, signed.headers);
    expect(first.body).toMatchObject({ ok: true, outcome: 'approved' });
    await unchanged(id, async () => {
      for (let i = 0; i < 3; i++) {
        expect((await post(signed.body, signed.headers)).body).toMatchObject({
          ok: false,
          code: 'AlreadyDecided',
        });
      }
    });
    expect(await stored(id)).toMatchObject({
      status: 'PENDING',
      decisions: [{ approver: 'alice@example.com' }],
    });
  });

  it('an unmapped Slack user decides nothing', async () => {
    const id = await pending();
    await unchanged(id, async () => {
      const answer = await stack.click({ requestId: id, userId: 'U0MALLORY' });
      expect(answer).toMatchObject({ status: 200, body: { ok: false, code: 'NotAnApprover' } });
    });
  });

  it('an approver may not approve their own request, nor one made on their behalf; the attempt is recorded', async () => {
    const ownAgent = await stack.token('alice@example.com', ['agents']);
    const own = await pending('orders', {}, ownAgent);
    const self = await stack.click({ requestId: own, userId: 'U0ALICE' });
    expect(self.body).toMatchObject({ ok: false, code: 'SelfApproval' });
    const onBehalf = await pending('orders', { context: { onBehalfOf: 'bob@example.com' } });
    const forBob = await stack.click({ requestId: onBehalf, userId: 'U0BOB' });
    expect(forBob.body).toMatchObject({ ok: false, code: 'SelfApproval' });
    const viaApi = await stack.call('POST', `/v1/requests/${own}/decisions`, {
      token: await stack.token('alice@example.com', ['approvers']),
      body: { decision: 'approve' },
    });
    expectContractError(viaApi, 403, 'SelfApproval');
    for (const id of [own, onBehalf]) {
      const after = await stored(id);
      expect(after).toMatchObject({ status: 'PENDING', decisions: [] });
      expect(after.refusals?.map((r) => r.code)).toContain('SelfApproval');
    }
  });

  it('approve and deny clicked within milliseconds: one outcome, one decision, one workflow resumption', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => pending()));
    const answers = await Promise.all(
      ids.map((id) =>
        Promise.all([
          stack.click({ requestId: id, userId: 'U0ALICE' }),
          stack.click({ requestId: id, userId: 'U0BOB', actionId: 'deny' }),
          stack.click({ requestId: id, userId: 'U0ALICE' }),
        ]),
      ),
    );
    for (const [i, id] of ids.entries()) {
      const [approve, deny, again] = answers[i] as [ApiAnswer, ApiAnswer, ApiAnswer];
      const winners = [approve, deny, again].filter((a) => a.body.ok === true);
      expect(winners).toHaveLength(1);
      const final = await stored(id);
      expect(final.decisions).toHaveLength(1);
      expect(final.status).toBe(winners[0] === deny ? 'DENIED' : 'APPROVED');
      // A denied workflow ends; an approved one moves on to wait for notAfter. Either way, once.
      const run = await eventually(() => {
        const e = execution(id);
        return e && (final.status === 'APPROVED' || e.status !== 'RUNNING') ? e : undefined;
      });
      expect(run.status).toBe(final.status === 'DENIED' ? 'SUCCEEDED' : 'RUNNING');
      expect(stack.stack.sfn.executions().filter((e) => e.name === id)).toHaveLength(1);
    }
  });

  it('a click on a revoked request changes nothing, whether it was pending or approved', async () => {
    const pendingId = await pending();
    await stack.call('POST', `/v1/requests/${pendingId}/revoke`, { token: approver });
    const approvedId = await pending();
    expect((await stack.click({ requestId: approvedId, userId: 'U0ALICE' })).body).toMatchObject({
      ok: true,
    });
    await stack.call('POST', `/v1/requests/${approvedId}/revoke`, { token: agent });
    for (const id of [pendingId, approvedId]) {
      await unchanged(id, async () => {
        for (const click of [
          { userId: 'U0BOB', actionId: 'approve' },
          { userId: 'U0BOB', actionId: 'deny' },
        ]) {
          const answer = await stack.click({ requestId: id, ...click });
          expect(answer.body).toMatchObject({ ok: false, code: 'AlreadyDecided' });
        }
      });
      expect((await stored(id)).status).toBe('REVOKED');
    }
  });

  it('a click on an expired grant changes nothing', async () => {
    const id = await pending();
    expect((await stack.click({ requestId: id, userId: 'U0ALICE' })).body).toMatchObject({ ok: true });
    // Prepare: the grant's end has passed (as the clock would leave it; the Expire step has not run).
    await ddb.send(
      new UpdateItemCommand({
        TableName: stack.stack.tableName,
        Key: marshall(keys.request(id)),
        UpdateExpression: 'SET #g.#n = :past',
        ExpressionAttributeNames: { '#g': 'grant', '#n': 'notAfter' },
        ExpressionAttributeValues: marshall({ ':past': new Date(Date.now() - 1000).toISOString() }),
      }),
    );
    await unchanged(id, async () => {
      const answer = await stack.click({ requestId: id, userId: 'U0BOB', actionId: 'deny' });
      expect(answer.body).toMatchObject({ ok: false, code: 'AlreadyDecided' });
      expect(String(answer.body.message)).toMatch(/expired/i);
    });
    const claim = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expectContractError(claim, 409, 'GrantExpired');
  });

  it('a click after the approval timeout is refused and changes nothing', async () => {
    await eventually(
      async () => ((await stored(timingOut)).status === 'TIMED_OUT' ? true : undefined),
      25_000,
    );
    await unchanged(timingOut, async () => {
      const answer = await stack.click({ requestId: timingOut, userId: 'U0ALICE' });
      expect(answer.body).toMatchObject({ ok: false });
      expect(['TimedOut', 'AlreadyDecided']).toContain(answer.body.code);
    });
    const claim = await stack.call('POST', `/v1/requests/${timingOut}/credentials`, { token: agent });
    expectContractError(claim, 409, 'NotApproved');
  }, 30_000);

  it('the signing secret, bot token, task tokens and bearer tokens appear in no log line of these flows', async () => {
    ledger.add('bearer token', agent);
    ledger.add('bearer token', approver);
    for (const id of createdIds) ledger.add('task token', await storedTaskToken(stack, ddb, id));
    expect(ledger.count('task token')).toBeGreaterThanOrEqual(15);
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});
