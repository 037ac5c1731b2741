import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacMac } from '../../lambdas/adapters/hmac-mac.js';
import { historyMacInput, sealHistory } from '../../lambdas/core/history.js';

describe('HmacMac', () => {
  it('verifies its own MACs and refuses another key’s, a changed message and garbage', async () => {
    const mac = new HmacMac(randomBytes(32));
    const other = new HmacMac(randomBytes(32));
    const signed = await mac.sign('countersign:test|a');

    expect(await mac.verify('countersign:test|a', signed)).toBe(true);
    expect(await other.verify('countersign:test|a', signed)).toBe(false);
    expect(await mac.verify('countersign:test|b', signed)).toBe(false);
    expect(await mac.verify('countersign:test|a', 'not base64 at all')).toBe(false);
    expect(await mac.verify('countersign:test|a', '')).toBe(false);
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => new HmacMac(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('sealHistory', () => {
  it('links each entry to its request and predecessor, so entries cannot move between requests', async () => {
    const mac = new HmacMac(randomBytes(32));
    const entries = [
      { seq: 1, at: '2025-01-01T00:00:00.000Z', event: 'created:PENDING', state: 'a', hash: 'x' },
      { seq: 2, at: '2025-01-01T00:01:00.000Z', event: 'approved', state: 'b', hash: 'y' },
    ];
    // As the store writes them: each state change seals the entry it appends.
    const first = await sealHistory('req_aaaaaaaaaaaaaaaaaaaa', [entries[0]!], mac);
    const sealed = await sealHistory('req_aaaaaaaaaaaaaaaaaaaa', [...first, entries[1]!], mac);

    expect(
      await mac.verify(historyMacInput('req_aaaaaaaaaaaaaaaaaaaa', '', sealed[0]!), sealed[0]!.mac!),
    ).toBe(true);
    expect(
      await mac.verify(
        historyMacInput('req_aaaaaaaaaaaaaaaaaaaa', sealed[0]!.mac!, sealed[1]!),
        sealed[1]!.mac!,
      ),
    ).toBe(true);
    expect(
      await mac.verify(historyMacInput('req_bbbbbbbbbbbbbbbbbbbb', '', sealed[0]!), sealed[0]!.mac!),
    ).toBe(false);
    // Already sealed entries keep their MAC.
    expect(await sealHistory('req_aaaaaaaaaaaaaaaaaaaa', sealed, mac)).toEqual(sealed);
  });

  it('never signs an entry slipped in before a sealed one, nor the old entries of an unkeyed history', async () => {
    const mac = new HmacMac(randomBytes(32));
    const entry = (seq: number, extra: Record<string, string> = {}) => ({
      seq,
      at: '2025-01-01T00:00:00.000Z',
      event: `e${seq}`,
      state: 's',
      hash: 'h',
      ...extra,
    });
    const slipped = await sealHistory(
      'req_aaaaaaaaaaaaaaaaaaaa',
      [entry(1), entry(2, { mac: 'x' }), entry(3)],
      mac,
    );
    expect(slipped.map((e) => e.mac !== undefined)).toEqual([false, true, true]);
    const legacy = await sealHistory('req_aaaaaaaaaaaaaaaaaaaa', [entry(1), entry(2), entry(3)], mac);
    expect(legacy.map((e) => e.mac !== undefined)).toEqual([false, false, true]);
  });
});
