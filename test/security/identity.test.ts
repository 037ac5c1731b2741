import { generateKeyPairSync } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtAuthenticator } from '../../lambdas/adapters/jwt-authenticator.js';
import { UnauthorizedError } from '../../lambdas/core/errors.js';
import { signJwt } from '../../lib/local/oidc-issuer.js';
import { type ApiAnswer, TABLE, TestStack } from '../support/local-stack.js';
import { expectContractError, SecretLedger, storedRequestIds, tableClient } from './support.js';

/**
 * Threat: a caller without a valid identity (a forged, replayed-after-expiry or foreign JWT), or a
 * verified caller acting outside its role. Door: `Authorization: Bearer` on every API route.
 * Guard: JwtAuthenticator (aws-jwt-verify + customJwtCheck) and the role checks in the core.
 */
describe('identity: forged, stale and foreign JWTs, and roles', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let ledger: SecretLedger;
  const FORGER = 'forger-bot';
  const body = {
    resource: TABLE('orders'),
    actions: ['dynamodb:GetItem'],
    reason: 'Read one order for a report',
  };

  beforeAll(async () => {
    stack = await TestStack.start();
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  const now = () => Math.floor(Date.now() / 1000);
  /** Claims the embedded issuer would sign for an agent, before a test bends one of them. */
  const claims = (overrides: Record<string, unknown> = {}) => ({
    iss: stack.stack.issuer.issuer,
    aud: stack.stack.issuer.audience,
    sub: FORGER,
    groups: ['agents'],
    iat: now(),
    exp: now() + 600,
    ...overrides,
  });
  const header = (overrides: Record<string, unknown> = {}) => ({
    alg: 'RS256',
    typ: 'JWT',
    kid: stack.stack.issuer.kid,
    ...overrides,
  });
  const rightKey = () => stack.stack.issuer.privateKey;
  const post = (authorization: string | undefined) =>
    stack.call('POST', '/v1/requests', {
      body,
      headers: authorization === undefined ? {} : { authorization },
    });
  const bearer = (token: string) => {
    ledger.add('bearer token', token);
    return post(`Bearer ${token}`);
  };

  it('the forging helper makes tokens the verifier accepts when nothing is bent (control)', async () => {
    const control = signJwt(header(), claims({ sub: 'forger-control' }), rightKey());
    const answer = await bearer(control);
    expect(answer).toMatchObject({
      status: 201,
      body: { status: 'APPROVED', requester: { sub: 'forger-control' } },
    });
    expect(await storedRequestIds(stack, ddb, 'forger-control')).toEqual([answer.body.id]);
  });

  const refusals: Array<[string, () => Promise<ApiAnswer>]> = [
    ['no Authorization header', () => post(undefined)],
    ['an empty bearer', () => post('Bearer ')],
    ['another scheme', () => post(`Basic ${Buffer.from('agent:secret').toString('base64')}`)],
    ['garbage', () => post('Bearer not-a-jwt')],
    ['three dots of base64 garbage', () => post('Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl')],
    ['alg none', () => bearer(signJwt(header({ alg: 'none' }), claims(), null))],
    ['alg none without kid', () => bearer(signJwt({ alg: 'none', typ: 'JWT' }, claims(), null))],
    [
      'HS256 keyed with the issuer public key (PEM)',
      () =>
        bearer(
          signJwt(
            header({ alg: 'HS256' }),
            claims(),
            stack.stack.issuer.publicKey.export({ type: 'spki', format: 'pem' }) as string,
          ),
        ),
    ],
    [
      'HS256 keyed with the JWKS modulus',
      () => bearer(signJwt(header({ alg: 'HS256' }), claims(), stack.stack.issuer.jwks().keys[0]!.n)),
    ],
    [
      'PS256 with the right key but not the JWK alg',
      () => bearer(signJwt(header({ alg: 'PS256' }), claims(), rightKey())),
    ],
    [
      'RS256 signed by another key under the real kid',
      () =>
        bearer(signJwt(header(), claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)),
    ],
    [
      'an unknown kid',
      () =>
        bearer(
          signJwt(
            header({ kid: 'rotated-away' }),
            claims(),
            generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
          ),
        ),
    ],
    ['a wrong aud', () => bearer(signJwt(header(), claims({ aud: 'some-other-api' }), rightKey()))],
    ['an aud list without ours', () => bearer(signJwt(header(), claims({ aud: ['a', 'b'] }), rightKey()))],
    ['a wrong iss', () => bearer(signJwt(header(), claims({ iss: 'https://evil.example.com' }), rightKey()))],
    [
      'an expired token',
      () => bearer(signJwt(header(), claims({ iat: now() - 7200, exp: now() - 60 }), rightKey())),
    ],
    ['no exp', () => bearer(signJwt(header(), claims({ exp: undefined }), rightKey()))],
    ['exp as a string', () => bearer(signJwt(header(), claims({ exp: String(now() + 600) }), rightKey()))],
    ['nbf in the future', () => bearer(signJwt(header(), claims({ nbf: now() + 600 }), rightKey()))],
    ['no sub', () => bearer(signJwt(header(), claims({ sub: undefined }), rightKey()))],
    [
      'a sub of 300 characters',
      () => bearer(signJwt(header(), claims({ sub: 'a'.repeat(300) }), rightKey())),
    ],
    [
      'a token longer than 8 KB',
      () => bearer(signJwt(header(), claims({ padding: 'x'.repeat(9000) }), rightKey())),
    ],
    [
      'a valid token with its payload swapped',
      async () => {
        const [head, , signature] = signJwt(header(), claims({ groups: [] }), rightKey()).split('.');
        const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
        return bearer(`${head}.${payload}.${signature}`);
      },
    ],
  ];

  it.each(refusals)('refuses %s with 401 Unauthorized and stores nothing', async (_name, send) => {
    const answer = await send();
    expectContractError(answer, 401, 'Unauthorized');
    expect(await storedRequestIds(stack, ddb, FORGER)).toEqual([]);
  });

  it('says the same thing whichever check failed, so refusals teach a forger nothing', async () => {
    const messages = new Set<string>();
    for (const bend of [
      { aud: 'x' },
      { iss: 'https://x.example' },
      { exp: now() - 60 },
      { nbf: now() + 600 },
    ]) {
      const answer = await bearer(signJwt(header(), claims(bend), rightKey()));
      messages.add(String((answer.body as { error: { message: string } }).error.message));
    }
    expect([...messages]).toEqual(['The bearer token is not valid.']);
  });

  it('a flood of unknown kids fetches the JWKS at most once per execution environment, and real callers still get in', async () => {
    // Prepare: the verifier has the JWKS cached from the control test's token.
    await bearer(stack.stack.issuer.sign({ sub: 'warm-up-bot', groups: ['agents'] }));
    const before = stack.stack.jwksFetches();
    expect(before).toBeGreaterThanOrEqual(1);
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = Array.from({ length: 120 }, (_, i) =>
      signJwt(header({ kid: `kid-${i}` }), claims(), attacker),
    );
    const legit = await stack.agentToken('legit-bot');

    // Act: three waves of 40 concurrent forgeries, with a legitimate caller in each wave.
    const answers: ApiAnswer[] = [];
    const legitAnswers: ApiAnswer[] = [];
    for (let wave = 0; wave < 3; wave++) {
      const batch = forged.slice(wave * 40, wave * 40 + 40);
      const [forgedAnswers, legitAnswer] = await Promise.all([
        Promise.all(batch.map((token) => post(`Bearer ${token}`))),
        stack.request(legit, body),
      ]);
      answers.push(...forgedAnswers);
      legitAnswers.push(legitAnswer);
    }

    // Assess
    expect(answers.map((a) => a.status)).toEqual(forged.map(() => 401));
    expect(legitAnswers.map((a) => a.status)).toEqual([201, 201, 201]);
    // At most one fetch per execution environment, as on Lambda: each process has its own verifier
    // (its JWKS cache and unknown-kid penalty box), and concurrent callers spread over several.
    const environments = Object.entries(stack.stack.processes())
      .filter(([name]) => name.includes('RequestAccess'))
      .reduce((n, [, count]) => n + count, 0);
    expect(environments).toBeGreaterThanOrEqual(1);
    expect(stack.stack.jwksFetches() - before).toBeLessThanOrEqual(environments);
    expect(await storedRequestIds(stack, ddb, FORGER)).toEqual([]);
  });

  describe('a verified caller outside its role', () => {
    let pendingId: string;
    beforeAll(async () => {
      const agent = await stack.agentToken('role-bot');
      const answer = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:PutItem'] });
      expect(answer.body.status).toBe('PENDING');
      pendingId = String(answer.body.id);
    });

    const as = (sub: string, groups: string[]) => stack.token(sub, groups);

    it('an auditor, an approver and a group-less identity may not request access (403)', async () => {
      for (const [sub, groups] of [
        ['auditor@example.com', ['auditors']],
        ['alice@example.com', ['approvers']],
        ['nobody-bot', []],
        ['lookalike-bot', ['Agents', 'agents ', 'agent']],
      ] as const) {
        const answer = await stack.request(await as(sub, [...groups]), body);
        expectContractError(answer, 403, 'Forbidden');
        expect(await storedRequestIds(stack, ddb, sub)).toEqual([]);
      }
    });

    it('an agent may not decide (403), not even its own request', async () => {
      const agent = await as('role-bot', ['agents']);
      const answer = await stack.call('POST', `/v1/requests/${pendingId}/decisions`, {
        token: agent,
        body: { decision: 'approve' },
      });
      expectContractError(answer, 403, 'Forbidden');
      const auditor = await as('auditor@example.com', ['auditors']);
      const byAuditor = await stack.call('POST', `/v1/requests/${pendingId}/decisions`, {
        token: auditor,
        body: { decision: 'approve' },
      });
      expectContractError(byAuditor, 403, 'Forbidden');
      const read = await stack.call('GET', `/v1/requests/${pendingId}`, { token: auditor });
      expect(read.body).toMatchObject({ status: 'PENDING', decisions: [] });
    });

    it('agents and approvers may not read the reports (403); auditors may', async () => {
      for (const [sub, groups] of [
        ['role-bot', ['agents']],
        ['alice@example.com', ['approvers']],
      ] as const) {
        const answer = await stack.call('GET', '/v1/reports/access-review', {
          token: await as(sub, [...groups]),
        });
        expectContractError(answer, 403, 'Forbidden');
      }
      const auditor = await stack.call('GET', '/v1/reports/access-review', {
        token: await as('auditor@example.com', ['auditors']),
      });
      expect(auditor.status).toBe(200);
    });

    it('an approver the rule does not name may not decide (403 NotAnApprover)', async () => {
      const agent = await as('role-bot', ['agents']);
      // payments-two-keys names alice, bob and carol only (no group:).
      const payments = await stack.request(agent, {
        resource: TABLE('payments'),
        actions: ['dynamodb:PutItem'],
      });
      expect(payments.body).toMatchObject({ status: 'PENDING', policy: { rule: 'payments-two-keys' } });
      const mallory = await as('mallory@example.com', ['approvers']);
      const answer = await stack.call('POST', `/v1/requests/${payments.body.id}/decisions`, {
        token: mallory,
        body: { decision: 'approve' },
      });
      expectContractError(answer, 403, 'NotAnApprover');
      const read = await stack.call('GET', `/v1/requests/${payments.body.id}`, { token: mallory });
      expect(read.body).toMatchObject({ status: 'PENDING', decisions: [] });
    });
  });

  it('a network attacker gets no plain-HTTP door: JWKS over http is refused for any host but loopback', async () => {
    const settings = stack.stack.jwt;
    const remote = new JwtAuthenticator({
      ...settings,
      jwksUri: 'http://issuer.example.com/.well-known/jwks.json',
    });
    const token = stack.stack.issuer.sign({ sub: 'net-bot', groups: ['agents'] });
    const refused = await remote.authenticate(`Bearer ${token}`).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UnauthorizedError);
    // Refused before any request left the process, not because the host did not answer.
    expect(String(((refused as Error).cause as Error)?.message)).toMatch(/refusing to fetch JWKS over http/);
    // The same token through the loopback JWKS of the local assembly verifies (control).
    await expect(new JwtAuthenticator(settings).authenticate(`Bearer ${token}`)).resolves.toMatchObject({
      sub: 'net-bot',
    });
    for (const url of [stack.url, ...Object.values(stack.stack.endpoints)]) {
      expect(new URL(url).hostname).toBe('127.0.0.1');
    }
  });

  it('a refused token is logged at info with its code and why (a wrong audience is no silent wall of 401s), never the token', async () => {
    const token = signJwt(header(), claims({ sub: 'audience-bot', aud: 'some-other-api' }), rightKey());
    const from = stack.logs.length;
    expectContractError(await bearer(token), 401, 'Unauthorized');
    const lines = stack.logs.slice(from).filter((line) => line.includes('request refused'));
    expect(lines.map((line) => JSON.parse(line.slice(line.indexOf('{'))))).toEqual([
      expect.objectContaining({
        level: 'info',
        status: 401,
        code: 'Unauthorized',
        cause: expect.objectContaining({
          message: expect.stringMatching(/audience not allowed: some-other-api/i),
        }),
      }),
    ]);
    // Neither the token nor any part of it.
    for (const part of [token, ...token.split('.')]) expect(lines.join('\n')).not.toContain(part);
  });

  it('no bearer token, signing secret or bot token appears in any log line of these flows', () => {
    expect(ledger.count('bearer token')).toBeGreaterThan(10);
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});
