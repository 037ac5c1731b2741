/**
 * Access key ids for test fixtures, shaped exactly like AWS's (`ASIA`/`AKIA` + 16 of A-Z 0-9) but
 * built from a readable label, so that no literal in the repository looks like a leaked key to a
 * secret scanner — and a real key pasted into a fixture still stands out.
 */
export function fakeAccessKeyId(label: string, prefix: 'ASIA' | 'AKIA' = 'ASIA'): string {
  const body = label.toUpperCase().padEnd(16, '0');
  if (!/^[A-Z0-9]{16}$/.test(body)) throw new Error(`fakeAccessKeyId: "${label}" must be 1-16 of A-Z 0-9`);
  return `${prefix}${body}`;
}
