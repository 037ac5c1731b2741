import type { ConsoleConfig } from './config.js';

/**
 * Sign-in with OIDC authorization code + PKCE (RFC 7636, S256) as a public client. Tokens live in
 * this module's memory only: never in localStorage, sessionStorage, cookies or a URL. A reload
 * signs out. Only the PKCE verifier, the state and the nonce wait in sessionStorage while the
 * browser is away at the issuer (they grant nothing without the code, and are removed on return).
 */

export interface Session {
  /** The ID token: what the console sends to the API as `Authorization: Bearer`. */
  readonly token: string;
  readonly sub: string;
  readonly groups: readonly string[];
  readonly expiresAt: number;
  readonly claims: Readonly<Record<string, unknown>>;
}

let session: Session | undefined;
const PENDING_KEY = 'countersign.signin';

export const currentSession = () => (session && session.expiresAt > Date.now() ? session : undefined);

export function signOut(): void {
  session = undefined;
}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const random = (n: number) => b64url(crypto.getRandomValues(new Uint8Array(n)));

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

export interface Endpoints {
  authorization: string;
  token: string;
}

/** The issuer's endpoints: from config.json when given (Cognito's live on another host), else discovery. */
export async function endpointsOf(config: ConsoleConfig): Promise<Endpoints> {
  if (config.authorizationEndpoint && config.tokenEndpoint) {
    return { authorization: config.authorizationEndpoint, token: config.tokenEndpoint };
  }
  const response = await fetch(`${config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error('The identity provider’s discovery document could not be read.');
  const doc = (await response.json()) as Record<string, unknown>;
  const authorization = config.authorizationEndpoint ?? doc.authorization_endpoint;
  const token = config.tokenEndpoint ?? doc.token_endpoint;
  if (typeof authorization !== 'string' || typeof token !== 'string') {
    throw new Error('The identity provider does not advertise an authorization and a token endpoint.');
  }
  const methods = doc.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    // Fail closed: an issuer that lists its PKCE methods without S256 would not bind the code to
    // this browser. (Some, such as Entra ID, support S256 without listing any method.)
    throw new Error('The identity provider does not support PKCE with S256.');
  }
  return { authorization, token };
}

export const redirectUri = () => new URL('callback', new URL('./', consoleBase())).toString();

/** The console's base URL (`…/console/`), whatever path the page is on. */
export function consoleBase(): string {
  const { origin, pathname } = window.location;
  const at = pathname.indexOf('/console/');
  return `${origin}${at >= 0 ? pathname.slice(0, at + '/console/'.length) : '/console/'}`;
}

export async function beginSignIn(config: ConsoleConfig, returnTo: string): Promise<void> {
  const endpoints = await endpointsOf(config);
  const verifier = random(48);
  const state = random(24);
  const nonce = random(24);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce, returnTo }));
  const url = new URL(endpoints.authorization);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('scope', config.scope);
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('code_challenge', await challengeOf(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  window.location.assign(url.toString());
}

/** Decodes a JWT's payload for display and routing only; the API verifies every token it receives. */
export function claimsOf(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/**
 * On `/console/callback?code=…&state=…`: checks the state, redeems the code with the verifier and
 * removes the code from the address bar. Returns where to go next.
 */
export async function completeSignIn(config: ConsoleConfig): Promise<string> {
  const params = new URLSearchParams(window.location.search);
  const pendingText = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  // The code leaves the address bar (and so the history) before anything else happens.
  window.history.replaceState(null, '', consoleBase());
  const pending = pendingText
    ? (JSON.parse(pendingText) as { verifier: string; state: string; nonce: string; returnTo: string })
    : undefined;
  if (!pending || params.get('state') !== pending.state) {
    throw new Error('The sign-in answer does not match a sign-in started here. Sign in again.');
  }
  const error = params.get('error');
  if (error) throw new Error(`The identity provider refused the sign-in (${error}).`);
  const code = params.get('code');
  if (!code) throw new Error('The identity provider sent no code. Sign in again.');
  const endpoints = await endpointsOf(config);
  const response = await fetch(endpoints.token, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri(),
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof body.id_token !== 'string') {
    throw new Error('The identity provider did not issue a token. Sign in again.');
  }
  const claims = claimsOf(body.id_token);
  if (claims.nonce !== pending.nonce)
    throw new Error('The token was not issued for this sign-in. Sign in again.');
  const rawGroups = claims[config.groupsClaim];
  const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : [];
  session = {
    token: body.id_token,
    sub: String(claims.sub ?? ''),
    groups,
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : Date.now() + 3600_000,
    claims,
  };
  return pending.returnTo || '#/';
}
