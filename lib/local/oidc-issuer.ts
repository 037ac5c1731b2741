import {
  constants,
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign as signData,
} from 'node:crypto';

/**
 * The embedded OIDC issuer of the local assembly (DESIGN.md §2): it plays Cognito/Okta/GitHub
 * Actions, so the real JWT verifier runs unchanged against a real JWKS and real RS256 signatures.
 * The key is given (kept in the data directory by the local stack) or new; its `kid` is its fingerprint.
 * The console's sign-in flow in front of it is oidc-authorization-server.ts.
 */

export interface LocalIssuerOptions {
  /** `iss` of every token, e.g. `http://127.0.0.1:8787`; the JWKS lives at `<issuer>/.well-known/jwks.json`. */
  readonly issuer: string;
  readonly audience: string;
  /** @default 'groups' (DESIGN.md §3 `identity.groupsClaim`) */
  readonly groupsClaim?: string;
  /** @default `<issuer>/.well-known/jwks.json` — where aws-jwt-verify looks by default */
  readonly jwksUri?: string;
  /** The signing key (RSA), e.g. one kept in the data directory. @default a new key */
  readonly privateKey?: KeyObject;
}

export interface LocalTokenClaims {
  readonly sub: string;
  readonly groups?: readonly string[];
  /** Lifetime; negative values make an already-expired token. @default 3600 */
  readonly expiresInSeconds?: number;
  /** Extra claims; they cannot override iss, aud, sub, iat, exp or jti. */
  readonly [claim: string]: unknown;
}

export interface PublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  alg: 'RS256';
  use: 'sig';
}

export interface LocalIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly kid: string;
  readonly jwksUri: string;
  /** For tests that forge tokens with `signJwt` (right key, wrong claims or header). */
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  jwks(): { keys: PublicJwk[] };
  openidConfiguration(): Record<string, unknown>;
  /** Signs a token for the issuer's audience, or for `audience` (an ID token's is the client id). */
  sign(claims: LocalTokenClaims, audience?: string): string;
}

export function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/**
 * Signs a compact JWS exactly as the header says, without judging it: tests use it to forge tokens
 * the verifier must refuse (`alg: none`, HS256 keyed with the public key, no `exp`, unknown `kid`).
 * `key` is a private KeyObject for RS/PS/ES/EdDSA, a secret (string, Buffer or secret KeyObject) for
 * HS*, and ignored for `none`.
 */
export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject | string | Buffer | null,
): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const alg = String(header.alg);
  const hashOf = (bits: string) => `sha${bits}`;
  let signature: Buffer;
  const match = /^(RS|PS|ES|HS)(256|384|512)$/.exec(alg);
  if (alg === 'none') {
    signature = Buffer.alloc(0);
  } else if (alg === 'EdDSA') {
    signature = signData(null, Buffer.from(signingInput), requireKey(key, alg) as KeyObject);
  } else if (match) {
    const [, family, bits] = match as unknown as [string, string, string];
    const k = requireKey(key, alg);
    if (family === 'HS') {
      signature = createHmac(hashOf(bits), k as KeyObject | string | Buffer)
        .update(signingInput)
        .digest();
    } else if (family === 'RS') {
      signature = signData(hashOf(bits), Buffer.from(signingInput), k as KeyObject);
    } else if (family === 'PS') {
      signature = signData(hashOf(bits), Buffer.from(signingInput), {
        key: k as KeyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(bits) / 8,
      });
    } else {
      // JWS wants the raw r||s form, not DER (RFC 7518 §3.4).
      signature = signData(hashOf(bits), Buffer.from(signingInput), {
        key: k as KeyObject,
        dsaEncoding: 'ieee-p1363',
      });
    }
  } else {
    throw new Error(`signJwt: unsupported alg ${alg}`);
  }
  return `${signingInput}.${base64url(signature)}`;
}

function requireKey(key: KeyObject | string | Buffer | null, alg: string): KeyObject | string | Buffer {
  if (key === null) throw new Error(`signJwt: alg ${alg} needs a key`);
  return key;
}

export function createLocalIssuer(options: LocalIssuerOptions): LocalIssuer {
  if (!options.issuer) throw new Error('createLocalIssuer: issuer is required');
  if (!options.audience) throw new Error('createLocalIssuer: audience is required');
  const issuer = options.issuer.replace(/\/+$/, '');
  const groupsClaim = options.groupsClaim ?? 'groups';
  const jwksUri = options.jwksUri ?? `${issuer}/.well-known/jwks.json`;
  const privateKey = options.privateKey ?? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const publicKey = createPublicKey(privateKey);
  // The key id is the key's own fingerprint, so a key kept across restarts keeps its kid.
  const kid = base64url(
    createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest(),
  ).slice(0, 16);
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const publicJwk: PublicJwk = { kty: 'RSA', n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' };

  return {
    issuer,
    audience: options.audience,
    kid,
    jwksUri,
    privateKey,
    publicKey,
    jwks: () => ({ keys: [{ ...publicJwk }] }),
    openidConfiguration: () => ({
      issuer,
      jwks_uri: jwksUri,
      // The dev login (createAuthorizationServer), served by the front door beside the JWKS.
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      scopes_supported: ['openid'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', groupsClaim],
    }),
    sign(claims, audience) {
      const { sub, groups, expiresInSeconds = 3600, ...extra } = claims;
      if (typeof sub !== 'string' || sub.length === 0) throw new Error('sign: sub is required');
      const iat = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        ...extra,
        jti: base64url(randomBytes(12)),
        iss: issuer,
        aud: audience ?? options.audience,
        sub,
        iat,
        exp: iat + expiresInSeconds,
      };
      if (groups !== undefined) payload[groupsClaim] = [...groups];
      return signJwt({ alg: 'RS256', typ: 'JWT', kid }, payload, privateKey);
    },
  };
}

/** `sub` as the dev login and `POST /local/token` accept it. */
export const LOCAL_SUB = /^[\w.@+=,:-]{1,256}$/;
