/**
 * Untrusted text stays text (CONVENTIONS.md, habit 5). An agent's `reason` and `context`, approver
 * comments, CloudTrail event names and even identity-provider `sub`s are written by someone other
 * than Countersign; wherever they are shown they go through one of these functions first.
 */

const ELLIPSIS = '…';

// Invisible or direction-changing characters: removed, because they let text read differently from
// what it is (Trojan Source, hidden words). C0/C1 controls except \t \n \r, DEL, zero-width
// characters, bidi embeddings/overrides/isolates, the BOM.
const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
// Lone UTF-16 surrogates (possible in JSON strings) would make Slack refuse the whole message.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Removes control and invisible characters, turns tabs into spaces and every line-break form into
 * `\n` (or a space when `keepNewlines` is false), collapses blank-line runs, and trims.
 */
export function stripControlCharacters(text: string, options: { keepNewlines?: boolean } = {}): string {
  const keepNewlines = options.keepNewlines ?? true;
  let out = text
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
    .replace(/\t/g, ' ')
    .replace(INVISIBLE, '');
  out = keepNewlines ? out.replace(/[ ]*\n[ ]*(?:\n[ ]*)+/g, '\n\n') : out.replace(/\s*\n\s*/g, ' ');
  return out.trim();
}

/**
 * Cuts `text` to at most `maxLength` UTF-16 units (Slack counts characters; a UTF-16 unit count is
 * never smaller), ending with an ellipsis when something was cut, never splitting a surrogate pair.
 */
export function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  if (maxLength < 1) return '';
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > maxLength - ELLIPSIS.length) break;
    out += ch;
  }
  return out + ELLIPSIS;
}

// Slack does not parse `plain_text`, so nothing there should ping or link; these are defanged anyway
// (belt and braces) because a header or dialog built from an identity is still someone else's text.
function defang(text: string): string {
  return text
    .replace(/@(channel|here|everyone)\b/gi, '\uff20$1')
    .replace(/\b([a-z][a-z0-9+.-]{0,30}):\/\//gi, '$1[:]//');
}

/**
 * Text for a Slack `plain_text` object (headers, buttons, dialogs): one clean line, cut to size,
 * with `<` `>` as look-alikes (‹ ›) so no `<!channel>`-style sequence exists even in principle.
 */
export function plainText(text: string, maxLength: number): string {
  const cleaned = defang(stripControlCharacters(text, { keepNewlines: false }))
    .replace(/</g, '\u2039')
    .replace(/>/g, '\u203a');
  return truncate(cleaned, maxLength);
}

// Slack mrkdwn has no backslash escape for its formatting markers, so they become look-alike
// characters that Slack does not parse: the text still reads the same, but cannot turn itself bold,
// italic, struck, or into code that breaks out of a quote.
const MARKER_LOOKALIKES: Readonly<Record<string, string>> = {
  '*': '\u2217', // ∗ ASTERISK OPERATOR
  _: '\u02cd', // ˍ MODIFIER LETTER LOW MACRON
  '~': '\u223c', // ∼ TILDE OPERATOR
  '`': '\u02cb', // ˋ MODIFIER LETTER GRAVE ACCENT
};
const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

export interface EscapeMrkdwnOptions {
  /** Upper bound on the escaped result's length, ellipsis included. */
  maxLength?: number;
  /** What a line break becomes, e.g. `'\n> '` to keep every line inside a block quote. Default `\n`. */
  newline?: string;
  /**
   * For text placed inside a code span or block, where Slack applies no formatting: keeps `*`, `_`
   * and `~` as they are (a session policy must read exactly), still neutralises backticks.
   */
  code?: boolean;
}

/**
 * Escapes untrusted text for a Slack `mrkdwn` text object. After it, the text cannot ping (`<!channel>`,
 * `<!here>`, `<@U…>`, `<!subteam^…>`, bare `@channel`), link (`<https://…|label>`, `<#C…>`, bare
 * `scheme://` URLs are defanged to `scheme[:]//`), quote, or format itself, and carries no control or
 * invisible characters. Put the result in a text object with `verbatim: true` so Slack does not
 * auto-link or auto-parse what is left either. Outside code, emoji shortcodes are neutralised too.
 */
export function escapeMrkdwn(text: string, options: EscapeMrkdwnOptions = {}): string {
  const newline = options.newline ?? '\n';
  // Slack only auto-parses bare `@channel` and URLs without verbatim; defang them regardless.
  let cleaned = defang(stripControlCharacters(text));
  // Emoji shortcodes render everywhere but in code: `:white_check_mark: approved` must not pose as a
  // status icon. The colon opening a would-be shortcode becomes ∶ (RATIO), which Slack does not parse.
  if (!options.code) cleaned = cleaned.replace(/:(?=[a-z0-9_+'-]{1,100}:)/gi, '\u2236');

  const pieces: string[] = [];
  let length = 0;
  for (const ch of cleaned) {
    const piece =
      ch === '\n'
        ? newline
        : (ENTITIES[ch] ?? (options.code && ch !== '`' ? ch : (MARKER_LOOKALIKES[ch] ?? ch)));
    pieces.push(piece);
    length += piece.length;
  }
  const max = options.maxLength ?? Number.POSITIVE_INFINITY;
  if (length <= max) return pieces.join('');
  if (max < ELLIPSIS.length) return '';
  // Pieces are whole (`&amp;`, a surrogate pair), so the cut never leaves half an entity behind.
  let out = '';
  for (const piece of pieces) {
    if (out.length + piece.length > max - ELLIPSIS.length) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

/** A value a CSV report cell may hold. Numbers and booleans are written as they are. */
export type CsvCell = string | number | boolean | null | undefined;

// Spreadsheet programs evaluate a cell starting with one of these as a formula (OWASP "CSV
// Injection"); the full-width forms are included because some locales treat them the same way.
const FORMULA_TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', '\uff1d', '\uff0b', '\uff0d', '\uff20']);
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CSV_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/**
 * One RFC 4180 cell. Strings are always quoted (inner quotes doubled) and, when their first
 * non-blank character could start a formula, prefixed with `'` so a spreadsheet shows them as text.
 * Pass numbers as numbers: a numeric string such as `-5` is treated as text and gets the prefix.
 */
export function escapeCsvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  let text = value.replace(CSV_CONTROL, '');
  const first = text.trimStart()[0] ?? '';
  if (FORMULA_TRIGGERS.has(first) || FORMULA_TRIGGERS.has(text[0] ?? '')) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

/** One CSV record (without its line terminator; RFC 4180 uses `\r\n` between records). */
export function toCsvRow(cells: readonly CsvCell[]): string {
  return cells.map(escapeCsvCell).join(',');
}
