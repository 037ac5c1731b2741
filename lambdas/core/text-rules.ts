import { ValidationError } from './errors.js';

/**
 * The rules for free text people read and did not write: a request's `reason` and `context`, a
 * revoke's `reason`, a decision's `comment` (DESIGN.md §4). One validator serves all of them, so a
 * text refused in one place is refused in every other.
 */

// C0 and C1 control characters and DEL. Newline and tab are carved out where text may hold them.
// ANSI escape sequences begin with one of these (ESC U+001B, or CSI U+009B).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_EXCEPT_NEWLINE_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
// Characters that change how the rest of a line is displayed (bidi overrides, "Trojan Source") or
// break lines outside the control range. An approver must read what the agent wrote, not a reordering.
const DISPLAY_TRICKS = /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Validates free text: a string of 1 to `maxChars` code points, not blank; newlines and tabs are
 * allowed, other control characters (so no ANSI escapes), bidi overrides and isolates,
 * line/paragraph separators and broken UTF-16 are not. Returns the text unchanged.
 */
export function validateText(field: string, value: unknown, maxChars: number): string {
  if (typeof value !== 'string') throw new ValidationError(field, `${field} must be a string`);
  if (value.trim() === '' || codePoints(value) > maxChars) {
    throw new ValidationError(field, `${field} must be 1 to ${maxChars} characters and not blank`);
  }
  checkText(field, value, CONTROL_EXCEPT_NEWLINE_TAB);
  return value;
}

/** Refuses text a reviewer could be misled by: control characters, bidi tricks, broken UTF-16. */
export function checkText(field: string, text: string, control: RegExp): void {
  if (control.test(text)) throw new ValidationError(field, `${field} contains control characters`);
  if (DISPLAY_TRICKS.test(text)) {
    throw new ValidationError(field, `${field} contains characters that reorder or break displayed text`);
  }
  if (LONE_SURROGATE.test(text)) throw new ValidationError(field, `${field} is not valid Unicode text`);
}

export function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
