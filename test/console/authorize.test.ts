import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtAuthenticator } from '../../lambdas/adapters/jwt-authenticator.js';
import { jwtSettings } from '../../lambdas/adapters/settings.js';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { createConsoleServer, type ServeConsole } from '../../lib/local/console-server.js';
import { type LocalServer, listenLocal, requestPath, sendJson } from '../../lib/local/http-server.js';
import { createLocalIssuer, type LocalIssuer } from '../../lib/local/oidc-issuer.js';
import { TEST_CONFIG_PATH } from '../support/local-stack.js';

/**
 * The embedded issuer's authorization code + PKCE flow (DESIGN.md §6), over HTTP as the console
 * and any OIDC library would speak it, on the front door's console routes (`serveConsole`) with the
 * real issuer and the real JWT verifier. Each refusal here is one an attacker holding a stolen
 * code, a wrong verifier or a foreign redirect URI would hit.
 */

const b64url = (b: Buffer) => b.toString('base64url');

const config = loadConfigFile(TEST_CONFIG_PATH);
let issuer: LocalIssuer;
let server: LocalServer;
let serveConsole: ServeConsole;
let redirectUri: string;
/** The front door's routes that matter here: discovery, JWKS, and the console's (as stack.ts wires them). */
const stack = {
  get url() {
    return server.url;
  },
  async call(_method: 'GET', path: string) {
    const response = await fetch(`${server.url}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  },
};

beforeAll(async () => {
  server = await listenLocal(async (req, res) => {
    const path = requestPath(req);
    if (path === '/.well-known/jwks.json') return sendJson(res, 200, issuer.jwks());
    if (path === '/.well-known/openid-configuration') return sendJson(res, 200, issuer.openidConfiguration());
    if (await serveConsole(req, res)) return;
    sendJson(res, 404, {});
  });
  issuer = createLocalIssuer({ issuer: server.url, audience: 'countersign' });
  serveConsole = createConsoleServer({ issuer, config, url: server.url });
  redirectUri = `${server.url}/console/callback`;
});
afterAll(async () => {
  await server?.close();
});

function pkce() {
  const verifier = b64url(randomBytes(48));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

function authorizeParams(overrides: Record<string, string | null> = {}, challenge = pkce().challenge) {
  const params: Record<string, string | null> = {
    response_type: 'code',
    client_id: 'countersign',
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'state-123',
    nonce: 'nonce-456',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null) q.set(k, v);
  return q;
}

/** Posts the dev login form as the browser does; returns the redirect's URL. */
async function login(params: URLSearchParams, sub = 'alice@example.com', groups = ['approvers']) {
  const form = new URLSearchParams(params);
  form.set('sub', sub);
  for (const g of groups) form.append('group', g);
  const response = await fetch(`${stack.url}/authorize`, {
    method: 'POST',
    body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  return { status: response.status, location: new URL(response.headers.get('location') ?? '', stack.url) };
}

async function redeem(fields: Record<string, string>) {
  const response = await fetch(`${stack.url}/token`, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function codeFor(verifierPair = pkce(), groups = ['approvers']) {
  const { location } = await login(authorizeParams({}, verifierPair.challenge), 'alice@example.com', groups);
  return location.searchParams.get('code')!;
}

describe('discovery', () => {
  it('advertises the authorization and token endpoints, code flow and S256 only', async () => {
    const doc = (await stack.call('GET', '/.well-known/openid-configuration')).body;
    expect(doc).toMatchObject({
      issuer: stack.url,
      authorization_endpoint: `${stack.url}/authorize`,
      token_endpoint: `${stack.url}/token`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
    });
  });
});

describe('authorize', () => {
  it('shows the dev login with the config roles as groups, under a CSP with no script at all', async () => {
    const response = await fetch(`${stack.url}/authorize?${authorizeParams()}`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('content-security-policy')).not.toContain('script-src');
    for (const group of ['agents', 'approvers', 'auditors']) expect(html).toContain(`value="${group}"`);
    expect(html).not.toMatch(/<script|style=/);
  });

  it('escapes what it echoes: a hostile state cannot become markup', async () => {
    const html = await (
      await fetch(`${stack.url}/authorize?${authorizeParams({ state: '"><script>x</script>' })}`)
    ).text();
    expect(html).not.toContain('<script>');
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
  });

  it('redirects back with a code and the state, to the registered URI only', async () => {
    const { status, location } = await login(authorizeParams());
    expect(status).toBe(303);
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('state-123');
    expect(location.searchParams.get('code')).toMatch(/^[\w-]{43}$/);
  });

  it('never redirects to an unregistered redirect_uri, nor for an unknown client', async () => {
    for (const overrides of <Array<Record<string, string | null>>>[
      { redirect_uri: 'https://evil.example/console/callback' },
      { redirect_uri: `${redirectUri}/../../evil` },
      { client_id: 'someone-else' },
    ]) {
      const response = await fetch(`${stack.url}/authorize?${authorizeParams(overrides)}`, {
        redirect: 'manual',
      });
      expect(response.status, JSON.stringify(overrides)).toBe(400);
      expect(response.headers.get('location')).toBeNull();
    }
  });

  it('refuses plain PKCE or none at all, back to the client as invalid_request', async () => {
    for (const overrides of <Array<Record<string, string | null>>>[
      { code_challenge_method: 'plain' },
      { code_challenge_method: null },
      { code_challenge: null },
      { response_type: 'token' },
    ]) {
      const { status, location } = await login(authorizeParams(overrides));
      expect(status, JSON.stringify(overrides)).toBe(303);
      expect(location.searchParams.get('code'), JSON.stringify(overrides)).toBeNull();
      expect(location.searchParams.get('error')).toMatch(/invalid_request|unsupported_response_type/);
    }
  });
});

describe('token', () => {
  it('redeems a code with its verifier for an ID token the API accepts, with the chosen groups', async () => {
    const pair = pkce();
    const code = await codeFor(pair, ['auditors']);
    const answer = await redeem({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: 'countersign',
      code_verifier: pair.verifier,
    });
    expect(answer.status).toBe(200);
    const idToken = String(answer.body.id_token);
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({
      sub: 'alice@example.com',
      groups: ['auditors'],
      nonce: 'nonce-456',
      aud: 'countersign',
    });
    // The API's verifier (real JWKS over HTTP, real RS256) accepts it, and reads the auditor role.
    const caller = await new JwtAuthenticator(
      jwtSettings(config, issuer.issuer, issuer.jwksUri),
    ).authenticate(`Bearer ${idToken}`);
    expect(caller.sub).toBe('alice@example.com');
    expect([...caller.roles]).toEqual(['auditor']);
  });

  it('refuses a wrong verifier, and the code is then spent', async () => {
    const pair = pkce();
    const code = await codeFor(pair);
    const base = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: 'countersign',
    };
    const wrong = await redeem({ ...base, code_verifier: pkce().verifier });
    expect(wrong).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(wrong.body.id_token).toBeUndefined();
    const retry = await redeem({ ...base, code_verifier: pair.verifier });
    expect(retry).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('redeems a code once only', async () => {
    const pair = pkce();
    const code = await codeFor(pair);
    const fields = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: 'countersign',
      code_verifier: pair.verifier,
    };
    expect((await redeem(fields)).status).toBe(200);
    expect(await redeem(fields)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('refuses a code presented with another redirect_uri or client_id, or without a verifier', async () => {
    for (const change of [
      { redirect_uri: `${stack.url}/elsewhere` },
      { client_id: 'someone-else' },
      { code_verifier: '' },
    ]) {
      const pair = pkce();
      const code = await codeFor(pair);
      const answer = await redeem({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        client_id: 'countersign',
        code_verifier: pair.verifier,
        ...change,
      });
      expect(answer, JSON.stringify(change)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    }
  });
});

describe('console files', () => {
  it('serves the console under a strict CSP, with no inline script or style in the document', async () => {
    const response = await fetch(`${stack.url}/console/`);
    const html = await response.text();
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html).toMatch(/<script type="module" src="assets\/main-[A-Z0-9]+\.js"><\/script>/);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/style=|<style/);
  });

  it('serves the same document at the callback, and config.json with the issuer and roles', async () => {
    expect((await fetch(`${stack.url}/console/callback?code=x&state=y`)).status).toBe(200);
    const config = (await stack.call('GET', '/console/config.json')).body;
    expect(config).toEqual({
      apiUrl: '',
      issuer: stack.url,
      clientId: 'countersign',
      scope: 'openid',
      groupsClaim: 'groups',
      roles: { agents: ['agents'], approvers: ['approvers'], auditors: ['auditors'] },
    });
  });
});
