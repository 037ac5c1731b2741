import { globMatch } from './glob.js';

/**
 * Masking of exact calls' outputs (config `masking`, DESIGN.md §3), applied before an output is
 * stored or returned, so neither the agent nor the evidence record ever holds what it hides.
 *
 * - `fields`: key-name globs (`*` and `?`, case-insensitive). A key that matches has its whole value,
 *   whatever its shape, replaced by `[MASKED]`.
 * - `detect`: detectors run over every string and every key, at any depth. What they find is
 *   replaced by `[MASKED:<detector>]`; a key that held a secret is renamed the same way.
 *
 * `masked` lists the JSON paths (`$.Item.password`, `$.Items[0].email.S`) of what was masked, written
 * with the masked key names, so a path never repeats a secret. Every scanner here is linear in its
 * input (no regular expression that could backtrack over a large output).
 *
 * What masking does not cover (docs/exact-calls.md): binary data, secrets split across fields,
 * encodings other than plain text (base64 of a secret is not a secret to these detectors), e-mail
 * addresses outside ASCII, and anything no detector or glob names.
 */

export const DETECTORS = [
  'email',
  'credit-card',
  'aws-access-key',
  'aws-secret-key',
  'jwt',
  'private-key',
] as const;
export type Detector = (typeof DETECTORS)[number];

export type MaskingEntry = { fields: readonly string[] } | { detect: readonly Detector[] };

/** Used when the configuration has no `masking` key: every detector and the common secret names. */
export const DEFAULT_MASKING: readonly MaskingEntry[] = [
  {
    fields: [
      'SecretString',
      'SecretBinary',
      '*password*',
      '*passwd*',
      '*secret*',
      '*token*',
      '*apikey*',
      '*api_key*',
      '*private*key*',
      '*credential*',
    ],
  },
  { detect: DETECTORS },
];

export const MASK = '[MASKED]';
const marker = (detector: Detector) => `[MASKED:${detector}]`;

export interface MaskingRules {
  fields: readonly string[];
  detect: ReadonlySet<Detector>;
}

export function maskingRules(entries: readonly MaskingEntry[] | undefined): MaskingRules {
  const list = entries ?? DEFAULT_MASKING;
  const fields: string[] = [];
  const detect = new Set<Detector>();
  for (const entry of list) {
    if ('fields' in entry) fields.push(...entry.fields);
    if ('detect' in entry) for (const d of entry.detect) detect.add(d);
  }
  return { fields, detect };
}

export interface Masked<T> {
  value: T;
  /** JSON paths of what was masked, in document order, each once. */
  masked: string[];
}

/** Masks a JSON-like value (objects, arrays, strings, numbers, booleans, null). */
export function maskValue(value: unknown, rules: MaskingRules): Masked<unknown> {
  const masked: string[] = [];
  const out = walk(value, '$', rules, masked);
  return { value: out, masked: [...new Set(masked)] };
}

/** Masks free text (an object body, a function's answer that is not JSON). */
export function maskText(text: string, rules: MaskingRules): { text: string; changed: boolean } {
  const out = detectInText(text, rules.detect);
  return { text: out, changed: out !== text };
}

function walk(value: unknown, path: string, rules: MaskingRules, masked: string[]): unknown {
  if (typeof value === 'string') {
    const out = detectInText(value, rules.detect);
    if (out !== value) masked.push(path);
    return out;
  }
  if (typeof value === 'number' || typeof value === 'bigint') {
    // A card number may arrive as a JSON number.
    if (rules.detect.has('credit-card')) {
      const text = String(value);
      const out = maskCards(text);
      if (out !== text) {
        masked.push(path);
        return out;
      }
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}[${i}]`, rules, masked));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = Object.create(null);
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      let name = detectInText(key, rules.detect);
      // Two keys that mask to the same name stay two keys.
      if (name !== key) {
        let n = 2;
        const base = name;
        while (Object.hasOwn(out, name)) name = `${base}#${n++}`;
      }
      const itemPath = `${path}${pathPart(name)}`;
      if (rules.fields.some((glob) => globMatch(glob, key, true))) {
        out[name] = MASK;
        masked.push(itemPath);
        continue;
      }
      if (name !== key) masked.push(itemPath);
      out[name] = walk(item, itemPath, rules, masked);
    }
    return { ...out };
  }
  return value;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const pathPart = (key: string) => (IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

/** Every enabled detector over `text`; the widest first, so a key inside a PEM block is one mask. */
export function detectInText(text: string, detect: ReadonlySet<Detector>): string {
  let out = text;
  if (detect.has('private-key')) out = maskPrivateKeys(out);
  if (detect.has('jwt')) out = maskJwts(out);
  if (detect.has('aws-access-key')) out = out.replace(ACCESS_KEY_ID, marker('aws-access-key'));
  if (detect.has('aws-secret-key')) out = maskSecretKeys(out);
  if (detect.has('email')) out = maskEmails(out);
  if (detect.has('credit-card')) out = maskCards(out);
  return out;
}

// --- Detectors ---------------------------------------------------------------------------------

const PEM_BEGIN = /-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----/gi;
const PEM_END = /-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----/gi;

/** A PEM private key from its BEGIN line to its END line, or to the end of the text if cut off. */
function maskPrivateKeys(text: string): string {
  let out = '';
  let from = 0;
  PEM_BEGIN.lastIndex = 0;
  for (;;) {
    const begin = PEM_BEGIN.exec(text);
    if (!begin) break;
    PEM_END.lastIndex = begin.index + begin[0].length;
    const end = PEM_END.exec(text);
    const stop = end ? end.index + end[0].length : text.length;
    out += text.slice(from, begin.index) + marker('private-key');
    from = stop;
    PEM_BEGIN.lastIndex = stop;
  }
  return out + text.slice(from);
}

const B64URL = /[A-Za-z0-9_-]/;
/**
 * JWS compact serializations: a base64url header starting `{"` (eyJ, in any case), a dot, a payload,
 * a dot, and a signature (possibly empty). Scanned by hand: after a failed candidate the scan resumes
 * past the run it read, so a long run of `eyJeyJ…` costs one pass, not one per start.
 */
function maskJwts(text: string): string {
  const spans: Array<[number, number]> = [];
  const lower = text.toLowerCase();
  let from = 0;
  for (;;) {
    const start = lower.indexOf('eyj', from);
    if (start === -1) break;
    const run = (k: number) => {
      while (k < text.length && B64URL.test(text[k]!)) k++;
      return k;
    };
    const headerEnd = run(start);
    if (headerEnd - start >= 7 && text[headerEnd] === '.') {
      const payloadEnd = run(headerEnd + 1);
      if (payloadEnd - headerEnd - 1 >= 4 && text[payloadEnd] === '.') {
        const end = run(payloadEnd + 1);
        spans.push([start, end]);
        from = end;
        continue;
      }
    }
    from = headerEnd > start ? headerEnd : start + 3;
  }
  return replaceSpans(text, spans, marker('jwt'));
}
// Access key ids and the other unique-id prefixes IAM issues (AKIA long-term, ASIA temporary…).
const ACCESS_KEY_ID = /(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|ABIA|ACCA|APKA)[A-Z0-9]{16}/gi;

const BASE64ISH = /[A-Za-z0-9/+]/;
/**
 * Secret access keys: 40 characters of the base64 alphabet standing alone (not part of a longer
 * run) that mix upper case, lower case and digits — which a random secret all but always does and a
 * hex digest or a word never does.
 */
function maskSecretKeys(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (!BASE64ISH.test(text[i]!)) {
      out += text[i];
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && BASE64ISH.test(text[j]!)) j++;
    const run = text.slice(i, j);
    out +=
      run.length === 40 && /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run)
        ? marker('aws-secret-key')
        : run;
    i = j;
  }
  return out;
}

const LOCAL_CHAR = /[A-Za-z0-9._%+'-]/;
const DOMAIN_CHAR = /[A-Za-z0-9.-]/;

/** user@example.com: from each `@`, the local part to its left and a dotted domain to its right. */
function maskEmails(text: string): string {
  if (!text.includes('@')) return text;
  const spans: Array<[number, number]> = [];
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && LOCAL_CHAR.test(text[start - 1]!)) start--;
    let end = at + 1;
    while (end < text.length && DOMAIN_CHAR.test(text[end]!)) end++;
    let domain = text.slice(at + 1, end);
    const trimmed = domain.replace(/[.-]+$/, '');
    end -= domain.length - trimmed.length;
    domain = trimmed;
    const labels = domain.split('.');
    const tld = labels.at(-1) ?? '';
    if (start === at || labels.length < 2 || labels.some((l) => l === '') || !/^[A-Za-z]{2,}$/.test(tld)) {
      continue;
    }
    spans.push([start, end]);
  }
  return replaceSpans(text, spans, marker('email'));
}

/**
 * Card numbers: 13–19 digits, optionally grouped by single spaces or dashes, that pass the Luhn
 * check, bounded by non-digits. Within a longer grouped run, consecutive groups are tried as well
 * (a card followed by its expiry year is still found).
 */
function maskCards(text: string): string {
  const spans: Array<[number, number]> = [];
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  let i = 0;
  while (i < text.length) {
    if (!isDigit(text[i])) {
      i++;
      continue;
    }
    // A run: digit groups separated by one space or dash.
    const groups: Array<[number, number]> = [];
    let j = i;
    for (;;) {
      const start = j;
      while (isDigit(text[j])) j++;
      groups.push([start, j]);
      if ((text[j] === ' ' || text[j] === '-') && isDigit(text[j + 1])) {
        j++;
        continue;
      }
      break;
    }
    let a = 0;
    while (a < groups.length) {
      let next = a + 1;
      let digits = '';
      for (let b = a; b < groups.length; b++) {
        digits += text.slice(groups[b]![0], groups[b]![1]);
        if (digits.length > 19) break;
        if (digits.length >= 13 && luhn(digits)) {
          spans.push([groups[a]![0], groups[b]![1]]);
          next = b + 1;
          break;
        }
      }
      a = next;
    }
    i = j;
  }
  return replaceSpans(text, spans, marker('credit-card'));
}

export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let k = digits.length - 1; k >= 0; k--) {
    let d = digits.charCodeAt(k) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function replaceSpans(text: string, spans: ReadonlyArray<[number, number]>, replacement: string): string {
  if (spans.length === 0) return text;
  let out = '';
  let from = 0;
  for (const [start, end] of spans) {
    if (start < from) continue;
    out += text.slice(from, start) + replacement;
    from = end;
  }
  return out + text.slice(from);
}
