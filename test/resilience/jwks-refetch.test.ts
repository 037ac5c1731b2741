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
  // One after another: the limit is per execution environment (each Lambda process has its own
  // verifier, as each Lambda instance does), and sequential calls keep to the one warm process.
  const flood = async (prefix: string, count: number) => {
    const answers = [];
    for (let i = 0; i < count; i++) {
      answers.push(
        await stack.request(forge(`${prefix}-${i}`), {
          resource: TABLE('orders'),
          actions: ['dynamodb:GetItem'],
        }),
      );
    }
    return answers;
  };

  it('one fetch per pause window, however many unknown kids arrive', async () => {
    await stack.request(await stack.agentToken('warm-bot'), {
      resource: TABLE('orders'),
      actions: ['dynamodb:GetItem'],
    });
    const warm = stack.stack.jwksFetches();
    expect(warm).toBe(1);

    // Window 1: a burst, then a trickle over about 5 s — one fetch.
    const first = await flood('w1', 20);
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await flood(`w1-${i}`, 5);
    }
    expect(first.every((a) => a.status === 401)).toBe(true);
    expect(stack.stack.jwksFetches()).toBe(warm + 1);

    // After the pause (10 s from the failed lookup), an unknown kid is looked up again — once.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const second = await flood('w2', 20);
    expect(second.every((a) => a.status === 401)).toBe(true);
    expect(stack.stack.jwksFetches()).toBe(warm + 2);
  }, 60_000);
});
