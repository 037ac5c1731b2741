import { createHash, randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../../lambdas/core/config.js';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { type Browser, go, hasChromium, launch, signIn } from '../console/browser.js';
import { TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';

/**
 * An attacker's pass over the web console, the embedded issuer's dev login (OAuth code + PKCE) and
 * the inbox `GET /v1/requests`: redirect_uri tricks, PKCE downgrade, code replay, hostile text in
 * every field the console renders, and approvers reading requests they may not decide.
 */

type Items = { items: Array<{ id: string }>; cursor?: string; nextCursor?: string };

const b64url = (b: Buffer) => b.toString('base64url');

describe('attacker pass: console, dev login and inbox', () => {
  let stack: TestStack;
  let agent: string;
  let otherAgent: string;
  const callback = () => `${stack.url}/console/callback`;

  beforeAll(async () => {
    // The fixture's rules, plus one that names alice alone (and no group), ahead of them.
    const fixture = loadConfigFile(TEST_CONFIG_PATH);
    const aliceOnly: Rule = {
      name: 'alice-only',
      match: { accessLevels: ['Write'], resources: ['arn:aws:dynamodb:*:111122223333:table/aliceonly*'] },
      effect: 'approve',
      approvers: ['alice@example.com'],
      minReviewSeconds: 0,
    };
    stack = await TestStack.start({ config: { ...fixture, rules: [aliceOnly, ...fixture.rules] } });
    agent = await stack.agentToken('mallory-bot');
    otherAgent = await stack.agentToken('other-bot');
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const authorizeUrl = (params: Record<string, string>) =>
    `${stack.url}/authorize?${new URLSearchParams(params).toString()}`;
  const pkce = () => {
    const verifier = b64url(randomBytes(32));
    return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
  };
  const clientId = async () =>
    String(((await stack.call('GET', '/console/config.json')).body as { clientId: string }).clientId);

  /** Posts the dev login form as a browser would; answers the Location header. */
  async function login(params: Record<string, string>, sub = 'alice@example.com', groups = ['approvers']) {
    const form = new URLSearchParams({ ...params, sub });
    for (const g of groups) form.append('group', g);
    const response = await fetch(`${stack.url}/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      redirect: 'manual',
    });
    await response.text();
    return { status: response.status, location: response.headers.get('location') ?? '' };
  }
  async function exchange(params: Record<string, string>) {
    const response = await fetch(`${stack.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', ...params }).toString(),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  describe('dev login (OAuth 2.0 code + PKCE)', () => {
    it.each([
      ['another origin', 'http://evil.example/console/callback'],
      ['a prefix of the registered URI', '/console/callback/../../evil'],
      ['the registered URI with a query', '/console/callback?next=http://evil.example'],
      ['the registered URI with a fragment', '/console/callback#@evil.example'],
      ['userinfo that makes the host the attacker’s', '@evil.example/console/callback'],
    ])('an unregistered redirect_uri (%s) is refused without redirecting', async (_l, uri) => {
      const { challenge } = pkce();
      const redirect = uri.startsWith('http') ? uri : `${stack.url}${uri}`;
      for (const method of ['GET', 'POST'] as const) {
        const params = {
          client_id: await clientId(),
          redirect_uri: redirect,
          response_type: 'code',
          state: 'st',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        };
        const answer =
          method === 'GET'
            ? await fetch(authorizeUrl(params), { redirect: 'manual' })
            : await fetch(`${stack.url}/authorize`, {
                method: 'POST',
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: new URLSearchParams({
                  ...params,
                  sub: 'alice@example.com',
                  group: 'approvers',
                }).toString(),
                redirect: 'manual',
              });
        await answer.text();
        expect(answer.status).toBe(400);
        expect(answer.headers.get('location')).toBeNull();
      }
    });

    it('PKCE downgrade (plain, or no challenge) yields no code', async () => {
      const { verifier } = pkce();
      for (const extra of [
        { code_challenge: verifier, code_challenge_method: 'plain' },
        { code_challenge: verifier },
        {},
      ] as Array<Record<string, string>>) {
        const answer = await login({
          client_id: await clientId(),
          redirect_uri: callback(),
          response_type: 'code',
          state: 'st',
          ...extra,
        });
        expect(answer.location).not.toContain('code=');
        expect(answer.location).toContain('error=invalid_request');
      }
    });

    it('a code is good once: a wrong verifier burns it, and a used code cannot be replayed', async () => {
      const base = { client_id: await clientId(), redirect_uri: callback() };
      const first = pkce();
      const a = await login({
        ...base,
        response_type: 'code',
        state: 's1',
        code_challenge: first.challenge,
        code_challenge_method: 'S256',
      });
      const codeA = new URL(a.location).searchParams.get('code')!;
      expect(codeA).toBeTruthy();
      // An interceptor without the verifier tries first; the real client then gets nothing either.
      expect((await exchange({ ...base, code: codeA, code_verifier: pkce().verifier })).status).toBe(400);
      expect((await exchange({ ...base, code: codeA, code_verifier: first.verifier })).status).toBe(400);

      const second = pkce();
      const b = await login({
        ...base,
        response_type: 'code',
        state: 's2',
        code_challenge: second.challenge,
        code_challenge_method: 'S256',
      });
      const codeB = new URL(b.location).searchParams.get('code')!;
      // Another redirect_uri at the token endpoint than at authorize: refused.
      expect(
        (
          await exchange({
            ...base,
            redirect_uri: `${callback()}x`,
            code: codeB,
            code_verifier: second.verifier,
          })
        ).status,
      ).toBe(400);

      const third = pkce();
      const c = await login({
        ...base,
        response_type: 'code',
        state: 's3',
        code_challenge: third.challenge,
        code_challenge_method: 'S256',
      });
      const codeC = new URL(c.location).searchParams.get('code')!;
      const ok = await exchange({ ...base, code: codeC, code_verifier: third.verifier });
      expect(ok.status).toBe(200);
      const replay = await exchange({ ...base, code: codeC, code_verifier: third.verifier });
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe('invalid_grant');
    });

    it('groups the config does not know are dropped, not signed into the token', async () => {
      const { verifier, challenge } = pkce();
      const base = { client_id: await clientId(), redirect_uri: callback() };
      const a = await login(
        {
          ...base,
          response_type: 'code',
          state: 's',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        },
        'mallory',
        ['agents', 'admins', 'auditors\u200b'],
      );
      const code = new URL(a.location).searchParams.get('code')!;
      const token = await exchange({ ...base, code, code_verifier: verifier });
      const payload = JSON.parse(
        Buffer.from(String(token.body.access_token).split('.')[1]!, 'base64url').toString(),
      );
      expect(payload.groups).toEqual(['agents']);
    });

    it('hostile state, nonce and sub are escaped in the login page, which runs no script at all', async () => {
      const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
      const { challenge } = pkce();
      const answer = await fetch(
        authorizeUrl({
          client_id: await clientId(),
          redirect_uri: callback(),
          response_type: 'code',
          state: hostile,
          nonce: hostile,
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      );
      const html = await answer.text();
      expect(answer.status).toBe(200);
      expect(html).not.toContain('<script>alert');
      expect(html).not.toContain('<img src=x');
      const csp = answer.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toMatch(/script-src/);
      expect(csp).toContain("frame-ancestors 'none'");
    });
  });

  describe('console headers and what it hands out', () => {
    it('every console answer carries a CSP with no inline script, no framing and no referrer', async () => {
      for (const path of ['/console/', '/console/callback', '/console/config.json', '/console/x/../']) {
        const answer = await fetch(`${stack.url}${path}`);
        await answer.text();
        const csp = answer.headers.get('content-security-policy') ?? '';
        expect(csp, path).toContain("script-src 'self'");
        expect(csp, path).not.toContain('unsafe-inline');
        expect(csp, path).not.toContain('unsafe-eval');
        expect(csp, path).toContain("frame-ancestors 'none'");
        expect(answer.headers.get('referrer-policy'), path).toBe('no-referrer');
        expect(answer.headers.get('x-content-type-options'), path).toBe('nosniff');
      }
    });

    it('config.json holds no secret: no signing secret, key or token', async () => {
      const answer = await stack.call('GET', '/console/config.json');
      const text = JSON.stringify(answer.body);
      expect(text).not.toContain(stack.stack.slackSigningSecret);
      expect(text).not.toMatch(/PRIVATE|secret|xoxb-|"d":/i);
    });
  });

  it('every local server the stack names listens on loopback only (issue 12, item 12)', async () => {
    const endpoints = (await stack.call('GET', '/local/endpoints')).body as Record<string, string>;
    const urls = [stack.url, ...Object.values(endpoints)];
    expect(urls.length).toBeGreaterThan(2);
    for (const url of urls) expect(new URL(url).hostname, url).toBe('127.0.0.1');
  });

  describe('inbox: approvers see only what they may decide', () => {
    it('bob does not see a request only alice may decide; alice does; an agent sees only its own', async () => {
      // alice-only names alice alone; writes names alice, bob and group:approvers.
      const create = async (table: string) => {
        const answer = await stack.request(agent, { resource: TABLE(table), actions: ['dynamodb:PutItem'] });
        expect(answer.body.status).toBe('PENDING');
        return String(answer.body.id);
      };
      const onlyAlice = await create('aliceonly-atk');
      const shared = await create('orders');
      const bob = await stack.token('bob@example.com', ['approvers']);
      const alice = await stack.token('alice@example.com', ['approvers']);
      const listIds = async (token: string, query = '?status=PENDING&limit=100') => {
        const answer = await stack.call<Items>('GET', `/v1/requests${query}`, { token });
        expect(answer.status).toBe(200);
        return answer.body.items.map((i) => i.id);
      };
      const bobs = await listIds(bob);
      expect(bobs).toContain(shared);
      expect(bobs).not.toContain(onlyAlice);
      // Nor by any other status filter, nor unfiltered.
      expect(await listIds(bob, '?limit=100')).not.toContain(onlyAlice);
      expect(await listIds(alice)).toEqual(expect.arrayContaining([onlyAlice, shared]));
      // (By id, approvers may read any request they know the id of: by design, ids are unguessable.)

      const others = await listIds(otherAgent, '?limit=100');
      expect(others).not.toContain(onlyAlice);
      expect(others).not.toContain(shared);
    });

    it('an approver who is also the requester does not see their own request to decide', async () => {
      const both = await stack.token('carol@example.com', ['agents', 'approvers']);
      const own = await stack.request(both, { resource: TABLE('orders'), actions: ['dynamodb:PutItem'] });
      expect(own.status).toBe(201);
      const inbox = await stack.call<Items>('GET', '/v1/requests?status=PENDING&limit=100', {
        token: await stack.token('carol@example.com', ['approvers']),
      });
      expect(inbox.body.items.map((i) => i.id)).not.toContain(String(own.body.id));
    });

    it('a cursor from an auditor’s listing does not widen an agent’s view', async () => {
      const auditor = await stack.token('audrey@example.com', ['auditors']);
      const page = await stack.call<Items>('GET', '/v1/requests?limit=1', { token: auditor });
      const cursor = page.body.nextCursor ?? page.body.cursor;
      expect(cursor).toBeTruthy();
      const replay = await stack.call<Items>(
        'GET',
        `/v1/requests?limit=100&cursor=${encodeURIComponent(String(cursor))}`,
        { token: otherAgent },
      );
      if (replay.status === 200) {
        for (const item of replay.body.items) {
          const own = await stack.call('GET', `/v1/requests/${item.id}`, { token: otherAgent });
          expect(own.status).toBe(200);
        }
      } else {
        expect(replay.status).toBe(400);
      }
    });
  });

  describe.skipIf(!hasChromium())('hostile text in every field the console renders', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launch();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    it('a request whose reason, context and exact-call input carry markup runs no script', async () => {
      const markup = '<img src=x onerror=alert(1)><script>alert(2)</script>';
      const created = await stack.request(agent, {
        resource: TABLE('orders'),
        actions: ['dynamodb:PutItem'],
        reason: `Refund ${markup}`,
        context: { task: markup, model: 'javascript:alert(3)' },
        call: { input: { TableName: 'orders', Item: { id: { S: markup }, [markup]: { S: markup } } } },
      });
      expect(created.status).toBe(201);
      const id = String(created.body.id);
      const page: Page = await browser.context.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await signIn(page, stack.url, 'alice@example.com', ['approvers']);
      await go(page, `#/requests/${id}`);
      await page.getByText('Refund').first().waitFor();
      await go(page, '#/inbox');
      await page.waitForTimeout(500);
      expect(dialogs).toEqual([]);
      expect(await page.locator('img[src="x"]').count()).toBe(0);
      expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
      await page.close();
    });
  });
});
