import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeCsvCell,
  escapeMrkdwn,
  plainText,
  stripControlCharacters,
  toCsvRow,
  truncate,
} from '../../lambdas/core/escape.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

describe('escapeMrkdwn', () => {
  it('turns & < > into entities, so no control sequence survives', () => {
    const out = escapeMrkdwn(
      '<!channel> <!here> <@U123> <#C0123|general> <!subteam^S1> <https://evil.example|docs> a & b',
    );
    expect(out).not.toMatch(/[<>]/);
    expect(out).toContain('&lt;!channel&gt;');
    expect(out).toContain('&lt;@U123&gt;');
    expect(out).toContain('&lt;#C0123|general&gt;');
    expect(out).toContain('a &amp; b');
  });

  it('escapes an existing entity again rather than letting it decode to markup', () => {
    expect(escapeMrkdwn('&lt;!channel&gt;')).toBe('&amp;lt;!channel&amp;gt;');
  });

  it('neutralises formatting markers with look-alikes', () => {
    const out = escapeMrkdwn('*bold* _italic_ ~strike~ `code` ```block```');
    expect(out).not.toMatch(/[*_~`]/);
    expect(out).toBe('∗bold∗ ˍitalicˍ ∼strike∼ ˋcodeˋ ˋˋˋblockˋˋˋ');
  });

  it('keeps markers inside code, except the backtick that would end it', () => {
    expect(escapeMrkdwn('s3:Get*Object_x~ `', { code: true })).toBe('s3:Get*Object_x~ ˋ');
  });

  it('defangs bare broadcast words and URL schemes', () => {
    const out = escapeMrkdwn('@channel @HERE @everyone see https://evil.example/x and javascript://y');
    expect(out).not.toMatch(/@(channel|here|everyone)/i);
    expect(out).not.toContain('://');
    expect(out).toContain('https[:]//evil.example/x');
  });

  it('removes control, zero-width and bidi characters and normalises line breaks', () => {
    const out = escapeMrkdwn('a\u0000b\u0007c\u001bd\u202eevil\u2066\u200bx\r\ny\rz\u2028w\tv');
    expect(out).not.toMatch(CONTROL);
    expect(out).toBe('abcdevilx\ny\nz\nw v');
  });

  it('neutralises emoji shortcodes outside code only', () => {
    expect(escapeMrkdwn(':white_check_mark: ok :x::lock:')).toBe('∶whiteˍcheckˍmark: ok ∶x:∶lock:');
    expect(escapeMrkdwn('arn:aws:s3:::bucket', { code: true })).toBe('arn:aws:s3:::bucket');
    expect(escapeMrkdwn('at 12:30')).toBe('at 12:30');
  });

  it('uses the given newline so every line stays inside a quote', () => {
    expect(escapeMrkdwn('one\ntwo\n\n\n\nthree', { newline: '\n> ' })).toBe('one\n> two\n> \n> three');
  });

  it('cuts with an ellipsis, never mid-entity, never past maxLength', () => {
    const out = escapeMrkdwn('&&&&&&&&&&', { maxLength: 13 });
    expect(out).toBe('&amp;&amp;…');
    expect(escapeMrkdwn('short', { maxLength: 5 })).toBe('short');
    expect(escapeMrkdwn('😀😀😀', { maxLength: 4 })).toBe('😀…');
  });

  it('property: output fits, holds no raw markup or control characters', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 400 }),
        fc.integer({ min: 0, max: 500 }),
        (text, max) => {
          const out = escapeMrkdwn(text, { maxLength: max, newline: '\n> ' });
          expect(out.length).toBeLessThanOrEqual(max);
          expect(out).not.toMatch(/[<*_~`]/);
          expect(out.replace(/\n> /g, '')).not.toMatch(/>/);
          expect(out).not.toMatch(/&(?!amp;|lt;|gt;)/);
          expect(out).not.toMatch(CONTROL);
          expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
        },
      ),
    );
  });
});

describe('plain text helpers', () => {
  it('truncate keeps surrogate pairs whole and marks the cut', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('a😀b', 2)).toBe('a…');
  });

  it('plainText makes one clean line', () => {
    expect(plainText('  deploy\n\tbot\u202e  ', 50)).toBe('deploy bot');
    expect(plainText('<!channel> @here https://x.example', 50)).toBe('‹!channel› ＠here https[:]//x.example');
  });

  it('stripControlCharacters replaces lone surrogates', () => {
    expect(stripControlCharacters('a\ud800b')).toBe('a\ufffdb');
  });
});

describe('escapeCsvCell', () => {
  it.each([
    ['=HYPERLINK("https://evil.example","x")', `"'=HYPERLINK(""https://evil.example"",""x"")"`],
    ['+1+1', `"'+1+1"`],
    ['-2+3', `"'-2+3"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['\t=1', `"'\t=1"`],
    ['\r=1', `"'\r=1"`],
    ['  =1', `"'  =1"`],
    ['\n\u00a0=1', `"'\n\u00a0=1"`],
    ['＝1+1', `"'＝1+1"`],
  ])('neutralises a formula: %j', (input, expected) => {
    expect(escapeCsvCell(input)).toBe(expected);
  });

  it('quotes text, doubles inner quotes, keeps commas and newlines inside the cell', () => {
    expect(escapeCsvCell('a,"b"\nc')).toBe('"a,""b""\nc"');
    expect(escapeCsvCell('plain')).toBe('"plain"');
    expect(escapeCsvCell('a\u0000b')).toBe('"ab"');
  });

  it('writes numbers, booleans and empty values as they are', () => {
    expect(escapeCsvCell(-5)).toBe('-5');
    expect(escapeCsvCell(1.5)).toBe('1.5');
    expect(escapeCsvCell(Number.NaN)).toBe('');
    expect(escapeCsvCell(true)).toBe('true');
    expect(escapeCsvCell(null)).toBe('');
    expect(escapeCsvCell(undefined)).toBe('');
  });

  it('toCsvRow joins escaped cells', () => {
    expect(toCsvRow(['deploy-bot', 3, '=cmd|/c calc', null])).toBe(`"deploy-bot",3,"'=cmd|/c calc",`);
  });

  it('property: no string cell can start a formula once unquoted', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 50 }), (text) => {
        const cell = escapeCsvCell(text);
        expect(cell.startsWith('"') && cell.endsWith('"')).toBe(true);
        const inner = cell.slice(1, -1).replace(/""/g, '"');
        expect(inner.trimStart()[0] ?? '').not.toMatch(/[=+\-@\t\r＝＋－＠]/);
      }),
    );
  });
});
