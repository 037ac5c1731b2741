import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { normalizeIdentity } from '../../lambdas/core/identity.js';
import { type ApiAnswer, TABLE, TestStack } from '../support/local-stack.js';
import { expectContractError, SecretLedger, storedRequest, tableClient } from './support.js';

type Creds = { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
/** What STS accepts for SourceIdentity and RoleSessionName. */
const STS_NAME = /^[A-Za-z0-9_+=,.@-]{2,64}$/;

/**
 * Threat: an agent (or anyone holding a token) minting a session it was not granted — someone
 * else's, too early, too late, after revocation — or an identity that breaks STS's alphabet.
 * Door: `POST /v1/requests/{id}/credentials`. Guards: CredentialClaims (requester only,
 * assertClaimable on the effective status), sanitizeSourceIdentity, the revocation deny.
 */
describe('credentials: who may mint a session, and when', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let ledger: SecretLedger;
  let agent: string;

  beforeAll(async () => {
    stack = await TestStack.start();
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
    agent = await stack.agentToken('claim-bot');
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  const claim = async (id: string, token = agent): Promise<ApiAnswer<Creds>> => {
    const answer = await stack.call<Creds>('POST', `/v1/requests/${id}/credentials`, { token });
    if (answer.status === 200) ledger.addCredentials(answer.body);
    return answer;
  };
  /** Whether the session can still do what it was granted, through IAM. */
  const works = (creds: Creds) => stack.sessionWorks(creds);

  /** A write the `writes` rule sends to humans, approved with a signed Slack click. */
  const approved = (token = agent) => stack.approvedRequest(token, 'orders');

  it('the requester claims a working session (control)', async () => {
    const id = await approved();
    const answer = await claim(id);
    expect(answer.status).toBe(200);
    expect(await works(answer.body)).toBe(true);
  });

  it("another agent, an approver and an auditor get 404 for someone else's grant", async () => {
    const id = await approved();
    for (const [sub, groups] of [
      ['other-bot', ['agents']],
      ['alice@example.com', ['approvers']],
      ['auditor@example.com', ['auditors']],
      ['claim-bot-2', ['agents', 'approvers', 'auditors']],
    ] as const) {
      expectContractError(await claim(id, await stack.token(sub, [...groups])), 404, 'NotFound');
    }
    // The same sub under another role set is still the requester; a prefix of it is not.
    expectContractError(await claim(id, await stack.agentToken('claim-bo')), 404, 'NotFound');
    expect(stack.stack.aws.sessions().filter((s) => s.roleSessionName === id)).toHaveLength(0);
  });

  it('before approval, after a deny and for a policy-denied request: 409 NotApproved, nothing minted', async () => {
    const pending = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:PutItem'] });
    expectContractError(await claim(String(pending.body.id)), 409, 'NotApproved');
    const denied = await stack.request(agent, {
      resource: TABLE('orders'),
      actions: ['dynamodb:DeleteTable'],
    });
    expect(denied.body.status).toBe('DENIED');
    expectContractError(await claim(String(denied.body.id)), 409, 'NotApproved');
    const names = [pending.body.id, denied.body.id];
    expect(stack.stack.aws.sessions().filter((s) => names.includes(s.roleSessionName))).toHaveLength(0);
  });

  it('after notAfter: 409 GrantExpired even before the workflow marks it EXPIRED', async () => {
    const id = await approved();
    // Prepare: the grant's end has passed; the workflow's Wait still has hours to go.
    await ddb.send(
      new UpdateItemCommand({
        TableName: stack.stack.tableName,
        Key: marshall(keys.request(id)),
        UpdateExpression: 'SET #g.#n = :past',
        ExpressionAttributeNames: { '#g': 'grant', '#n': 'notAfter' },
        ExpressionAttributeValues: marshall({ ':past': new Date(Date.now() - 1000).toISOString() }),
      }),
    );
    expectContractError(await claim(id), 409, 'GrantExpired');
    expect((await stack.call('GET', `/v1/requests/${id}`, { token: agent })).body.status).toBe('EXPIRED');
  });

  it('after revoke: 409 Revoked, and every session minted before or during the revoke stops working', async () => {
    const id = await approved();
    const before = await claim(id);
    // Claims racing the revoke: whichever of them succeed must be covered by the deny too.
    const [racing, revoke] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, () => claim(id))),
      stack.call('POST', `/v1/requests/${id}/revoke`, { token: agent }),
    ]);
    expect(revoke).toMatchObject({ status: 200, body: { status: 'REVOKED' } });
    for (const answer of racing) {
      if (answer.status !== 200) expectContractError(answer, 409, 'Revoked');
    }
    const minted = [before, ...racing].filter((a) => a.status === 200).map((a) => a.body);
    expect(minted.length).toBeGreaterThanOrEqual(1);
    for (const creds of minted) expect(await works(creds)).toBe(false);
    expectContractError(await claim(id), 409, 'Revoked');
  });

  it('an agent may not revoke, read or claim through another agent’s request id', async () => {
    const id = await approved();
    const other = await stack.agentToken('other-bot');
    expectContractError(
      await stack.call('POST', `/v1/requests/${id}/revoke`, { token: other }),
      404,
      'NotFound',
    );
    expectContractError(await stack.call('GET', `/v1/requests/${id}`, { token: other }), 404, 'NotFound');
    expect((await storedRequest(stack, ddb, id))?.status).toBe('APPROVED');
  });

  describe('agent identities outside STS’s alphabet still become valid SourceIdentity values', () => {
    const subs = [
      'deploy bot with spaces',
      'ünïcødé-бот-🤖',
      'repo:acme/payments:ref:refs/heads/main',
      'agent+tag@example.com',
      'a',
      // 256 characters; no trailing space, which the identity's normal form would trim (identity.ts).
      `${'long agent name '.repeat(17)}`.slice(0, 255).concat('x'),
      '"quoted"\\back\\slash',
    ];

    it.each(subs)('sub %j: the claim works and STS sees a valid, distinct SourceIdentity', async (sub) => {
      // /local/token only mints tidy subs; the issuer signs any sub a real IdP could send.
      const token = stack.stack.issuer.sign({ sub, groups: ['agents'] });
      const created = await stack.request(token, {
        resource: TABLE('orders'),
        actions: ['dynamodb:GetItem'],
      });
      // Identities are kept in one normal form (NFKC, case-folded, trimmed: lambdas/core/identity.ts).
      expect(created).toMatchObject({
        status: 201,
        body: { status: 'APPROVED', requester: { sub: normalizeIdentity(sub) } },
      });
      const answer = await claim(String(created.body.id), token);
      expect(answer.status).toBe(200);
      expect(await works(answer.body)).toBe(true);
      const session = stack.stack.aws.sessions().find((s) => s.accessKeyId === answer.body.AccessKeyId)!;
      expect(session.sourceIdentity).toMatch(STS_NAME);
      expect(session.roleSessionName).toMatch(STS_NAME);
      expect(session.tags).toContainEqual({ Key: 'countersign:agent', Value: session.sourceIdentity });
    });

    it('identities that differ only in characters STS cannot carry stay distinct', async () => {
      const identities = [];
      for (const sub of ['bot one', 'bot/one', 'bot:one', 'bot_one']) {
        const token = stack.stack.issuer.sign({ sub, groups: ['agents'] });
        const created = await stack.request(token, {
          resource: TABLE('orders'),
          actions: ['dynamodb:GetItem'],
        });
        const answer = await claim(String(created.body.id), token);
        identities.push(
          stack.stack.aws.sessions().find((s) => s.accessKeyId === answer.body.AccessKeyId)?.sourceIdentity,
        );
      }
      expect(new Set(identities).size).toBe(4);
      // `bot_one` fits STS as it is and is used unchanged; the others carry a hash.
      expect(identities[3]).toBe('bot_one');
    });
  });

  it('no secret access key, session token, bearer token, signing secret or bot token appears in any log line', () => {
    ledger.add('bearer token', agent);
    expect(ledger.count('secret access key')).toBeGreaterThanOrEqual(10);
    expect(ledger.count('session token')).toBeGreaterThanOrEqual(10);
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});
