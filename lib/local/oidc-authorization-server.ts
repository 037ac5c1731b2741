import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, requestPath } from './http-server.js';
import { base64url, LOCAL_SUB, type LocalIssuer } from './oidc-issuer.js';

/**
 * The embedded issuer's authorization endpoint and token endpoint, for the web console (DESIGN.md
 * §6): OAuth 2.0 authorization code with PKCE (RFC 7636, `S256` only) for one public client. The
 * "login" is a dev page where anyone on this machine picks an identity and groups — the same power
 * `POST /local/token` already gives; it never exists on AWS, where the real IdP signs people in.
 * The tokens are the embedded issuer's (oidc-issuer.ts).
 */

export interface AuthorizationServerOptions {
  readonly issuer: LocalIssuer;
  /** The one client allowed (config `console.clientId`). */
  readonly clientId: string;
  /** Exact redirect URIs allowed (no prefix or pattern matching: RFC 9700 §4.1.3). */
  readonly redirectUris: readonly string[];
  /** Groups offered as checkboxes on the dev login (the config's roles). */
  readonly groups: readonly string[];
  /** @default 60 — an authorization code is good once, for this long */
  readonly codeTtlSeconds?: number;
  /** @default 3600 */
  readonly tokenTtlSeconds?: number;
  /** A stylesheet the login page links (never inline: the page's CSP has no 'unsafe-inline'). */
  readonly stylesheet?: string;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  sub: string;
  groups: string[];
  nonce?: string;
  expiresAt: number;
}

/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters; verifiers are 43-128 unreserved characters. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const MAX_STATE = 512;

export interface AuthorizationServer {
  /** Answers `GET|POST /authorize` and `POST /token`; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

export function createAuthorizationServer(options: AuthorizationServerOptions): AuthorizationServer {
  const codes = new Map<string, PendingCode>();
  const codeTtl = (options.codeTtlSeconds ?? 60) * 1000;
  const tokenTtl = options.tokenTtlSeconds ?? 3600;

  /** Checks the request's parameters; errors that concern the client itself are never redirected. */
  function authorizeParams(params: URLSearchParams):
    | { ok: true; redirectUri: string; state: string; challenge: string; nonce?: string }
    | {
        ok: false;
        status: number;
        message: string;
        redirect?: { uri: string; state: string; error: string };
      } {
    const clientId = params.get('client_id');
    const redirectUri = params.get('redirect_uri') ?? '';
    if (clientId !== options.clientId) return { ok: false, status: 400, message: 'Unknown client_id.' };
    if (!options.redirectUris.includes(redirectUri)) {
      return { ok: false, status: 400, message: 'redirect_uri is not registered for this client.' };
    }
    const state = params.get('state') ?? '';
    const fail = (error: string) => ({
      ok: false as const,
      status: 302,
      message: error,
      redirect: { uri: redirectUri, state, error },
    });
    if (params.get('response_type') !== 'code') return fail('unsupported_response_type');
    if (!state || state.length > MAX_STATE) return fail('invalid_request');
    // PKCE is mandatory and only S256: `plain` would put the verifier in the URL.
    if (params.get('code_challenge_method') !== 'S256') return fail('invalid_request');
    const challenge = params.get('code_challenge') ?? '';
    if (!CHALLENGE.test(challenge)) return fail('invalid_request');
    const nonce = params.get('nonce') ?? undefined;
    if (nonce !== undefined && nonce.length > MAX_STATE) return fail('invalid_request');
    return { ok: true, redirectUri, state, challenge, ...(nonce ? { nonce } : {}) };
  }

  function redirectWith(res: ServerResponse, uri: string, query: Record<string, string>) {
    const target = new URL(uri);
    for (const [k, v] of Object.entries(query)) target.searchParams.set(k, v);
    res.writeHead(303, { location: target.toString(), 'cache-control': 'no-store' });
    res.end();
  }

  async function authorize(req: IncomingMessage, res: ServerResponse) {
    const params =
      req.method === 'POST'
        ? new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'))
        : new URL(req.url ?? '/', 'http://localhost').searchParams;
    const checked = authorizeParams(params);
    if (!checked.ok) {
      if (checked.redirect) {
        return redirectWith(res, checked.redirect.uri, {
          error: checked.redirect.error,
          ...(checked.redirect.state ? { state: checked.redirect.state } : {}),
        });
      }
      return sendHtml(res, checked.status, errorPage(checked.message, options.stylesheet));
    }
    if (req.method !== 'POST') {
      return sendHtml(res, 200, loginPage(params, options.groups, options.stylesheet));
    }
    const sub = (params.get('sub') ?? '').trim();
    const groups = params.getAll('group').filter((g) => options.groups.includes(g));
    if (!LOCAL_SUB.test(sub)) {
      return sendHtml(
        res,
        400,
        loginPage(
          params,
          options.groups,
          options.stylesheet,
          'Identity: 1-256 of letters, digits and _ . @ + = , : -',
        ),
      );
    }
    const code = base64url(randomBytes(32));
    codes.set(code, {
      clientId: options.clientId,
      redirectUri: checked.redirectUri,
      challenge: checked.challenge,
      sub,
      groups,
      ...(checked.nonce ? { nonce: checked.nonce } : {}),
      expiresAt: Date.now() + codeTtl,
    });
    return redirectWith(res, checked.redirectUri, { code, state: checked.state });
  }

  async function token(req: IncomingMessage, res: ServerResponse) {
    const params = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
    const refuse = (error: string, description: string, status = 400) =>
      sendOAuth(res, status, { error, error_description: description });
    if (params.get('grant_type') !== 'authorization_code') {
      return refuse('unsupported_grant_type', 'Only authorization_code is supported.');
    }
    const code = params.get('code') ?? '';
    const pending = codes.get(code);
    // A code is good once, even when the exchange then fails (RFC 6749 §4.1.2).
    codes.delete(code);
    if (!pending || pending.expiresAt < Date.now())
      return refuse('invalid_grant', 'The code is unknown or expired.');
    if (params.get('client_id') !== pending.clientId)
      return refuse('invalid_grant', 'The code was issued to another client.');
    if (params.get('redirect_uri') !== pending.redirectUri) {
      return refuse('invalid_grant', 'redirect_uri differs from the authorization request.');
    }
    const verifier = params.get('code_verifier') ?? '';
    if (!VERIFIER.test(verifier)) return refuse('invalid_grant', 'code_verifier is missing or malformed.');
    const computed = Buffer.from(base64url(createHash('sha256').update(verifier).digest()));
    const expected = Buffer.from(pending.challenge);
    if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) {
      return refuse('invalid_grant', 'code_verifier does not match the code_challenge.');
    }
    const claims = { sub: pending.sub, groups: pending.groups, expiresInSeconds: tokenTtl };
    return sendOAuth(res, 200, {
      token_type: 'Bearer',
      expires_in: tokenTtl,
      scope: 'openid',
      access_token: options.issuer.sign(claims),
      // The ID token is for the client: its audience is the client id (OIDC Core §2).
      id_token: options.issuer.sign(
        { ...claims, ...(pending.nonce ? { nonce: pending.nonce } : {}) },
        pending.clientId,
      ),
    });
  }

  return {
    async handle(req, res) {
      const path = requestPath(req);
      if (path === '/authorize' && (req.method === 'GET' || req.method === 'POST')) {
        await authorize(req, res);
        return true;
      }
      if (path === '/token' && req.method === 'POST') {
        await token(req, res);
        return true;
      }
      return false;
    },
  };
}

function sendOAuth(res: ServerResponse, status: number, body: Record<string, unknown>) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The dev login's headers: no script at all, forms post only here, never framed. */
const LOGIN_CSP =
  "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function sendHtml(res: ServerResponse, status: number, html: string) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': LOGIN_CSP,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

function htmlEscape(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title: string, body: string, stylesheet?: string): string {
  const css = stylesheet ? `<link rel="stylesheet" href="${htmlEscape(stylesheet)}">` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${htmlEscape(title)}</title>${css}</head><body><main class="login">${body}</main></body></html>`;
}

function errorPage(message: string, stylesheet?: string): string {
  return page(
    'Sign-in refused',
    `<h1>Sign-in refused</h1><p role="alert">${htmlEscape(message)}</p>`,
    stylesheet,
  );
}

const FORWARDED = [
  'client_id',
  'redirect_uri',
  'response_type',
  'state',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'scope',
];

function loginPage(
  params: URLSearchParams,
  groups: readonly string[],
  stylesheet?: string,
  problem?: string,
): string {
  const hidden = FORWARDED.filter((k) => params.has(k))
    .map((k) => `<input type="hidden" name="${k}" value="${htmlEscape(params.get(k) ?? '')}">`)
    .join('');
  const chosen = new Set(params.getAll('group'));
  const boxes = groups
    .map(
      (g) =>
        `<label class="check"><input type="checkbox" name="group" value="${htmlEscape(g)}"${chosen.has(g) ? ' checked' : ''}> ${htmlEscape(g)}</label>`,
    )
    .join('');
  return page(
    'Countersign dev login',
    `<h1>Countersign dev login</h1>
<p>Local mode only: choose who you are. On AWS your identity provider signs you in instead.</p>
${problem ? `<p role="alert" class="error">${htmlEscape(problem)}</p>` : ''}
<form method="post" action="/authorize">${hidden}
<label for="sub">Identity (the token's <code>sub</code>)</label>
<input id="sub" name="sub" autocomplete="username" required maxlength="256" value="${htmlEscape(params.get('sub') ?? '')}">
<fieldset><legend>Groups</legend>${boxes}</fieldset>
<button type="submit">Sign in</button>
</form>`,
    stylesheet,
  );
}
