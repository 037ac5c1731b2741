/**
 * Structured JSON logs, one line each. Values under keys that can hold secrets are replaced before
 * anything is written, and strings that look like credentials are masked wherever they appear, so a
 * careless `logger.info('…', { response })` still cannot leak a session token or signing secret.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const SECRET_KEY = /secret|token|password|authorization|signature|credential|cookie|privatekey/i;
// AWS secret keys (40 base64 chars), session tokens (long base64), Slack tokens, JWTs.
const SECRET_VALUE =
  /(xox[abposr]-[0-9A-Za-z-]{8,})|(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)|((?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=]))|([A-Za-z0-9/+=]{100,})/g;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return value.replace(SECRET_VALUE, '[redacted]');
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1),
      ]),
    );
  }
  return value;
}

export function createLogger(
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const log = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(
      JSON.stringify({
        level,
        time: new Date().toISOString(),
        message,
        ...(redact({ ...base, ...fields }) as object),
      }),
    );
  return {
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
  };
}
