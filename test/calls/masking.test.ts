import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambdas/core/config.js';
import {
  DETECTORS,
  type Detector,
  detectInText,
  luhn,
  maskingRules,
  maskValue,
} from '../../lambdas/core/masking.js';

const all = maskingRules(undefined);

/** Every string and key in a value, at any depth. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'number') return [String(value)];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
  }
  return [];
}

// --- Secrets as they occur in the wild, built from parts (never key-shaped literals in the repo) ---

const upper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const lower = 'abcdefghijklmnopqrstuvwxyz';
const digits = '0123456789';
const chars = (alphabet: string, n: number) =>
  fc.array(fc.constantFrom(...alphabet.split('')), { minLength: n, maxLength: n }).map((a) => a.join(''));

const accessKeyId = fc
  .tuple(fc.constantFrom('AKIA', 'ASIA'), chars(upper + digits, 16))
  .map(([p, rest]) => p + rest);
const secretKey = fc
  .tuple(chars(upper, 1), chars(lower, 1), chars(digits, 1), chars(upper + lower + digits + '/+', 37))
  .map(([a, b, c, rest]) => a + b + c + rest);
const email = fc
  .tuple(chars(lower + digits + '._', 6), chars(lower, 5), fc.constantFrom('com', 'org', 'io', 'example'))
  .map(([local, domain, tld]) => `${lower[local.length]}${local}@${domain}.${tld}`);
/** A 16-digit number with a valid Luhn check digit, optionally grouped by spaces or dashes. */
const card = fc.tuple(chars(digits, 14), fc.constantFrom('', ' ', '-')).map(([rest, sep]) => {
  const body = `4${rest}`;
  const n = body + [...digits].find((d) => luhn(body + d))!;
  return sep ? n.match(/.{4}/g)!.join(sep) : n;
});
const b64url = upper + lower + digits + '-_';
const jwt = fc
  .tuple(chars(b64url, 20), chars(b64url, 30), chars(b64url, 43))
  .map(([h, p, s]) => `eyJ${h}.eyJ${p}.${s}`);
const pem = chars(upper + lower + digits + '/+', 64).map(
  (body) => `-----BEGIN RSA PRIVATE KEY-----\n${body}\n${body}\n-----END RSA PRIVATE KEY-----`,
);

const secrets: Record<Detector, fc.Arbitrary<string>> = {
  email,
  'credit-card': card,
  'aws-access-key': accessKeyId,
  'aws-secret-key': secretKey,
  jwt,
  'private-key': pem,
};
/** Text around a secret that no detector could merge with it. */
const filler = fc.string({ unit: fc.constantFrom(...' \n\t:;,"()[]{}<>|!#'.split('')), maxLength: 5 });
const words = fc.constantFrom('', 'note ', 'value: ', 'see ', 'x=', 'key = ');

/** A JSON value with `secret` planted somewhere: as a value or as a key, at any depth. */
function planted(secret: string) {
  return fc
    .tuple(
      fc.array(fc.constantFrom('a', 'Item', 'data', 'list', 'S'), { minLength: 0, maxLength: 5 }),
      fc.boolean(),
      fc.boolean(),
      filler,
      filler,
      words,
    )
    .map(([path, asKey, inArray, before, after, word]) => {
      const text = `${word}${before}${secret}${after}`;
      let value: unknown = asKey ? { [text]: 'v' } : text;
      if (inArray) value = ['other', value];
      for (const key of path.reverse()) value = { [key]: value, sibling: 'plain' };
      return value;
    });
}

describe('masking', () => {
  for (const detector of DETECTORS) {
    it(`never lets a planted ${detector} through, at any position or depth, as a value or a key`, () => {
      fc.assert(
        fc.property(
          secrets[detector].chain((secret) => planted(secret).map((value) => ({ secret, value }))),
          ({ secret, value }) => {
            const { value: out, masked } = maskValue(value, all);
            for (const text of strings(out)) expect(text.includes(secret)).toBe(false);
            expect(masked.length).toBeGreaterThan(0);
            for (const path of masked) expect(path.includes(secret)).toBe(false);
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  it('masks values under key-name globs in any case, whatever their shape, and names the paths', () => {
    const out = maskValue(
      {
        Item: {
          PassWord: { S: 'hunter2' },
          user_API_TOKEN: { L: [{ S: 'abc' }] },
          plain: { S: 'stays' },
        },
      },
      all,
    );
    expect(out.value).toEqual({
      Item: { PassWord: '[MASKED]', user_API_TOKEN: '[MASKED]', plain: { S: 'stays' } },
    });
    expect(out.masked).toEqual(['$.Item.PassWord', '$.Item.user_API_TOKEN']);
  });

  it('only masks Luhn-valid card numbers, so ordinary long numbers stay', () => {
    expect(detectInText('order 4111 1111 1111 1111 exp 2029', new Set(['credit-card']))).toBe(
      'order [MASKED:credit-card] exp 2029',
    );
    expect(detectInText('order 4111 1111 1111 1112', new Set(['credit-card']))).toBe(
      'order 4111 1111 1111 1112',
    );
    expect(detectInText('id 1700000000000', new Set(['credit-card']))).toBe('id 1700000000000');
  });

  it('leaves hex digests alone but masks a 40-character mixed secret', () => {
    const digest = 'a'.repeat(20) + '0123456789abcdef0123';
    expect(detectInText(`sha ${digest}`, new Set(['aws-secret-key']))).toBe(`sha ${digest}`);
  });

  it('masks a PEM key cut off before its END line, to the end of the text', () => {
    expect(detectInText('k: -----BEGIN PRIVATE KEY-----\nMIIabc', new Set(['private-key']))).toBe(
      'k: [MASKED:private-key]',
    );
  });

  it('scans large adversarial outputs in linear time', () => {
    // Linear, not merely fast: four times the input may take about four times as long, never the
    // sixteen times a quadratic pattern would. The best of three runs keeps a busy machine's noise out.
    const nasty = (n: number) => ['eyJ'.repeat(n), 'a@'.repeat(n), '1 '.repeat(n), 'A'.repeat(3 * n)];
    const best = (n: number) => {
      const inputs = nasty(n);
      let fastest = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const started = performance.now();
        for (const text of inputs) detectInText(text, all.detect);
        fastest = Math.min(fastest, performance.now() - started);
      }
      return fastest;
    };
    const small = best(10_000);
    const large = best(40_000);
    expect(large).toBeLessThan(Math.max(small, 5) * 8);
  });

  it('is configured with `masking` (fields and detectors), validated at start', () => {
    const base = {
      identity: { audience: 'countersign' },
      roles: { agents: ['a'], approvers: ['b'], auditors: ['c'] },
      slack: { channel: 'C0123456789', teamId: 'T0123456789', appId: 'A0123456789', users: {} },
      targets: [{ account: '111122223333', roleArn: 'arn:aws:iam::111122223333:role/t' }],
      rules: [{ name: 'r', effect: 'allow', mode: 'call' }],
      default: 'deny',
    };
    const config = parseConfig({ ...base, masking: [{ fields: ['*pin*'] }, { detect: ['email'] }] });
    const rules = maskingRules(config.masking);
    expect(maskValue({ PIN: '1234', e: 'x a@b.io' }, rules).value).toEqual({
      PIN: '[MASKED]',
      e: 'x [MASKED:email]',
    });
    expect(() => parseConfig({ ...base, masking: [{ detect: ['ssn'] }] })).toThrow(/masking\[0\]/);
  });
});
