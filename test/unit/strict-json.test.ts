import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError, ValidationError } from '../../lambdas/core/errors.js';
import { MAX_BODY_BYTES, MAX_DEPTH, parseStrictJson } from '../../lambdas/core/strict-json.js';

const nested = (depth: number) => `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

describe('parseStrictJson', () => {
  it.each([
    [
      'an object',
      '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
      { a: 1, b: [true, false, null], c: { d: 'e' } },
    ],
    ['JSON whitespace', ' \t\r\n{ "a" : [ 1.5e3 , -0.25 ] }\n', { a: [1500, -0.25] }],
    ['escapes', '{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"}', { s: '"\\/\b\f\n\r\té😀' }],
    ['an empty object', '{}', {}],
    ['bytes', new TextEncoder().encode('{"reason":"café"}'), { reason: 'café' }],
  ])('parses %s exactly as JSON.parse would', (_name, body, expected) => {
    // Act
    const value = parseStrictJson(body);

    // Assess
    expect(value).toEqual(expected);
    if (typeof body === 'string') expect(value).toEqual(JSON.parse(body));
  });

  it('keeps __proto__ as data, as JSON.parse does, without touching the prototype', () => {
    // Act
    const value = parseStrictJson('{"__proto__":{"polluted":true}}');

    // Assess
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    [
      'a duplicate top-level key',
      '{"actions":["s3:GetObject"],"actions":["s3:DeleteObject"]}',
      'duplicate key "actions"',
    ],
    ['a duplicate key spelled with an escape', '{"a":1,"\\u0061":2}', 'duplicate key "a"'],
    ['a duplicate nested key', '{"context":{"task":"a","task":"b"}}', 'duplicate key "task"'],
    ['a duplicate key inside an array', '{"a":[{"x":1,"x":1}]}', 'duplicate key "x"'],
    ['an array', '[{"a":1}]', 'must be a JSON object'],
    ['a string', '"hello"', 'must be a JSON object'],
    ['null', 'null', 'must be a JSON object'],
    ['nothing', '', 'body is required'],
    ['whitespace only', '  \n', 'body is required'],
    ['trailing text', '{"a":1} {"b":2}', 'unexpected text'],
    ['a trailing comma', '{"a":1,}', 'not valid JSON'],
    ['single quotes', "{'a':1}", 'not valid JSON'],
    ['a leading zero', '{"a":01}', 'not valid JSON'],
    ['NaN', '{"a":NaN}', 'not valid JSON'],
    ['a comment', '{"a":1 /* hi */}', 'not valid JSON'],
    ['a raw control character in a string', '{"a":"x\u0001"}', 'not valid JSON'],
    ['a bad escape', '{"a":"\\x41"}', 'not valid JSON'],
    ['a byte-order mark', '\ufeff{"a":1}', 'not valid JSON'],
    ['a non-breaking space as whitespace', '{\u00a0"a":1}', 'not valid JSON'],
    ['an unterminated object', '{"a":1', 'not valid JSON'],
    [`nesting deeper than ${MAX_DEPTH}`, nested(MAX_DEPTH + 1), `nested deeper than ${MAX_DEPTH}`],
  ])('refuses %s', (_name, body, message) => {
    // Act
    const act = () => parseStrictJson(body);

    // Assess
    expect(act).toThrow(ValidationError);
    expect(act).toThrow(message);
    expect(act).toThrow(expect.objectContaining({ details: { field: 'body' } }));
  });

  it(`accepts nesting of exactly ${MAX_DEPTH} levels`, () => {
    // Act
    const value = parseStrictJson(nested(MAX_DEPTH));

    // Assess
    expect(value).toHaveProperty('a');
  });

  it('refuses invalid UTF-8 bytes', () => {
    // Act
    const act = () => parseStrictJson(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));

    // Assess
    expect(act).toThrow('not valid UTF-8');
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    // Prepare: fits in characters, not in bytes ("é" is two bytes)
    const body = `{"reason":"${'é'.repeat(MAX_BODY_BYTES / 2)}"}`;

    // Act
    const act = () => parseStrictJson(body);

    // Assess
    expect(body.length).toBeLessThan(MAX_BODY_BYTES + 20);
    expect(act).toThrow(PayloadTooLargeError);
  });

  const ofLength = (n: number) => `{"reason":"${'a'.repeat(n - '{"reason":""}'.length)}"}`;
  it.each([
    ['a string', ofLength],
    ['bytes', (n: number) => new TextEncoder().encode(ofLength(n))],
  ])('accepts %s of exactly the limit and refuses one byte more', (_name, make) => {
    // Prepare
    expect(ofLength(MAX_BODY_BYTES)).toHaveLength(MAX_BODY_BYTES);

    // Act
    const fits = parseStrictJson(make(MAX_BODY_BYTES));
    const over = () => parseStrictJson(make(MAX_BODY_BYTES + 1));

    // Assess
    expect(fits).toHaveProperty('reason');
    expect(over).toThrow(PayloadTooLargeError);
    expect(over).toThrow(expect.objectContaining({ status: 413, code: 'PayloadTooLarge' }));
  });

  it('refuses a deeply nested body quickly instead of overflowing the stack', () => {
    // Prepare
    const body = '['.repeat(60_000);

    // Act
    const act = () => parseStrictJson(body);

    // Assess
    expect(act).toThrow(`nested deeper than ${MAX_DEPTH}`);
  });
});
