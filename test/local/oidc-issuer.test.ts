import { generateKeyPairSync, verify as verifySignature } from 'node:crypto';
import { JwtVerifier } from 'aws-jwt-verify';
import {
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtParseError,
  KidNotFoundInJwksError,
} from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, listenLocal, requestPath, sendJson } from '../../lib/local/http-server.js';
import { createLocalIssuer, type LocalIssuer, signJwt } from '../../lib/local/oidc-issuer.js';
import { failure } from './helpers.js';

const AUDIENCE = 'countersign';

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

describe('embedded OIDC issuer, checked by the real aws-jwt-verify over HTTP', () => {
  let issuer: LocalIssuer;
  let server: LocalServer;
  let verifier: ReturnType<typeof JwtVerifier.create<{ issuer: string; audience: string; jwksUri: string }>>;

  beforeAll(async () => {
    // The issuer's URL is the server's URL, so the server starts first and asks the issuer lazily.
    server = await listenLocal((req, res) => {
      const path = requestPath(req);
      if (path === '/.well-known/jwks.json') return sendJson(res, 200, issuer.jwks());
      if (path === '/.well-known/openid-configuration')
        return sendJson(res, 200, issuer.openidConfiguration());
      sendJson(res, 404, {});
    });
    issuer = createLocalIssuer({ issuer: server.url, audience: AUDIENCE });
    verifier = newVerifier();
  });

  afterAll(async () => {
    await server.close();
  });

  /** A verifier with its own JWKS cache (an unknown kid puts a cache in a 10 s penalty box). */
  function newVerifier() {
    // aws-jwt-verify's own fetcher insists on https; the local issuer is http on 127.0.0.1.
    const loopbackFetcher = { fetch: async (uri: string) => (await fetch(uri)).arrayBuffer() };
    return JwtVerifier.create(
      { issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri },
      { jwksCache: new SimpleJwksCache({ fetcher: loopbackFetcher }) },
    );
  }

  const now = () => Math.floor(Date.now() / 1000);
  const goodHeader = () => ({ alg: 'RS256', typ: 'JWT', kid: issuer.kid });
  const goodPayload = () => ({
    iss: issuer.issuer,
    aud: AUDIENCE,
    sub: 'deploy-bot',
    iat: now(),
    exp: now() + 300,
  });

  it('signs tokens that verify, with iss, aud, sub, iat, exp (1 h) and the groups claim', async () => {
    // Act
    const token = issuer.sign({ sub: 'deploy-bot', groups: ['agents'], model: 'm-1' });
    const payload = await verifier.verify(token);

    // Assess
    expect(payload).toMatchObject({
      iss: server.url,
      aud: AUDIENCE,
      sub: 'deploy-bot',
      groups: ['agents'],
      model: 'm-1',
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(3600);
    expect(decode(token).header).toEqual({ alg: 'RS256', typ: 'JWT', kid: issuer.kid });
    expect(token).not.toMatch(/[=+/]/); // base64url, no padding
  });

  it('serves a JWKS and a discovery document that point at each other', async () => {
    // Act
    const discovery = (await (
      await fetch(`${server.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    const jwks = (await (await fetch(discovery.jwks_uri as string)).json()) as {
      keys: Array<Record<string, unknown>>;
    };

    // Assess
    expect(discovery).toMatchObject({ issuer: server.url, id_token_signing_alg_values_supported: ['RS256'] });
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: issuer.kid, e: 'AQAB' });
    expect(jwks.keys[0]).not.toHaveProperty('d'); // never the private part
  });

  it('signJwt with the right key and claims verifies, so each forgery below fails for its one defect', async () => {
    // Act
    const control = signJwt(goodHeader(), goodPayload(), issuer.privateKey);
    const [h, p, s] = control.split('.') as [string, string, string];

    // Assess
    await expect(verifier.verify(control)).resolves.toMatchObject({ sub: 'deploy-bot' });
    expect(
      verifySignature('sha256', Buffer.from(`${h}.${p}`), issuer.publicKey, Buffer.from(s, 'base64url')),
    ).toBe(true);
  });

  it('produces the forgeries a verifier must refuse (and one the library alone lets through)', async () => {
    // Prepare
    const publicPem = issuer.publicKey.export({ type: 'spki', format: 'pem' });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const { exp: _exp, ...noExp } = goodPayload();

    // Act
    const none = await failure(
      verifier.verify(signJwt({ alg: 'none', typ: 'JWT', kid: issuer.kid }, goodPayload(), null)),
    );
    const hsWithPublicKey = await failure(
      verifier.verify(signJwt({ alg: 'HS256', typ: 'JWT', kid: issuer.kid }, goodPayload(), publicPem)),
    );
    const unknownKid = await failure(
      newVerifier().verify(signJwt({ ...goodHeader(), kid: 'not-a-kid' }, goodPayload(), issuer.privateKey)),
    );
    const otherKey = await failure(verifier.verify(signJwt(goodHeader(), goodPayload(), stranger)));
    const withoutExp = await verifier.verify(signJwt(goodHeader(), noExp, issuer.privateKey));
    const expired = await failure(verifier.verify(issuer.sign({ sub: 'deploy-bot', expiresInSeconds: -60 })));
    const wrongAud = await failure(
      verifier.verify(signJwt(goodHeader(), { ...goodPayload(), aud: 'someone-else' }, issuer.privateKey)),
    );
    const wrongIss = await failure(
      verifier.verify(
        signJwt(goodHeader(), { ...goodPayload(), iss: 'https://evil.example' }, issuer.privateKey),
      ),
    );

    // Assess
    expect(none).toBeInstanceOf(JwtParseError); // `header.payload.` with no signature at all
    expect(hsWithPublicKey).toBeInstanceOf(JwtInvalidSignatureAlgorithmError);
    expect(unknownKid).toBeInstanceOf(KidNotFoundInJwksError);
    expect(otherKey).toBeInstanceOf(JwtInvalidSignatureError);
    // aws-jwt-verify checks exp only when present: the authenticator must refuse a missing exp itself.
    expect(withoutExp.exp).toBeUndefined();
    expect(expired).toBeInstanceOf(JwtExpiredError);
    expect(wrongAud).toBeInstanceOf(JwtInvalidAudienceError);
    expect(wrongIss).toBeInstanceOf(JwtInvalidIssuerError);
  });

  it('signs ES256 and EdDSA in the JOSE form (raw signature bytes)', () => {
    // Prepare
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');

    // Act
    const es = signJwt({ alg: 'ES256' }, { sub: 'x' }, ec.privateKey).split('.') as [string, string, string];
    const eddsa = signJwt({ alg: 'EdDSA' }, { sub: 'x' }, ed.privateKey).split('.') as [
      string,
      string,
      string,
    ];

    // Assess
    expect(Buffer.from(es[2], 'base64url')).toHaveLength(64);
    expect(
      verifySignature(
        'sha256',
        Buffer.from(`${es[0]}.${es[1]}`),
        { key: ec.publicKey, dsaEncoding: 'ieee-p1363' },
        Buffer.from(es[2], 'base64url'),
      ),
    ).toBe(true);
    expect(
      verifySignature(
        null,
        Buffer.from(`${eddsa[0]}.${eddsa[1]}`),
        ed.publicKey,
        Buffer.from(eddsa[2], 'base64url'),
      ),
    ).toBe(true);
  });

  it('uses a fresh key and kid at every start, so tokens from an earlier run do not verify', async () => {
    // Prepare
    const other = createLocalIssuer({ issuer: server.url, audience: AUDIENCE });

    // Act
    const fromOtherRun = await failure(newVerifier().verify(other.sign({ sub: 'deploy-bot' })));

    // Assess
    expect(other.kid).not.toBe(issuer.kid);
    expect(fromOtherRun).toBeInstanceOf(KidNotFoundInJwksError);
  });
});
