import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../../lambdas/core/errors.js';
import {
  signSlackRequest,
  slackSignatureHeaders,
  verifySlackSignature,
} from '../../lambdas/core/slack-signature.js';
import { blockActionsPayload, encodeInteractionBody, signedInteraction } from '../support/slack.js';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = new Date('2024-05-01T12:00:00Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);

function verify(
  over: Partial<Parameters<typeof verifySlackSignature>[0]> & { rawBody: string | Uint8Array },
) {
  return () =>
    verifySlackSignature({
      signingSecret: SECRET,
      timestamp: String(NOW_S),
      signature: signSlackRequest(SECRET, NOW_S, over.rawBody),
      now: NOW,
      ...over,
    });
}

function expectRefused(fn: () => void, reason: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UnauthorizedError);
  expect((caught as UnauthorizedError).status).toBe(401);
  expect((caught as Error).message).toMatch(reason);
  expect((caught as Error).message).not.toContain(SECRET);
}

describe('signSlackRequest', () => {
  it('matches the v0 scheme computed independently', () => {
    // Prepare
    const body = 'payload=%7B%7D';
    const expected = createHmac('sha256', SECRET).update(`v0:${NOW_S}:${body}`).digest('hex');
    // Act
    const signature = signSlackRequest(SECRET, NOW_S, body);
    // Assess
    expect(signature).toBe(`v0=${expected}`);
  });
});

describe('verifySlackSignature', () => {
  const body = encodeInteractionBody(blockActionsPayload({ requestId: 'req_abcdefghij0123456789' }));

  it('accepts a correctly signed request', () => {
    expect(verify({ rawBody: body })).not.toThrow();
  });

  it('accepts a request signed by the test helper, headers read case-insensitively', () => {
    // Prepare
    const signed = signedInteraction({ secret: SECRET, now: NOW, requestId: 'req_abcdefghij0123456789' });
    const headers = {
      'X-Slack-Request-Timestamp': signed.headers['x-slack-request-timestamp'],
      'X-Slack-Signature': signed.headers['x-slack-signature'],
    };
    // Act
    const { timestamp, signature } = slackSignatureHeaders(headers);
    // Assess
    expect(() =>
      verifySlackSignature({ signingSecret: SECRET, timestamp, signature, rawBody: signed.body, now: NOW }),
    ).not.toThrow();
  });

  it('accepts uppercase hex (the same bytes)', () => {
    const signature = signSlackRequest(SECRET, NOW_S, body).replace(/^v0=/, '').toUpperCase();
    expect(verify({ rawBody: body, signature: `v0=${signature}` })).not.toThrow();
  });

  it('refuses a signature made with another secret', () => {
    expectRefused(
      verify({ rawBody: body, signature: signSlackRequest('another-secret-entirely', NOW_S, body) }),
      /mismatch/,
    );
  });

  it('refuses a body changed after signing', () => {
    const forged = body.replace('approve', 'deny');
    expect(forged).not.toBe(body);
    expectRefused(verify({ rawBody: forged, signature: signSlackRequest(SECRET, NOW_S, body) }), /mismatch/);
  });

  it('refuses a signature for another timestamp', () => {
    expectRefused(
      verify({
        rawBody: body,
        timestamp: String(NOW_S - 1),
        signature: signSlackRequest(SECRET, NOW_S, body),
      }),
      /mismatch/,
    );
  });

  it('accepts the edges of the window and refuses one second beyond, in both directions', () => {
    for (const offset of [-300, 300]) {
      const ts = NOW_S + offset;
      expect(
        verify({ rawBody: body, timestamp: String(ts), signature: signSlackRequest(SECRET, ts, body) }),
      ).not.toThrow();
    }
    for (const offset of [-301, 301, -86_400, 86_400]) {
      const ts = NOW_S + offset;
      expectRefused(
        verify({ rawBody: body, timestamp: String(ts), signature: signSlackRequest(SECRET, ts, body) }),
        /window/,
      );
    }
  });

  it('honours a custom tolerance', () => {
    const ts = NOW_S - 60;
    expectRefused(
      verify({
        rawBody: body,
        timestamp: String(ts),
        signature: signSlackRequest(SECRET, ts, body),
        toleranceSeconds: 30,
      }),
      /window/,
    );
  });

  it.each([
    ['v1 scheme', (s: string) => s.replace(/^v0=/, 'v1=')],
    ['no scheme', (s: string) => s.replace(/^v0=/, '')],
    ['one hex digit short', (s: string) => s.slice(0, -1)],
    ['one hex digit long', (s: string) => `${s}0`],
    ['non-hex', (s: string) => `${s.slice(0, -1)}g`],
    ['trailing space', (s: string) => `${s} `],
    ['two signatures', (s: string) => `${s},${s}`],
  ])('refuses a malformed signature: %s', (_name, mutate) => {
    expectRefused(
      verify({ rawBody: body, signature: mutate(signSlackRequest(SECRET, NOW_S, body)) }),
      /malformed/,
    );
  });

  it.each([
    ['decimal', `${NOW_S}.0`],
    ['negative', `-${NOW_S}`],
    ['exponent', '1.7e9'],
    ['hex', '0x6632a0c0'],
    ['padded', ` ${NOW_S}`],
    ['words', 'now'],
  ])('refuses a timestamp that is not an integer: %s', (_name, timestamp) => {
    expectRefused(
      verify({ rawBody: body, timestamp, signature: signSlackRequest(SECRET, timestamp, body) }),
      /timestamp/,
    );
  });

  it('refuses missing headers', () => {
    expectRefused(verify({ rawBody: body, signature: undefined }), /missing/);
    expectRefused(verify({ rawBody: body, timestamp: undefined }), /missing/);
    expectRefused(verify({ rawBody: body, signature: '' }), /missing/);
  });

  it('treats a header sent twice with different values as absent', () => {
    const { signature } = slackSignatureHeaders({
      'x-slack-signature': 'v0=aa',
      'X-Slack-Signature': 'v0=bb',
    });
    expect(signature).toBeUndefined();
  });

  it('fails closed, as a server fault, when no signing secret is configured', () => {
    const fn = verify({ rawBody: body, signingSecret: '' });
    expect(fn).toThrow(/not configured/);
    expect(fn).not.toThrow(UnauthorizedError);
  });

  it('refuses a body re-encoded after signing (same payload, different bytes)', () => {
    // Prepare: what a framework that parses and re-serialises the form would hand over.
    const payload = new URLSearchParams(body).get('payload') ?? '';
    const percentEncoded = `payload=${encodeURIComponent(payload)}`; // spaces as %20, not +
    const reserialised = encodeInteractionBody(JSON.parse(payload));
    const decoded = `payload=${payload}`;
    // Assess: the payload is identical, only its encoding differs; the signature covers bytes.
    expect(percentEncoded).not.toBe(body);
    expect(decoded).not.toBe(body);
    const signature = signSlackRequest(SECRET, NOW_S, body);
    expectRefused(verify({ rawBody: percentEncoded, signature }), /mismatch/);
    expectRefused(verify({ rawBody: decoded, signature }), /mismatch/);
    // Re-serialising the same object with the same encoder is stable, which is why the check is on bytes.
    expect(reserialised).toBe(body);
  });

  describe('non-ASCII user names', () => {
    const userName = 'Zoë Ångström 李小龙 🚀';

    it('verify in the form body Slack sends (UTF-8, percent-encoded)', () => {
      // Prepare
      const signed = signedInteraction({
        secret: SECRET,
        now: NOW,
        requestId: 'req_abcdefghij0123456789',
        userName,
      });
      // Act + Assess
      expect(new URLSearchParams(signed.body).get('payload')).toContain(userName);
      expect(() =>
        verifySlackSignature({
          signingSecret: SECRET,
          timestamp: signed.headers['x-slack-request-timestamp'],
          signature: signed.headers['x-slack-signature'],
          rawBody: signed.body,
          now: NOW,
        }),
      ).not.toThrow();
    });

    it('verify as raw UTF-8 bytes, and as the string those bytes decode to', () => {
      // Prepare: a body carrying the name unescaped, signed over its bytes.
      const bytes = Buffer.from(JSON.stringify({ user: { name: userName } }), 'utf8');
      const signature = signSlackRequest(SECRET, NOW_S, bytes);
      // Act + Assess
      expect(verify({ rawBody: bytes, signature })).not.toThrow();
      expect(verify({ rawBody: new Uint8Array(bytes), signature })).not.toThrow();
      expect(verify({ rawBody: bytes.toString('utf8'), signature })).not.toThrow();
    });

    it('fail when the bytes were decoded with the wrong charset', () => {
      const bytes = Buffer.from(JSON.stringify({ user: { name: userName } }), 'utf8');
      const signature = signSlackRequest(SECRET, NOW_S, bytes);
      expectRefused(verify({ rawBody: bytes.toString('latin1'), signature }), /mismatch/);
    });
  });
});
