import { readFile } from 'node:fs/promises';
import { CliError, EXIT, UsageError } from './exit-codes.js';

/** Where the CLI talks to when neither `--endpoint` nor COUNTERSIGN_ENDPOINT says otherwise: `npm start`. */
const DEFAULT_ENDPOINT = 'http://127.0.0.1:8787';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * The base URL every path is appended to. A path prefix is kept (an API Gateway stage such as
 * `/prod`). Plain http is refused except to this machine: the CLI sends a bearer token and receives
 * AWS credentials, neither of which may cross a network in clear text.
 */
export function resolveEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv): URL {
  const raw = flag ?? (env.COUNTERSIGN_ENDPOINT || undefined) ?? DEFAULT_ENDPOINT;
  const source =
    flag !== undefined ? '--endpoint' : env.COUNTERSIGN_ENDPOINT ? 'COUNTERSIGN_ENDPOINT' : 'default';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      `${source}: "${raw}" is not a URL (expected e.g. https://abc.execute-api.us-east-1.amazonaws.com/prod)`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`${source}: only http(s) endpoints are supported, got ${url.protocol}`);
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new UsageError(
      `${source}: refusing plain http to ${url.host}: tokens and credentials would travel unencrypted; use https`,
    );
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError(`${source}: the endpoint must not carry a query, fragment or user info`);
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/** Returns the bearer token for one HTTP call. Called before every call, so a rotated token file is picked up. */
export type TokenSource = () => Promise<string>;

/**
 * `--token`, then COUNTERSIGN_TOKEN, then COUNTERSIGN_TOKEN_FILE. The file is read on every call
 * rather than once because OIDC tokens (GitHub Actions, Kubernetes projected tokens) are rotated
 * in place while a long `--wait` is still running.
 */
export function resolveTokenSource(flag: string | undefined, env: NodeJS.ProcessEnv): TokenSource {
  if (flag !== undefined) {
    const token = flag.trim();
    if (!token) throw new UsageError('--token is empty');
    return async () => token;
  }
  const fromEnv = env.COUNTERSIGN_TOKEN?.trim();
  if (fromEnv) return async () => fromEnv;
  const file = env.COUNTERSIGN_TOKEN_FILE;
  if (file) {
    return async () => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        throw new CliError(`cannot read COUNTERSIGN_TOKEN_FILE ${file}: ${reason}`, EXIT.unauthenticated);
      }
      const token = text.trim();
      if (!token) throw new CliError(`COUNTERSIGN_TOKEN_FILE ${file} is empty`, EXIT.unauthenticated);
      return token;
    };
  }
  throw new CliError(
    'no token: pass --token, or set COUNTERSIGN_TOKEN or COUNTERSIGN_TOKEN_FILE (local mode: countersign token --sub NAME --group agents)',
    EXIT.unauthenticated,
  );
}
