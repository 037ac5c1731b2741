import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { buildConsole, CONSOLE_SECURITY_HEADERS, type ConsoleBuild, consoleCsp } from '../console/build.js';
import { requestPath } from './http-server.js';
import { createAuthorizationServer } from './oidc-authorization-server.js';
import type { LocalIssuer } from './oidc-issuer.js';

/**
 * The web console on the local front door (DESIGN.md §6): `/console/…` (the built app and its
 * `config.json`) and the embedded issuer's dev login (`/authorize`, `/token`). The front door calls
 * `serveConsole(req, res)` first; it answers `true` when it handled the request.
 */
export interface ConsoleServerOptions {
  readonly issuer: LocalIssuer;
  readonly config: CountersignConfig;
  /** The front door's URL (`http://127.0.0.1:8787`): the API and the issuer both live there. */
  readonly url: string;
}

export type ServeConsole = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export function createConsoleServer(options: ConsoleServerOptions): ServeConsole {
  const base = options.url.replace(/\/+$/, '');
  const audience = options.config.identity.audience;
  // Locally the console's client id defaults to the API's audience, so its ID token is accepted as is.
  const clientId = options.config.console?.clientId ?? (Array.isArray(audience) ? audience[0]! : audience);
  const roles = options.config.roles;
  const authorization = createAuthorizationServer({
    issuer: options.issuer,
    clientId,
    redirectUris: [`${base}/console/callback`],
    groups: [...new Set([...roles.agents, ...roles.approvers, ...roles.auditors])],
    stylesheet: '/console/login.css',
  });
  const configJson = Buffer.from(
    JSON.stringify({
      apiUrl: '',
      issuer: options.issuer.issuer,
      clientId,
      scope: options.config.console?.scope ?? 'openid',
      groupsClaim: options.config.identity.groupsClaim,
      roles,
    }),
  );
  const csp = consoleCsp();
  // Built once, on first use: a stack that never serves the console never runs esbuild.
  let built: Promise<ConsoleBuild> | undefined;

  const send = (res: ServerResponse, status: number, type: string, body: Buffer, cache: string) => {
    res.writeHead(status, {
      'content-type': type,
      'content-length': body.length,
      'cache-control': cache,
      'content-security-policy': csp,
      ...CONSOLE_SECURITY_HEADERS,
    });
    res.end(body);
  };

  return async (req, res) => {
    if (await authorization.handle(req, res)) return true;
    const path = requestPath(req);
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', Buffer.from('Method not allowed'), 'no-store');
      return true;
    }
    if (path === '/console') {
      res.writeHead(301, { location: '/console/' });
      res.end();
      return true;
    }
    built ??= buildConsole();
    const { files } = await built;
    const name = path.slice('/console/'.length);
    if (name === 'config.json') {
      send(res, 200, 'application/json', configJson, 'no-store');
      return true;
    }
    if (name === 'login.css') {
      const css = [...files.entries()].find(([n]) => n.endsWith('.css'))![1];
      send(res, 200, css.contentType, css.body, 'no-cache');
      return true;
    }
    const file = files.get(name);
    if (file) {
      send(
        res,
        200,
        file.contentType,
        file.body,
        file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      return true;
    }
    if (name.startsWith('assets/')) {
      send(res, 404, 'text/plain; charset=utf-8', Buffer.from('Not found'), 'no-store');
      return true;
    }
    // `/console/`, `/console/callback` and any other page: the one document; pages live in the hash.
    const index = files.get('index.html')!;
    send(res, 200, index.contentType, index.body, 'no-store');
    return true;
  };
}
