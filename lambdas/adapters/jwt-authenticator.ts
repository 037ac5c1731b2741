import { SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { JwtVerifier } from 'aws-jwt-verify/jwt-verifier';
import type { CountersignConfig } from '../core/config.js';
import { UnauthorizedError } from '../core/errors.js';
import { normalizeIdentity } from '../core/identity.js';
import type { Caller, Role } from '../core/model.js';

export interface JwtSettings {
  issuer: string;
  audience: string | string[];
  jwksUri: string;
  groupsClaim: string;
  roles: CountersignConfig['roles'];
}

/** Tokens are short; anything longer than this is not a JWT we issued or accept. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * Fetches JWKS over plain HTTP, for the local stack's embedded issuer only: it refuses any host but
 * loopback, so it cannot be used to weaken a deployed verifier (which uses the HTTPS default).
 */
class LoopbackHttpFetcher {
  async fetch(uri: string): Promise<ArrayBuffer> {
    const url = new URL(uri);
    if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
      throw new Error(`refusing to fetch JWKS over http from ${url.host}`);
    }
    // Generous: the local front door serves the JWKS while it serves everything else, and under a
    // burst many fresh execution environments fetch it at once.
    // One retry: a fresh execution environment's first fetch may meet a front door under a burst.
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        if (response.status !== 200) throw new Error(`JWKS answered ${response.status}`);
        return await response.arrayBuffer();
      } catch (error) {
        console.error(
          JSON.stringify({ level: 'warn', message: 'JWKS fetch failed', attempt, error: String(error) }),
        );
        if (attempt >= 2) throw error;
      }
    }
  }
}

/**
 * Verifies the caller's OIDC JWT (aws-jwt-verify: signature with a key from the issuer's JWKS, RS*,
 * ES* or EdDSA only — `none` and HMAC are refused by the library — `iss`, `aud`, `exp`, `nbf`) and
 * maps its groups to Countersign roles. Unknown `kid`s refetch the JWKS at most once per 10 s
 * (the library's penalty box), so a flood of made-up kids cannot hammer the issuer.
 */
export class JwtAuthenticator {
  private readonly verifier;

  constructor(private readonly settings: JwtSettings) {
    const isLoopbackHttp = settings.jwksUri.startsWith('http://');
    const jwksCache = new SimpleJwksCache({
      fetcher: isLoopbackHttp ? new LoopbackHttpFetcher() : new SimpleFetcher(),
    });
    this.verifier = JwtVerifier.create(
      {
        issuer: settings.issuer,
        audience: settings.audience,
        jwksUri: settings.jwksUri,
        customJwtCheck: ({ payload }) => {
          // aws-jwt-verify checks exp only when present; a token without exp would never end.
          if (typeof payload.exp !== 'number') throw new Error('JWT has no exp claim');
          if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
            throw new Error('JWT has no usable sub claim');
          }
        },
      },
      { jwksCache },
    );
  }

  /** Verifies `Authorization: Bearer <jwt>`; every failure is the same 401 to the caller. */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization?.trim() ?? '');
    if (!match || match[1]!.length > MAX_TOKEN_LENGTH) {
      throw new UnauthorizedError('A bearer token is required (Authorization: Bearer <JWT>).');
    }
    let payload: Record<string, unknown>;
    try {
      payload = (await this.verifier.verify(match[1]!)) as Record<string, unknown>;
    } catch (error) {
      throw new UnauthorizedError('The bearer token is not valid.', { cause: error });
    }
    const groups = groupsOf(payload[this.settings.groupsClaim]);
    // The edge where requester and API-approver identities enter: from here on, one form only.
    const sub = normalizeIdentity(payload.sub as string);
    if (sub === '') throw new UnauthorizedError('The bearer token is not valid.');
    return {
      sub,
      issuer: payload.iss as string,
      groups,
      roles: rolesFor(groups, this.settings.roles),
    };
  }
}

function groupsOf(claim: unknown): string[] {
  if (typeof claim === 'string') return claim.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(claim)) return claim.filter((g): g is string => typeof g === 'string');
  return [];
}

export function rolesFor(groups: readonly string[], roles: CountersignConfig['roles']): Set<Role> {
  const out = new Set<Role>();
  if (groups.some((g) => roles.agents.includes(g))) out.add('agent');
  if (groups.some((g) => roles.approvers.includes(g))) out.add('approver');
  if (groups.some((g) => roles.auditors.includes(g))) out.add('auditor');
  return out;
}
