import './polyfills.js';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { JwtSettings } from '../../lambdas/adapters/jwt-authenticator.js';
import { jwtSettings } from '../../lambdas/adapters/settings.js';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { ConfigError } from '../../lambdas/core/errors.js';
import { API_GATEWAY_MAX_BODY_BYTES, API_GATEWAY_TIMEOUT_MS, ApiGateway } from './api-gateway.js';
import { type Assembly, type Host, loadAssembly } from './assembly-host.js';
import { createLocalAws, type LocalAws } from './aws/index.js';
import { createDelivery, type Delivery } from './cloudtrail-delivery.js';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from './config-file.js';
import { createConsoleServer } from './console-server.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { createLocalDynamoDbClient, type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.js';
import {
  BodyTooLargeError,
  type LocalServer,
  listenLocal,
  readBody,
  requestPath,
  sendJson,
} from './http-server.js';
import { loadIssuerKey } from './issuer-key.js';
import { localEndpoints } from './local-endpoints.js';
import { createLocalIssuer, type LocalIssuer } from './oidc-issuer.js';
import { sweepAfterRestart } from './restart-sweep.js';
import { createLocalSlack } from './slack-api.js';
import { createLocalStepFunctions, type LocalStepFunctions } from './step-functions.js';
import { createTablesFromTemplate, seedDemoTables } from './tables.js';

/**
 * `npm start`: the system the CDK app synthesizes, run on one machine (DESIGN.md §2, "Two
 * assemblies, one system"). The template decides everything a handler gets — its bundle, its
 * environment variables, its role's permissions, its routes, the workflow definition, the
 * EventBridge rules and their states — and this file only plays the AWS services around it:
 * API Gateway (api-gateway.ts), Lambda (assembly/lambda-runner.ts), Step Functions
 * (step-functions.ts), one local AWS endpoint enforcing IAM and recording CloudTrail (aws/),
 * EventBridge (cloudtrail-delivery.ts), an OIDC issuer and a Slack sink.
 */

/** The bot token the local Slack sink accepts; it authenticates nothing real. */
export const LOCAL_BOT_TOKEN = 'local-bot-token-for-the-slack-sink';
const STACK_NAME = 'Countersign';

export interface LocalStackOptions {
  /** 0 picks a free port (tests). @default 8787 */
  port?: number;
  /** A configuration object (tests); written to the cache and synthesized like a file. */
  config?: CountersignConfig;
  configPath?: string;
  /** Keep DynamoDB Local, S3 and the issuer's key in memory instead of under `dataDir`. */
  inMemory?: boolean;
  /** @default .countersign/data */
  dataDir?: string;
  /** Where synthesized assemblies are cached. @default .countersign/assembly */
  cacheDir?: string;
  /** @default SLACK_SIGNING_SECRET, else config `local.slackSigningSecret` */
  slackSigningSecret?: string;
  /** Tests: Wait state name → milliseconds instead of waiting until notAfter. */
  waitTimeOverrides?: Record<string, number>;
  /** Tests: Retry intervals in ms instead of the ASL's seconds. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Where log lines go. @default stdout */
  log?: (line: string) => void;
  /** Test-only: changes a private copy of the synthesized assembly before it runs (assembly-host.ts). */
  assemblyTransform?: (template: Record<string, unknown>, dir: string) => Record<string, unknown>;
  /** Test-only fault injection (see LocalFaults); never set by `countersign local`. */
  faults?: LocalFaults;
}

/** Test-only faults, played by the local AWS (as an AWS outage would look to the functions). */
export interface LocalFaults {
  /** While true, every StartExecution is answered HTTP 500 InternalFailure. */
  startExecutionFails?: boolean;
  /**
   * While above 0, the next SendTaskSuccess/SendTaskFailure fails (a non-retryable error, as when
   * the function died before its call got through) and the count goes down by one.
   */
  crashBeforeResume?: number;
}

export interface LocalStack {
  readonly url: string;
  readonly config: CountersignConfig;
  readonly slackSigningSecret: string;
  readonly account: string;
  readonly region: string;
  /** The local AWS endpoint (AWS_ENDPOINT_URL) and the other local parts. */
  readonly endpoints: { aws: string; slack: string; dynamodb: string };
  readonly issuer: LocalIssuer;
  /** What the deployed functions verify tokens with (issuer, audience, JWKS, groups claim, roles). */
  readonly jwt: JwtSettings;
  readonly sfn: LocalStepFunctions;
  readonly aws: LocalAws;
  readonly slack: ReturnType<typeof createLocalSlack>;
  readonly assembly: Assembly;
  /** The functions of the template: physical name, ARN, role, environment variable names. */
  readonly functions: Host['functions'];
  /** Execution environments (processes) alive now, per function name. */
  processes(): Record<string, number>;
  readonly delivery: Delivery;
  /** The physical name of the Countersign table. */
  readonly tableName: string;
  /** Seconds from start until every part answered. */
  readonly startSeconds: number;
  jwksFetches(): number;
  /** Test-only: stops DynamoDB Local, as in an outage (needs a dataDir). */
  stopDynamoDb(): Promise<void>;
  /** Test-only: starts DynamoDB Local again on the same port and data directory. */
  startDynamoDb(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started = Date.now();
  const write = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cacheDir = resolve(options.cacheDir ?? '.countersign/assembly');
  const configPath = options.config
    ? writeConfigForSynth(options.config, cacheDir)
    : resolve(options.configPath ?? DEFAULT_CONFIG_PATH);
  // Validate before anything starts: a bad key is named here, not deep inside a synth.
  const config = options.config ?? loadConfigFile(configPath);
  const slackSigningSecret =
    options.slackSigningSecret ?? process.env.SLACK_SIGNING_SECRET ?? config.local?.slackSigningSecret;
  if (!slackSigningSecret) {
    throw new ConfigError(
      'local.slackSigningSecret',
      'set it, or SLACK_SIGNING_SECRET, for the local Slack endpoint',
    );
  }
  const region = config.local?.region ?? 'us-east-1';
  const account = config.local?.account ?? config.targets[0]!.account;
  const dataDir = options.inMemory ? undefined : resolve(options.dataDir ?? '.countersign/data');

  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse())
      await Promise.resolve()
        .then(cleanup)
        .catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    let lock: DataDirLock | undefined;
    if (dataDir) {
      lock = acquireDataDirLock(dataDir);
      cleanups.push(() => lock?.release());
    }
    // The synth (slow the first time, cached after) and DynamoDB Local start side by side.
    const assemblyPromise = loadAssembly({
      configPath,
      cacheDir,
      log: write,
      ...(options.assemblyTransform ? { transform: options.assemblyTransform } : {}),
    });
    const dynamoDir = dataDir ? join(dataDir, 'dynamodb') : undefined;
    if (dynamoDir) mkdirSync(dynamoDir, { recursive: true });
    // A generous start timeout: on a busy machine the JVM alone can take half a minute.
    let dynamo: DynamoDbLocal = await startDynamoDbLocal(
      dynamoDir ? { dataDir: dynamoDir, startTimeoutMs: 90_000 } : { inMemory: true, startTimeoutMs: 90_000 },
    );
    cleanups.push(() => dynamo.stop());
    const assembly = await assemblyPromise;

    // The front door listens first: the issuer's URL is its URL, and the template's OidcIssuer
    // parameter is that URL, as `cdk deploy --parameters OidcIssuer=…` would set it.
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
    const audience = config.identity.audience;
    const issuer = createLocalIssuer({
      issuer: front.url,
      audience: Array.isArray(audience) ? audience[0]! : audience,
      groupsClaim: config.identity.groupsClaim,
      privateKey: loadIssuerKey(dataDir),
    });

    const slack = createLocalSlack({
      botToken: LOCAL_BOT_TOKEN,
      ...(dataDir ? { file: join(dataDir, 'slack-messages.json') } : {}),
    });
    const slackServer = await listenLocal((req, res) => slack.handle(req, res));
    cleanups.push(() => slackServer.close());

    // Step Functions runs the template's definition; its Lambda tasks go through the runner.
    const host = await assembly.start({
      account,
      region,
      stackName: STACK_NAME,
      parameters: { OidcIssuer: issuer.issuer, SlackApiUrl: `${slackServer.url}/api` },
      log: write,
    });
    cleanups.push(() => host.stop());

    const faults = options.faults;
    const sfn = createLocalStepFunctions({
      stateMachines: host.stateMachines.map((m) => ({ name: m.name, definition: m.definition })),
      functions: host.workflowFunctions,
      region,
      account,
      ...(options.waitTimeOverrides ? { waitTimeOverrides: options.waitTimeOverrides } : {}),
      ...(options.retryIntervalOverrides ? { retryIntervalOverrides: options.retryIntervalOverrides } : {}),
      log: (message) => write(JSON.stringify({ level: 'WARN', part: 'states', message })),
    });
    cleanups.push(() => sfn.stop());

    const delivery: Delivery = createDelivery({
      rules: host.rules,
      account,
      region,
      delayMs: Math.round((config.local?.cloudTrailDelaySeconds ?? 1) * 1000),
      log: (line) => write(JSON.stringify({ level: 'ERROR', part: 'events', message: line })),
    });
    cleanups.push(() => delivery.stop());

    const aws = createLocalAws({
      account,
      region,
      dynamodbEndpoint: dynamo.endpoint,
      stepFunctions: {
        handleJson: async (target, body) => {
          const fault = faultAnswer(faults, target);
          if (fault) return fault;
          return sfn.handleJson(target, body);
        },
      },
      ...(dataDir ? { dataDir: join(dataDir, 'aws') } : {}),
      onCloudTrail: (record) => delivery.record(record as unknown as Record<string, unknown>),
      log: write,
    });
    await aws.start();
    cleanups.push(() => aws.stop());

    // Infrastructure as CloudFormation would create it: tables, roles, the secret, target roles.
    const ddb = createLocalDynamoDbClient(dynamo.endpoint);
    await createTablesFromTemplate(ddb, host.tables);
    await seedDemoTables(ddb, config.local?.demoTables ?? []);
    ddb.destroy();
    for (const table of host.tables) {
      const hash = table.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
      if (table.TableName && hash) aws.registerTable(table.TableName, hash);
    }
    for (const name of config.local?.demoTables ?? []) aws.registerTable(name, 'id');
    for (const name of config.local?.demoBuckets ?? []) aws.ensureBucket(name);
    host.provision(aws, {
      targets: config.targets,
      targetRolePolicy: config.local?.targetRolePolicy,
      slackSecret: JSON.stringify({ botToken: LOCAL_BOT_TOKEN, signingSecret: slackSigningSecret }),
    });

    // On disk, the workflows a restart lost are started again (restart-sweep.ts).
    if (dataDir)
      await sweepAfterRestart(dynamo.endpoint, host.tableName, sfn, host.stateMachines[0]?.name, write);

    const gateway = new ApiGateway(host.routes, host.gatewayResponses);
    let jwksFetches = 0;
    const local = localEndpoints({
      issuer,
      slack,
      aws,
      delivery,
      host,
      endpoints: () => ({ aws: aws.url, api: front.url, slack: slackServer.url, dynamodb: dynamo.endpoint }),
      externalRoles: config.targets.flatMap((t) =>
        t.revokerRoleArn ? [t.roleArn, t.revokerRoleArn] : [t.roleArn],
      ),
      onJwks: () => {
        jwksFetches += 1;
      },
    });
    // The web console and the issuer's dev login (/console/…, /authorize, /token): console-server.ts.
    const serveConsole = createConsoleServer({ issuer, config, url: front.url });
    dispatch = async (req, res) => {
      const path = requestPath(req);
      const method = req.method ?? 'GET';
      try {
        if (await serveConsole(req, res)) return;
        if (await local(req, res, method, path)) return;
        const matched = gateway.match(method, path);
        if (!('route' in matched)) return send(res, matched);
        const headers = lowerHeaders(req);
        const invalid = gateway.validate(matched.route, headers);
        if (invalid) {
          req.resume();
          return send(res, invalid);
        }
        const body = await readBody(req, API_GATEWAY_MAX_BODY_BYTES);
        const event = gateway.event(req, matched, body);
        const result = await host.invokeFromApi(matched.route.functionName, event, API_GATEWAY_TIMEOUT_MS);
        if (!result.ok) {
          write(
            JSON.stringify({
              level: 'ERROR',
              part: 'apigateway',
              fn: matched.route.functionName,
              errorType: result.errorType,
            }),
          );
          return send(res, {
            ...gateway.gatewayResponse('DEFAULT_5XX', 'Internal server error'),
            statusCode: result.status,
          });
        }
        return send(res, gateway.answer(result.payload));
      } catch (error) {
        if (error instanceof BodyTooLargeError)
          return send(res, gateway.gatewayResponse('REQUEST_TOO_LARGE'));
        write(
          JSON.stringify({ level: 'ERROR', part: 'front-door', path, message: (error as Error).message }),
        );
        if (!res.headersSent) send(res, { ...gateway.gatewayResponse('DEFAULT_5XX'), statusCode: 500 });
      }
    };

    return {
      url: front.url,
      config,
      slackSigningSecret,
      account,
      region,
      endpoints: { aws: aws.url, slack: slackServer.url, dynamodb: dynamo.endpoint },
      issuer,
      jwt: jwtSettings(config, issuer.issuer),
      sfn,
      aws,
      slack,
      assembly,
      functions: host.functions,
      processes: () => host.processes(),
      delivery,
      tableName: host.tableName,
      startSeconds: (Date.now() - started) / 1000,
      jwksFetches: () => jwksFetches,
      async stopDynamoDb() {
        if (!dynamoDir) throw new Error('stopDynamoDb needs a dataDir: in memory, the data would be lost');
        await dynamo.stop();
      },
      async startDynamoDb() {
        if (!dynamoDir) throw new Error('startDynamoDb needs a dataDir');
        dynamo = await startDynamoDbLocal({ dataDir: dynamoDir, port: dynamo.port });
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function send(
  res: ServerResponse,
  answer: { statusCode: number; headers: Record<string, string>; body: string },
) {
  res.writeHead(answer.statusCode, answer.headers);
  res.end(answer.body);
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

/** Test-only faults, answered as the AWS endpoint would answer a failing call. */
function faultAnswer(
  faults: LocalFaults | undefined,
  target: string,
): { status: number; body: unknown } | undefined {
  if (!faults) return undefined;
  const operation = target.split('.').pop();
  if (faults.startExecutionFails && operation === 'StartExecution') {
    return { status: 500, body: { __type: 'InternalFailure', message: 'injected fault' } };
  }
  if (
    (faults.crashBeforeResume ?? 0) > 0 &&
    (operation === 'SendTaskSuccess' || operation === 'SendTaskFailure')
  ) {
    faults.crashBeforeResume = (faults.crashBeforeResume ?? 0) - 1;
    // Not retryable by the SDK: the call never got through, as when the function died first.
    return {
      status: 400,
      body: { __type: 'InjectedCrash', message: 'injected crash before the workflow was resumed' },
    };
  }
  return undefined;
}

/** A configuration object (tests) as a file the CDK app can read; JSON is YAML. */
function writeConfigForSynth(config: CountersignConfig, cacheDir: string): string {
  const text = JSON.stringify(config, null, 2);
  const dir = join(cacheDir, 'configs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`);
  writeFileSync(path, text);
  return path;
}
