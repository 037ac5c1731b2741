import { ValidationError } from './errors.js';

/**
 * Query parameters and opaque cursors, as every listing of the API reads them: unknown parameters
 * are a 400 (a misspelt filter must not show the wrong population), and a cursor is only accepted
 * when this service wrote it for this query.
 */

export type Params = Record<string, string | undefined> | null | undefined;

export function refuseUnknown(params: Params, allowed: readonly string[]): void {
  for (const name of Object.keys(params ?? {})) {
    if (!allowed.includes(name)) {
      // A misspelt filter silently ignored would show an auditor the wrong population.
      throw new ValidationError(
        name,
        `Unknown query parameter ${JSON.stringify(name.slice(0, 64))}; allowed: ${allowed.join(', ')}.`,
      );
    }
  }
}

export const badCursor = (why: string) =>
  new ValidationError('cursor', `The cursor is not valid (${why}); start again without it.`);

/**
 * A cursor's JSON body, refusing anything this service did not write for this query: base64url of
 * at most `maxLength` characters, an object with only `keys`, version 1, bound to `fingerprint`
 * (the caller and the filter: another query's cursor reveals nothing here). Reports and the
 * caller's list (request-list.ts) share it.
 */
export function readCursor(
  raw: string,
  fingerprint: string,
  keys: readonly string[],
  maxLength: number,
): Record<string, unknown> {
  if (raw.length === 0 || raw.length > maxLength || !/^[A-Za-z0-9_-]+$/.test(raw))
    throw badCursor('not base64url');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badCursor('not readable');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badCursor('not readable');
  const c = body as Record<string, unknown>;
  if (Object.keys(c).some((k) => !['v', ...keys].includes(k)) || c.v !== 1)
    throw badCursor('unknown version');
  if (c.q !== fingerprint) throw badCursor('it belongs to a query with other filters');
  return c;
}
