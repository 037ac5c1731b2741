import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../lib/local/oidc-issuer.js';
import { TABLE, TestStack } from '../support/local-stack.js';

/**
 * The other half of the JWKS refetch limit (the flood half is in test/security/identity.test.ts):
 * the limit is a pause of about 10 s, not a ban, so after it a new `kid` — a key the issuer rotated
 * in — is looked up again, once. Lives here because proving it means waiting the pause out.
 */
describe('JWKS refetch: at most once per ~10 s, and again after the pause', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await TestStack.start();
  }, 60_000);
  afterAll(() => stack?.stop());

  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const forge = (kid: string) => {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      { alg: 'RS256', typ: 'JWT', kid },
      {
        iss: stack.stack.issuer.issuer,
        aud: stack.stack.issuer.audience,
        sub: 'kid-bot',
        groups: ['agents'],
        iat: now,
        exp: now + 600,
      },
      attacker,
    );
  };
  const flood = (prefix: string, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        stack.request(forge(`${prefix}-${i}`), { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] }),
      ),
    );

  it('one fetch per pause window, however many unknown kids arrive', async () => {
    await stack.request(await stack.agentToken('warm-bot'), {
      resource: TABLE('orders'),
      actions: ['dynamodb:GetItem'],
    });
    const warm = stack.stack.jwksFetches();
    expect(warm).toBe(1);

    // Window 1: a burst, then a trickle over 8 s — one fetch.
    const first = await flood('w1', 50);
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await flood(`w1-${i}`, 10);
    }
    expect(first.every((a) => a.status === 401)).toBe(true);
    expect(stack.stack.jwksFetches()).toBe(warm + 1);

    // After the pause (10 s from the failed lookup), an unknown kid is looked up again — once.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const second = await flood('w2', 50);
    expect(second.every((a) => a.status === 401)).toBe(true);
    expect(stack.stack.jwksFetches()).toBe(warm + 2);
  }, 60_000);
});
