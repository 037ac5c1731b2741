import './polyfills.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildAccessRequests,
  buildAuthenticator,
  buildClaims,
  buildDecisions,
  buildNotifier,
  buildReader,
  buildRevocations,
  buildSteps,
  buildWorkflow,
  optionalMac,
} from '../../lambdas/adapters/compose.js';
import { localHistoryKey } from '../../lambdas/adapters/hmac-mac.js';
import type { ApiEvent, ApiResult } from '../../lambdas/adapters/http.js';
import { createLogger, type Logger } from '../../lambdas/adapters/logger.js';
import { jwtSettings, type Settings } from '../../lambdas/adapters/settings.js';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { ConfigError } from '../../lambdas/core/errors.js';
import type { ApprovalWorkflow } from '../../lambdas/core/ports.js';
import { createClaimCredentialsHandler } from '../../lambdas/handlers/claim-credentials.js';
import { createDecideRequestHandler } from '../../lambdas/handlers/decide-request.js';
import { createGetRequestHandler } from '../../lambdas/handlers/get-request.js';
import { buildLinker, createLocalCloudTrailEndpoint } from '../../lambdas/handlers/link-cloudtrail.js';
import {
  createNotifyApproversHandler,
  type NotifyApproversEvent,
} from '../../lambdas/handlers/notify-approvers.js';
import { buildReports, createReportsHandler } from '../../lambdas/handlers/reports.js';
import { createRequestAccessHandler } from '../../lambdas/handlers/request-access.js';
import { createRevokeRequestHandler, updateMessageOnRevoke } from '../../lambdas/handlers/revoke-request.js';
import {
  createSettleRequestHandler,
  type SettleRequestEvent,
} from '../../lambdas/handlers/settle-request.js';
import { createSlackInteractionsHandler } from '../../lambdas/handlers/slack-interactions.js';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from './config-file.js';
import { createLocalDynamoDbClient, ensureTable, startDynamoDbLocal } from './dynamodb-local.js';
import {
  BodyTooLargeError,
  type LocalServer,
  listenLocal,
  readBody,
  requestPath,
  sendJson,
} from './http-server.js';
import { createLocalIssuer } from './oidc-issuer.js';
import { createLocalSlack } from './slack-api.js';
import { createLocalStepFunctions } from './step-functions.js';
import { createLocalSts } from './sts.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const APPROVAL_ASL_PATH = join(ROOT, 'state-machines', 'approval.asl.json');
const STATE_MACHINE_NAME = 'countersign-approval';
const TABLE_NAME = 'countersign';
const LOCAL_ACCOUNT = '000000000000';
/**
 * What the handlers sign their calls to the stand-ins with: shaped like an access key id (the local
 * STS/IAM verify SigV4 as AWS does) but plainly not one. DynamoDB Local accepts any credentials.
 */
const LOCAL_SERVICE_CREDENTIALS = {
  accessKeyId: 'LOCALCOUNTERSIGN0001',
  secretAccessKey: 'local-not-a-secret',
};
/** The bot token the local Slack sink accepts; it authenticates nothing real. */
const LOCAL_BOT_TOKEN = 'local-bot-token-for-the-slack-sink';

/** The ASL file with `definitionSubstitutions` applied, exactly as CDK does on AWS. */
export function loadApprovalDefinition(substitutions: Record<string, string>): object {
  let text = readFileSync(APPROVAL_ASL_PATH, 'utf8');
  for (const [name, value] of Object.entries(substitutions)) text = text.replaceAll(`\${${name}}`, value);
  const leftover = /\$\{[A-Za-z]+\}/.exec(text);
  if (leftover)
    throw new ConfigError('state-machines/approval.asl.json', `no substitution for ${leftover[0]}`);
  return JSON.parse(text) as object;
}

export interface LocalStackOptions {
  /** 0 picks a free port (tests). @default 8787 */
  port?: number;
  config?: CountersignConfig;
  configPath?: string;
  /** Keep DynamoDB Local in memory instead of under `dataDir`. */
  inMemory?: boolean;
  /** @default .countersign/data */
  dataDir?: string;
  /** @default SLACK_SIGNING_SECRET, else config `local.slackSigningSecret` */
  slackSigningSecret?: string;
  /** Tests: Wait state name → milliseconds instead of waiting until notAfter. */
  waitTimeOverrides?: Record<string, number>;
  /** Tests: Retry intervals in ms instead of the ASL's seconds. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Where log lines go. @default stdout */
  log?: (line: string) => void;
  /**
   * Test-only fault injection for the resilience tests; absent (off) everywhere else, and never set
   * by `countersign local`. The stack reads this object on every call, so a test flips faults on and
   * off while the stack runs.
   */
  faults?: LocalFaults;
}

/** Test-only faults (see `LocalStackOptions.faults`). Each is off unless a test sets it. */
export interface LocalFaults {
  /** While true, the local Step Functions answers every StartExecution with HTTP 500 InternalFailure. */
  startExecutionFails?: boolean;
  /**
   * While above 0, the handlers' next resume of a waiting workflow (SendTaskSuccess/SendTaskFailure)
   * throws instead of being sent, and the count goes down by one: a handler that crashed after the
   * decision was written but before the workflow was told.
   */
  crashBeforeResume?: number;
}

export interface LocalStack {
  readonly url: string;
  readonly config: CountersignConfig;
  readonly settings: Settings;
  readonly slackSigningSecret: string;
  readonly endpoints: { dynamodb: string; sfn: string; sts: string; slack: string };
  readonly issuer: ReturnType<typeof createLocalIssuer>;
  readonly sfn: ReturnType<typeof createLocalStepFunctions>;
  readonly sts: ReturnType<typeof createLocalSts>;
  readonly slack: ReturnType<typeof createLocalSlack>;
  /** Seconds from start until every part answered. */
  readonly startSeconds: number;
  /** How many times the embedded issuer's JWKS was served (tests: the verifier's refetch limit). */
  jwksFetches(): number;
  /**
   * Test-only: stops DynamoDB Local, as in an outage. Needs a `dataDir` (not `inMemory`) so that
   * `startDynamoDb` finds the data again.
   */
  stopDynamoDb(): Promise<void>;
  /** Test-only: starts DynamoDB Local again on the same port and data directory. */
  startDynamoDb(): Promise<void>;
  stop(): Promise<void>;
}

type Route = {
  method: string;
  pattern: RegExp;
  resource: string;
  handler: (event: ApiEvent) => Promise<ApiResult>;
};

/**
 * The whole control plane on one machine: DynamoDB Local, the local Step Functions running the real
 * ASL file, local STS/IAM, the Slack sink, an embedded OIDC issuer, and an HTTP front door that
 * turns each request into an API Gateway proxy event for the same handlers Lambda runs.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started = Date.now();
  const config = options.config ?? loadConfigFile(options.configPath ?? DEFAULT_CONFIG_PATH);
  const slackSigningSecret =
    options.slackSigningSecret ?? process.env.SLACK_SIGNING_SECRET ?? config.local?.slackSigningSecret;
  if (!slackSigningSecret) {
    throw new ConfigError(
      'local.slackSigningSecret',
      'set it, or SLACK_SIGNING_SECRET, for the local Slack endpoint',
    );
  }
  const region = config.local?.region ?? 'us-east-1';
  const write = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger: Logger = createLogger({ stack: 'local' }, write);
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };

  try {
    const dataDir = options.inMemory ? undefined : (options.dataDir ?? '.countersign/data');
    let dynamo = await startDynamoDbLocal(dataDir === undefined ? { inMemory: true } : { dataDir });
    // A closure over the variable, not the first process: startDynamoDb (tests) may replace it.
    cleanups.push(() => dynamo.stop());
    const ddb = createLocalDynamoDbClient(dynamo.endpoint);
    await ensureTable(ddb, TABLE_NAME);
    ddb.destroy();

    const sts = createLocalSts({
      account: LOCAL_ACCOUNT,
      region,
      // Revoker roles exist too, so a local configuration that names them revokes through them.
      roles: config.targets.flatMap((t) => (t.revokerRoleArn ? [t.roleArn, t.revokerRoleArn] : [t.roleArn])),
    });
    const stsServer = await listenLocal((req, res) => sts.handle(req, res));
    cleanups.push(() => stsServer.close());
    const slack = createLocalSlack({ botToken: LOCAL_BOT_TOKEN });
    const slackServer = await listenLocal((req, res) => slack.handle(req, res));
    cleanups.push(() => slackServer.close());

    // The front door listens before the issuer exists, because the issuer's URL is its URL.
    let dispatch: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async (_req, res) =>
      sendJson(res, 503, { error: { code: 'Starting', message: 'Countersign is starting.' } });
    let front: LocalServer;
    try {
      front = await listenLocal((req, res) => dispatch(req, res), { port: options.port ?? 8787 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new ConfigError('--port', `port ${options.port ?? 8787} is in use; pass --port or PORT`);
      }
      throw error;
    }
    cleanups.push(() => front.close());
    const issuer = createLocalIssuer({ issuer: front.url, audience: firstAudience(config) });

    const functionArn = (name: string) => `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${name}`;
    const notifyArn = functionArn('countersign-notify-approvers');
    const settleArn = functionArn('countersign-settle-request');
    // Handlers are bound after the settings exist; the workflow only calls them once running.
    const workflowFunctions: Record<string, (payload: unknown) => Promise<unknown>> = {};
    const sfn = createLocalStepFunctions({
      stateMachines: [
        {
          name: STATE_MACHINE_NAME,
          definition: loadApprovalDefinition({
            NotifyApproversFunctionArn: notifyArn,
            SettleRequestFunctionArn: settleArn,
          }),
        },
      ],
      functions: {
        [notifyArn]: (payload) => workflowFunctions.notify!(payload),
        [settleArn]: (payload) => workflowFunctions.settle!(payload),
      },
      region,
      account: LOCAL_ACCOUNT,
      ...(options.waitTimeOverrides ? { waitTimeOverrides: options.waitTimeOverrides } : {}),
      ...(options.retryIntervalOverrides ? { retryIntervalOverrides: options.retryIntervalOverrides } : {}),
      log: (message) => logger.warn(message),
    });
    const sfnServer = await listenLocal((req, res) =>
      options.faults?.startExecutionFails && req.headers['x-amz-target'] === 'AWSStepFunctions.StartExecution'
        ? failLocalCall(req, res)
        : sfn.handle(req, res),
    );
    cleanups.push(() => sfnServer.close());
    cleanups.push(() => sfn.stop());

    const settings: Settings = {
      config,
      region,
      tableName: TABLE_NAME,
      stateMachineArn: sfn.stateMachineArn(STATE_MACHINE_NAME),
      endpoints: { dynamodb: dynamo.endpoint, sfn: sfnServer.url, sts: stsServer.url, iam: stsServer.url },
      credentials: LOCAL_SERVICE_CREDENTIALS,
      // The role CloudTrail records of local minting name (the claim function's role on AWS).
      mintingRoleArn: `arn:aws:iam::${config.targets[0]!.account}:role/countersign-claim-credentials`,
      // The history key: kept beside the data it protects, or per run when the data is in memory.
      historyKey: {
        localKey: (dataDir === undefined
          ? randomBytes(32)
          : localHistoryKey(join(dataDir, 'history.key'))
        ).toString('base64'),
      },
      jwt: jwtSettings(config, issuer.issuer, issuer.jwksUri),
      slack: {
        apiUrl: `${slackServer.url}/api`,
        botToken: LOCAL_BOT_TOKEN,
        signingSecret: slackSigningSecret,
      },
    };
    const secrets = { botToken: LOCAL_BOT_TOKEN, signingSecret: slackSigningSecret };
    if (options.faults) injectResumeCrash(buildWorkflow(settings), options.faults);
    const steps = buildSteps(settings, secrets);
    const notify = createNotifyApproversHandler(steps);
    const settle = createSettleRequestHandler(steps);
    workflowFunctions.notify = (payload) => notify(payload as NotifyApproversEvent);
    workflowFunctions.settle = (payload) => settle(payload as SettleRequestEvent);

    const fnLogger = (fn: string) => createLogger({ fn }, write);
    const authenticator = buildAuthenticator(settings);
    const reports = createReportsHandler({
      ...optionalMac(settings),
      reports: buildReports(settings),
      authenticator,
      logger: fnLogger('reports'),
      issuer: settings.jwt.issuer,
    });
    const routes: Route[] = [
      route(
        'POST',
        '/v1/requests',
        createRequestAccessHandler({
          requests: buildAccessRequests(settings),
          authenticator,
          logger: fnLogger('request-access'),
        }),
      ),
      route(
        'GET',
        '/v1/requests/{id}',
        createGetRequestHandler({
          requests: buildReader(settings),
          authenticator,
          logger: fnLogger('get-request'),
          maxWaitSeconds: config.limits.maxWaitSeconds,
        }),
      ),
      route(
        'POST',
        '/v1/requests/{id}/credentials',
        createClaimCredentialsHandler({
          claims: buildClaims(settings),
          authenticator,
          logger: fnLogger('claim-credentials'),
        }),
      ),
      route(
        'POST',
        '/v1/requests/{id}/revoke',
        createRevokeRequestHandler({
          revocations: buildRevocations(settings, updateMessageOnRevoke(buildNotifier(settings, secrets))),
          authenticator,
          logger: fnLogger('revoke-request'),
        }),
      ),
      route(
        'POST',
        '/v1/requests/{id}/decisions',
        createDecideRequestHandler({
          decisions: buildDecisions(settings),
          authenticator,
          logger: fnLogger('decide-request'),
        }),
      ),
      route(
        'POST',
        '/v1/slack/interactions',
        createSlackInteractionsHandler({
          decisions: buildDecisions(settings),
          notifier: buildNotifier(settings, secrets),
          signingSecret: slackSigningSecret,
          config,
          logger: fnLogger('slack-interactions'),
        }),
      ),
      ...['/v1/reports/requests', '/v1/reports/requests/{id}', '/v1/reports/access-review'].map((resource) =>
        route('GET', resource, reports),
      ),
      // Local only: feeds CloudTrail records or EventBridge events to the same linker code as on AWS.
      route(
        'POST',
        '/local/cloudtrail',
        createLocalCloudTrailEndpoint({ linker: buildLinker(settings), logger: fnLogger('link-cloudtrail') }),
      ),
    ];

    let jwksFetches = 0;
    dispatch = async (req, res) => {
      const path = requestPath(req);
      const method = req.method ?? 'GET';
      try {
        if (method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true });
        if (method === 'GET' && path === '/.well-known/jwks.json') {
          jwksFetches += 1;
          return sendJson(res, 200, issuer.jwks());
        }
        if (method === 'GET' && path === '/.well-known/openid-configuration') {
          return sendJson(res, 200, issuer.openidConfiguration());
        }
        if (method === 'GET' && path === '/local/slack/messages') return sendJson(res, 200, slack.messages());
        if (method === 'GET' && path === '/local/sts/sessions') return sendJson(res, 200, sts.sessions());
        if (method === 'POST' && path === '/local/token') return await mintToken(req, res, issuer);
        const matched = routes.filter((r) => r.pattern.test(path));
        if (matched.length === 0) return sendJson(res, 404, errorOf('NotFound', `No route for ${path}.`));
        const target = matched.find((r) => r.method === method);
        if (!target)
          return sendJson(res, 405, errorOf('MethodNotAllowed', `${method} is not allowed on ${path}.`));
        const body = await readBody(req, 1024 * 1024);
        const result = await target.handler(toApiEvent(req, target, path, body));
        res.writeHead(result.statusCode, result.headers);
        res.end(result.body);
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          return sendJson(res, 413, errorOf('PayloadTooLarge', 'The body is larger than the API accepts.'));
        }
        logger.error('local front door failed', { path, error: (error as Error).message });
        if (!res.headersSent) sendJson(res, 500, errorOf('InternalError', 'Something went wrong.'));
      }
    };

    const stack: LocalStack = {
      url: front.url,
      config,
      settings,
      slackSigningSecret,
      endpoints: {
        dynamodb: dynamo.endpoint,
        sfn: sfnServer.url,
        sts: stsServer.url,
        slack: slackServer.url,
      },
      issuer,
      sfn,
      sts,
      slack,
      startSeconds: (Date.now() - started) / 1000,
      jwksFetches: () => jwksFetches,
      async stopDynamoDb() {
        if (dataDir === undefined)
          throw new Error('stopDynamoDb needs a dataDir: in memory, the data would be lost');
        await dynamo.stop();
      },
      async startDynamoDb() {
        if (dataDir === undefined) throw new Error('startDynamoDb needs a dataDir');
        dynamo = await startDynamoDbLocal({ dataDir, port: dynamo.port });
      },
      stop: stopAll,
    };
    return stack;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Test-only (`faults.startExecutionFails`): what a failing AWS endpoint answers. */
function failLocalCall(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  sendJson(res, 500, { __type: 'InternalFailure', message: 'injected fault' }, 'application/x-amz-json-1.0');
}

/**
 * Test-only (`faults.crashBeforeResume`): the handlers share one workflow client (compose memoises
 * it per settings), so wrapping its resume calls makes every handler "crash" at that point.
 */
function injectResumeCrash(workflow: ApprovalWorkflow, faults: LocalFaults): void {
  const crash = () => {
    if ((faults.crashBeforeResume ?? 0) <= 0) return;
    faults.crashBeforeResume = (faults.crashBeforeResume ?? 0) - 1;
    throw new Error('injected crash before the workflow was resumed');
  };
  const succeed = workflow.succeed.bind(workflow);
  const fail = workflow.fail.bind(workflow);
  workflow.succeed = async (token, output) => {
    crash();
    return succeed(token, output);
  };
  workflow.fail = async (token, error, cause) => {
    crash();
    return fail(token, error, cause);
  };
}

function firstAudience(config: CountersignConfig): string {
  const { audience } = config.identity;
  return Array.isArray(audience) ? audience[0]! : audience;
}

const errorOf = (code: string, message: string) => ({ error: { code, message } });

function route(method: string, resource: string, handler: Route['handler']): Route {
  const pattern = new RegExp(`^${resource.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`);
  return { method, pattern, resource, handler };
}

function toApiEvent(req: IncomingMessage, target: Route, path: string, body: Buffer): ApiEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const params = target.pattern.exec(path)?.groups ?? {};
  const decoded = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, safeDecode(v)]));
  return {
    httpMethod: req.method ?? 'GET',
    path,
    resource: target.resource,
    headers,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    pathParameters: Object.keys(decoded).length > 0 ? decoded : null,
    body: body.length > 0 ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1' },
    },
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** `POST /local/token` `{"sub","groups"?,"expiresInSeconds"?}` → `{"token"}` from the embedded issuer. */
async function mintToken(
  req: IncomingMessage,
  res: ServerResponse,
  issuer: ReturnType<typeof createLocalIssuer>,
) {
  let input: { sub?: unknown; groups?: unknown; expiresInSeconds?: unknown };
  try {
    input = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8') || '{}');
  } catch {
    return sendJson(res, 400, {
      error: { code: 'ValidationError', message: 'The body must be JSON.', details: { field: 'body' } },
    });
  }
  if (typeof input.sub !== 'string' || !/^[\w.@+=,:-]{1,256}$/.test(input.sub)) {
    return sendJson(res, 400, {
      error: {
        code: 'ValidationError',
        message: 'sub is required: 1-256 of letters, digits and _ . @ + = , : -',
        details: { field: 'sub' },
      },
    });
  }
  const groups = input.groups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) {
    return sendJson(res, 400, {
      error: {
        code: 'ValidationError',
        message: 'groups must be a list of strings',
        details: { field: 'groups' },
      },
    });
  }
  const expiresInSeconds = input.expiresInSeconds ?? 3600;
  if (
    typeof expiresInSeconds !== 'number' ||
    !Number.isInteger(expiresInSeconds) ||
    expiresInSeconds > 86_400
  ) {
    return sendJson(res, 400, {
      error: {
        code: 'ValidationError',
        message: 'expiresInSeconds must be a whole number up to 86400',
        details: { field: 'expiresInSeconds' },
      },
    });
  }
  return sendJson(res, 200, {
    token: issuer.sign({ sub: input.sub, groups: groups as string[], expiresInSeconds }),
  });
}

const USAGE = `Usage: countersign local [--port N] [--config FILE] [--in-memory] [--data-dir DIR]

Runs the whole control plane on 127.0.0.1: the API, DynamoDB Local, the approval workflow
(the real ASL file), local STS, a Slack sink and an OIDC issuer for test tokens.

  --port N         port of the API (default: PORT or 8787)
  --config FILE    configuration file (default: COUNTERSIGN_CONFIG or ${DEFAULT_CONFIG_PATH})
  --in-memory      keep DynamoDB Local in memory (nothing survives a restart)
  --data-dir DIR   where DynamoDB Local keeps its file (default: .countersign/data)
  -h, --help       this help`;

/** `countersign local` (what `npm start` runs): start, print one ready line, stop on Ctrl-C. */
export async function runLocal(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      config: { type: 'string' },
      'in-memory': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const portText = values.port ?? process.env.PORT ?? '8787';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535)
    throw new ConfigError('--port', `"${portText}" is not a port number`);
  process.stderr.write(
    'Starting Countersign locally (DynamoDB Local, workflow, STS, Slack sink, OIDC issuer)...\n',
  );
  const stack = await startLocalStack({
    port,
    configPath: values.config ?? process.env.COUNTERSIGN_CONFIG ?? DEFAULT_CONFIG_PATH,
    inMemory: values['in-memory'],
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
  });
  const u = stack.url;
  process.stdout.write(
    [
      `Countersign is ready at ${u} (started in ${stack.startSeconds.toFixed(1)} s; local STS ${stack.endpoints.sts}, Slack sink ${stack.endpoints.slack})`,
      `  Try:  TOKEN=$(curl -s -X POST ${u}/local/token -H 'content-type: application/json' -d '{"sub":"deploy-bot","groups":["agents"]}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')`,
      `        curl -s -X POST ${u}/v1/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"resource":"arn:aws:dynamodb:us-east-1:111122223333:table/orders","actions":["dynamodb:GetItem"],"reason":"Look up order 8812"}'`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const shutdown = () => {
      process.stderr.write('Stopping Countersign...\n');
      stack.stop().then(resolve, resolve);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}
