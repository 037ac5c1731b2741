import { describe, expect, it } from 'vitest';
import { HmacMac } from '../../lambdas/adapters/hmac-mac.js';
import { KeyedItemsCheck, MAX_KEYED_CHECKS } from '../../lambdas/core/evidence-tally.js';
import { eventMacInput } from '../../lambdas/core/history.js';
import type { LinkedEvent } from '../../lambdas/core/model.js';

const event = (i: number): LinkedEvent => ({
  requestId: 'req_AAAAAAAAAAAAAAAAAAAA',
  eventId: `event-${i}`,
  eventTime: new Date(Date.parse('2025-03-10T09:05:00Z') + i * 1000).toISOString(),
  eventName: 'PutItem',
  eventSource: 'dynamodb.amazonaws.com',
  resources: [],
  linkedBy: 'accessKeyId',
  minted: true,
  errorCode: 'AccessDenied',
});

describe('KeyedItemsCheck', () => {
  it('checks at most its bound of items against the key; past it the verdict is unproven, and the count still covers all', async () => {
    // Prepare: five validly signed events, a bound of three
    const key = new HmacMac(Buffer.alloc(32, 4));
    let verifies = 0;
    const counting = {
      sign: (data: string) => key.sign(data),
      verify: (data: string, mac: string) => {
        verifies += 1;
        return key.verify(data, mac);
      },
    };
    const events = await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) => {
        const e = event(i);
        return { ...e, mac: await key.sign(eventMacInput(e)) };
      }),
    );
    const check = new KeyedItemsCheck(counting, 3);

    // Act
    for (const e of events) await check.event(e);
    const verdict = await check.verdict();

    // Assess
    expect(verifies).toBe(3);
    expect(verdict.problem).toMatch(/more than 3 sessions and events: only the first 3 were checked/);
    expect(verdict.summed).toEqual({ calls: 5, denied: 5, unlinked: 0 });
    expect(MAX_KEYED_CHECKS).toBeGreaterThanOrEqual(1_000);
  });

  it('gives a clean verdict when every item within the bound verifies', async () => {
    const key = new HmacMac(Buffer.alloc(32, 4));
    const check = new KeyedItemsCheck(key, 3);
    for (const i of [0, 1, 2]) {
      const e = event(i);
      await check.event({ ...e, mac: await key.sign(eventMacInput(e)) });
    }
    expect((await check.verdict()).problem).toBeUndefined();
  });
});
