import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Host } from './assembly-host.js';
import type { LocalAws } from './aws/index.js';
import { cloudTrailEvent, type Delivery } from './cloudtrail-delivery.js';
import { readBody, sendJson } from './http-server.js';
import { LOCAL_SUB, type LocalIssuer } from './oidc-issuer.js';
import type { LocalSlack } from './slack-api.js';

/**
 * The local-only doors of the front door (DESIGN.md §4 "Local-only endpoints"): the embedded
 * issuer, the Slack sink, what STS was asked, the revocation denies, the CloudTrail feed and where
 * each local part listens. None of them exists on AWS.
 */
export function localEndpoints(deps: {
  issuer: LocalIssuer;
  slack: LocalSlack;
  aws: LocalAws;
  delivery: Delivery;
  host: Host;
  endpoints: () => Record<string, string>;
  /** Roles that live outside the template (target and revoker roles). */
  externalRoles: readonly string[];
  onJwks: () => void;
}) {
  return async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
  ): Promise<boolean> {
    if (method === 'GET') {
      switch (path) {
        case '/healthz':
          sendJson(res, 200, { ok: true });
          return true;
        case '/.well-known/jwks.json':
          deps.onJwks();
          sendJson(res, 200, deps.issuer.jwks());
          return true;
        case '/.well-known/openid-configuration':
          sendJson(res, 200, deps.issuer.openidConfiguration());
          return true;
        case '/local/slack/messages':
          sendJson(res, 200, deps.slack.messages());
          return true;
        case '/local/sts/sessions':
          sendJson(res, 200, deps.aws.sessions());
          return true;
        case '/local/endpoints':
          sendJson(res, 200, deps.endpoints());
          return true;
        case '/local/iam':
          sendJson(res, 200, iamView(deps));
          return true;
      }
      return false;
    }
    if (method === 'POST' && path === '/local/token') {
      await mintToken(req, res, deps.issuer);
      return true;
    }
    if (method === 'POST' && path === '/local/cloudtrail') {
      await feedCloudTrail(req, res, deps);
      return true;
    }
    return false;
  };
}

/** `GET /local/iam`: every role the local AWS knows with its inline policies (the revocation denies). */
function iamView(deps: { aws: LocalAws; host: Host; externalRoles: readonly string[] }) {
  const roles = new Set([...deps.host.functions.map((f) => f.roleArn), ...deps.externalRoles]);
  return {
    roles: [...roles].sort().map((arn) => ({
      arn,
      inlinePolicies: Object.fromEntries(
        Object.entries(deps.aws.rolePolicies(arn)).map(([name, text]) => [name, safeParse(text)]),
      ),
    })),
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * `POST /local/cloudtrail`: a CloudTrail record, `{"Records":[…]}` or an EventBridge event, handed
 * to the linker function exactly as the CloudTrail rule delivers it; answers the linker's report.
 */
async function feedCloudTrail(
  req: IncomingMessage,
  res: ServerResponse,
  deps: { host: Host; aws: LocalAws },
) {
  let body: unknown;
  try {
    body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
  } catch {
    return sendJson(
      res,
      400,
      error('ValidationError', 'The body must be a JSON CloudTrail record or event.', 'body'),
    );
  }
  if (!deps.host.linkerName)
    return sendJson(res, 404, error('NotFound', 'The template has no CloudTrail linker.'));
  const event =
    body && typeof body === 'object' && 'detail' in body
      ? body
      : body && typeof body === 'object' && 'eventVersion' in body
        ? cloudTrailEvent(body as Record<string, unknown>, '000000000000', 'us-east-1')
        : body;
  const outcome = await deps.host.invoke(deps.host.linkerName, event);
  if (!outcome.ok)
    return sendJson(res, 502, error('LinkerFailed', `${outcome.errorType}: the linker failed.`));
  const report = outcome.payload as { received?: number; ignoredBy?: { malformed?: number } };
  if ((report.ignoredBy?.malformed ?? 0) > 0 && report.ignoredBy?.malformed === report.received) {
    return sendJson(
      res,
      400,
      error('ValidationError', 'The body is not a CloudTrail record or event.', 'body'),
    );
  }
  return sendJson(res, 200, report);
}

const error = (code: string, message: string, field?: string) => ({
  error: { code, message, ...(field ? { details: { field } } : {}) },
});

/** `POST /local/token` `{"sub","groups"?,"expiresInSeconds"?}` → `{"token"}` from the embedded issuer. */
async function mintToken(req: IncomingMessage, res: ServerResponse, issuer: LocalIssuer) {
  let input: { sub?: unknown; groups?: unknown; expiresInSeconds?: unknown };
  try {
    input = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8') || '{}');
  } catch {
    return sendJson(res, 400, error('ValidationError', 'The body must be JSON.', 'body'));
  }
  if (typeof input.sub !== 'string' || !LOCAL_SUB.test(input.sub)) {
    return sendJson(
      res,
      400,
      error('ValidationError', 'sub is required: 1-256 of letters, digits and _ . @ + = , : -', 'sub'),
    );
  }
  const groups = input.groups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) {
    return sendJson(res, 400, error('ValidationError', 'groups must be a list of strings', 'groups'));
  }
  const expiresInSeconds = input.expiresInSeconds ?? 3600;
  if (
    typeof expiresInSeconds !== 'number' ||
    !Number.isInteger(expiresInSeconds) ||
    expiresInSeconds > 86_400
  ) {
    return sendJson(
      res,
      400,
      error('ValidationError', 'expiresInSeconds must be a whole number up to 86400', 'expiresInSeconds'),
    );
  }
  return sendJson(res, 200, {
    token: issuer.sign({ sub: input.sub, groups: groups as string[], expiresInSeconds }),
  });
}
