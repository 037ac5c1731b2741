import { PayloadTooLargeError, ValidationError } from './errors.js';

/**
 * A strict JSON reader for request bodies. `JSON.parse` keeps the last of two duplicate keys, so
 * `{"actions":["s3:GetObject"],"actions":["s3:DeleteObject"]}` can show one thing to a proxy, a log
 * or a reviewer and mean another here: a smuggling vector. This parser refuses duplicate keys at
 * every depth (compared after unescaping, so `"a"` and `"\u0061"` collide), bounds nesting and size,
 * and accepts nothing but RFC 8259 JSON with an object at the top.
 */

/** API Gateway accepts up to 10 MB; nothing Countersign reads needs more than this. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Containers nested deeper than this are refused: the contract's deepest field is two levels down. */
export const MAX_DEPTH = 20;

export interface StrictJsonOptions {
  maxBytes?: number;
  maxDepth?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses a request body into a plain object, or throws ValidationError('body', …) / PayloadTooLargeError. */
export function parseStrictJson(
  body: string | Uint8Array | null | undefined,
  options: StrictJsonOptions = {},
): Record<string, unknown> {
  const maxBytes = options.maxBytes ?? MAX_BODY_BYTES;
  const maxDepth = options.maxDepth ?? MAX_DEPTH;
  if (body === null || body === undefined)
    throw new ValidationError('body', 'a JSON object body is required');

  let text: string;
  if (typeof body === 'string') {
    // Every UTF-16 unit costs at least one UTF-8 byte, so a long string is too large without counting.
    if (body.length > maxBytes || Buffer.byteLength(body, 'utf8') > maxBytes) throw tooLarge(maxBytes);
    text = body;
  } else {
    if (body.byteLength > maxBytes) throw tooLarge(maxBytes);
    try {
      text = utf8.decode(body);
    } catch {
      throw new ValidationError('body', 'the body is not valid UTF-8');
    }
  }
  if (text.trim() === '') throw new ValidationError('body', 'a JSON object body is required');

  const value = new Parser(text, maxDepth).parseDocument();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('body', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function tooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`the body is larger than ${maxBytes} bytes`);
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// A string token: unescaped characters other than `"`, `\` and U+0000–U+001F, or a valid escape.
// biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters are what JSON strings may not hold
const STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;

class Parser {
  private readonly text: string;
  private readonly maxDepth: number;
  private pos = 0;

  constructor(text: string, maxDepth: number) {
    this.text = text;
    this.maxDepth = maxDepth;
  }

  parseDocument(): unknown {
    const value = this.parseValue(0);
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the JSON value');
    return value;
  }

  private parseValue(depth: number): unknown {
    this.skipWhitespace();
    const char = this.text[this.pos];
    switch (char) {
      case '{':
        return this.parseObject(depth + 1);
      case '[':
        return this.parseArray(depth + 1);
      case '"':
        return this.parseString();
      case 't':
        return this.parseLiteral('true', true);
      case 'f':
        return this.parseLiteral('false', false);
      case 'n':
        return this.parseLiteral('null', null);
      default:
        if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return this.parseNumber();
        return this.fail(char === undefined ? 'unexpected end of JSON' : 'unexpected character');
    }
  }

  private parseObject(depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) this.tooDeep();
    this.pos++; // {
    // A plain object, as JSON.parse builds; keys are defined (not assigned) so `__proto__` stays data.
    const object: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return object;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a property name in double quotes');
      const key = this.parseString();
      if (seen.has(key)) {
        throw new ValidationError(
          'body',
          `duplicate key ${JSON.stringify(key.slice(0, 64))} in the JSON body`,
        );
      }
      seen.add(key);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      const value = this.parseValue(depth);
      Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
      this.skipWhitespace();
      const next = this.text[this.pos++];
      if (next === '}') return object;
      if (next !== ',') this.fail('expected "," or "}"');
    }
  }

  private parseArray(depth: number): unknown[] {
    if (depth > this.maxDepth) this.tooDeep();
    this.pos++; // [
    const array: unknown[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return array;
    }
    for (;;) {
      array.push(this.parseValue(depth));
      this.skipWhitespace();
      const next = this.text[this.pos++];
      if (next === ']') return array;
      if (next !== ',') this.fail('expected "," or "]"');
    }
  }

  private parseString(): string {
    STRING.lastIndex = this.pos;
    const match = STRING.exec(this.text);
    if (!match) this.fail('invalid string');
    this.pos += match[0].length;
    // The token is already known to be valid JSON, so JSON.parse decodes escapes exactly as the spec says.
    return JSON.parse(match[0]) as string;
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail('invalid number');
    this.pos += match[0].length;
    return Number(match[0]);
  }

  private parseLiteral<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('unexpected character');
    this.pos += word.length;
    return value;
  }

  private skipWhitespace(): void {
    for (;;) {
      const char = this.text.charCodeAt(this.pos);
      // JSON whitespace is exactly space, tab, LF and CR — not NBSP, not U+2028, not a BOM.
      if (char === 0x20 || char === 0x09 || char === 0x0a || char === 0x0d) this.pos++;
      else return;
    }
  }

  private tooDeep(): never {
    throw new ValidationError('body', `the JSON body is nested deeper than ${this.maxDepth} levels`);
  }

  private fail(reason: string): never {
    throw new ValidationError('body', `the body is not valid JSON: ${reason} at position ${this.pos}`);
  }
}
