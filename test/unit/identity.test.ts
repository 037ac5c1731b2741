import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../lambdas/core/config.js';
import { ConfigError } from '../../lambdas/core/errors.js';
import {
  claimedIdentityProblem,
  couldBeSamePerson,
  mixesScripts,
  normalizeIdentity,
  sameIdentity,
} from '../../lambdas/core/identity.js';
import { TEST_CONFIG_PATH } from '../support/local-stack.js';

describe('normalizeIdentity', () => {
  it.each([
    ['Alice@Example.com', 'alice@example.com'],
    ['  alice@example.com\t', 'alice@example.com'],
    ['\uff21\uff4c\uff49\uff43\uff45@example.com', 'alice@example.com'], // full-width
    ['ali\u200bce@example.com', 'alice@example.com'], // zero-width space
    ['\u212aarl@example.com', 'karl@example.com'], // KELVIN SIGN
    ['STRASSE', 'strasse'],
    ['Stra\u00dfe', 'strasse'], // ß folds to ss (toLowerCase keeps ß)
    ['STRA\u1e9eE', 'strasse'], // ẞ capital sharp s
    ['\u039f\u0394\u039f\u03a3', '\u03bf\u03b4\u03bf\u03c3'], // ΟΔΟΣ: final sigma folds to σ
    ['\u03bf\u03b4\u03bf\u03c2', '\u03bf\u03b4\u03bf\u03c3'], // οδος with final ς
  ])('%j → %j', (given, normal) => {
    expect(normalizeIdentity(given)).toBe(normal);
  });

  it('folds Cherokee upper and lower case to one form', () => {
    expect(normalizeIdentity('\u13a0\u13a1')).toBe(normalizeIdentity('\uab70\uab71'));
  });

  it('does not merge dotless ı with i: they are different names', () => {
    expect(sameIdentity('al\u0131ce@example.com', 'alice@example.com')).toBe(false);
  });

  it('is idempotent and the same for every spelling in any case', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        const normal = normalizeIdentity(text);
        expect(normalizeIdentity(normal)).toBe(normal);
        // Dotless ı (also what 𝚤 becomes under NFKC) is kept apart from i, but upper-cases to I.
        if (!normal.includes('\u0131')) {
          expect(normalizeIdentity(text.toUpperCase())).toBe(normalizeIdentity(normal.toUpperCase()));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('couldBeSamePerson (refusals only)', () => {
  it.each([
    ['al\u0131ce@example.com', true], // dotless ı
    ['alic\u00e9@example.com', true], // é
    ['\u0430lice@example.com', true], // Cyrillic а
    ['ALICE@example.com', true],
    ['alicia@example.com', false],
    ['bob@example.com', false],
  ])('%j could be alice@example.com: %s', (other, same) => {
    expect(couldBeSamePerson(other, 'alice@example.com')).toBe(same);
  });
});

describe('claimed identities (onBehalfOf)', () => {
  it.each([
    ['alice@example.com', false],
    ['\u5c71\u7530\u305f\u308d\u3046@example.jp', false], // Han + Hiragana + Latin: one Japanese name
    ['\u0430lice@example.com', true], // Cyrillic а in a Latin name
    ['\u03bfscar@example.com', true], // Greek ο in a Latin name
  ])('%j mixes scripts: %s', (identity, mixed) => {
    expect(mixesScripts(identity)).toBe(mixed);
  });

  it('accepts only the normal form, in one script', () => {
    expect(claimedIdentityProblem('alice@example.com')).toBeUndefined();
    expect(claimedIdentityProblem('Alice@example.com')).toMatch(/normal form/);
    expect(claimedIdentityProblem('alice@example.com ')).toMatch(/normal form/);
    expect(claimedIdentityProblem('\u0430lice@example.com')).toMatch(/mixes scripts/);
    expect(claimedIdentityProblem(' ')).toMatch(/empty/);
  });
});

describe('identities in the configuration', () => {
  interface RawConfig {
    slack: { users: Record<string, string> };
    rules: Array<{ approvers?: string[]; quorum?: number }>;
  }
  const fixture = () => parse(readFileSync(TEST_CONFIG_PATH, 'utf8')) as RawConfig;
  const refusal = (raw: unknown) => {
    try {
      parseConfig(raw);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('the configuration was accepted');
  };

  it('stores slack.users values and rule approvers in normal form', () => {
    const raw = fixture();
    raw.slack.users.U0ALICE = ' Alice@Example.COM';
    raw.rules[2]!.approvers = ['ALICE@example.com', 'Bob@Example.com', 'carol@example.com'];
    const config = parseConfig(raw);
    expect(config.slack.users.U0ALICE).toBe('alice@example.com');
    expect(config.rules[2]!.approvers).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);
  });

  it('refuses one approver written twice, naming the rule', () => {
    const raw = fixture();
    raw.rules[2]!.approvers = ['alice@example.com', 'Alice@Example.com', 'bob@example.com'];
    const error = refusal(raw);
    expect(error.key).toBe('rules[payments-two-keys].approvers[1]');
    expect(error.message).toContain('payments-two-keys');
  });

  it('refuses a quorum no set of distinct approvers can reach', () => {
    const raw = fixture();
    raw.rules[2]!.approvers = ['alice@example.com', 'bob@example.com'];
    raw.rules[2]!.quorum = 3;
    const error = refusal(raw);
    expect(error.key).toBe('rules[payments-two-keys].quorum');
    expect(error.message).toContain('payments-two-keys');
  });

  it('refuses a blank identity', () => {
    const raw = fixture();
    raw.slack.users.U0ALICE = '\u200b ';
    expect(refusal(raw).key).toBe('slack.users.U0ALICE');
  });
});
