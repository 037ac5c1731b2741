import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CountersignStack, HANDLERS, type HandlerName } from '../../lib/aws/countersign-stack.js';
import { loadSynthConfig } from '../../lib/aws/synth-config.js';
import { DEFINITION_FILE, FIXTURE_CONFIG_FILE, newApp } from './synth.js';
import { templateEnvironment } from './template-env.js';
import { type CfnTemplate, logicalId } from './template-helpers.js';

/**
 * The deployed artifacts, run as Lambda runs them: each function's bundle from its asset folder, in
 * a fresh Node process, with exactly the environment its template declares (intrinsics resolved to
 * stand-in values), Lambda's standard variables, and an AWS endpoint (`AWS_ENDPOINT_URL`, as the
 * local assembly gives it) that answers like DynamoDB and Secrets Manager do in the situations
 * under test. Tests of the TypeScript sources cannot catch what these do: an environment variable
 * the template never sets, a secret read at start-up, error names lost to minification.
 */

type Mode = {
  /** Every call answers HTTP 500 (a dependency outage). */
  down?: boolean;
  /** The Slack secret's value; undefined: Secrets Manager refuses (AccessDenied-like 400). */
  slackSecret?: string;
  /** DynamoDB holds this request (already approved) and a stored task token. */
  approved?: string;
};
let mode: Mode = {};
let server: Server;
let endpoint: string;
const calls: string[] = [];

function fakeAws(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (chunk: Buffer) => {
    body += chunk.toString();
  });
  req.on('end', () => {
    const target = String(req.headers['x-amz-target'] ?? '');
    calls.push(target);
    const send = (status: number, json: unknown, type = 'application/x-amz-json-1.0') => {
      res.writeHead(status, { 'content-type': type });
      res.end(JSON.stringify(json));
    };
    if (mode.down) return send(500, { __type: 'InternalServerError', message: 'down' });
    if (target === 'DynamoDB_20120810.GetItem' && mode.approved) {
      const key = JSON.parse(body).Key as { PK: { S: string }; SK: { S: string } };
      if (key.SK.S === 'TOKEN') return send(200, { Item: { ...key, token: { S: 'task-token-1' } } });
      return send(200, {
        Item: {
          ...key,
          id: { S: mode.approved },
          status: { S: 'APPROVED' },
          grant: { M: { notAfter: { S: '2030-01-01T00:00:00Z' } } },
        },
      });
    }
    if (target.startsWith('DynamoDB_20120810.')) return send(200, {});
    if (target.startsWith('AWSStepFunctions.')) return send(200, {});
    if (target === 'secretsmanager.GetSecretValue') {
      if (mode.slackSecret === undefined) {
        return send(
          400,
          { __type: 'ResourceNotFoundException', message: 'no such secret' },
          'application/x-amz-json-1.1',
        );
      }
      return send(
        200,
        { ARN: 'arn', Name: 'slack', SecretString: mode.slackSecret },
        'application/x-amz-json-1.1',
      );
    }
    send(400, { __type: 'UnknownOperationException', message: target });
  });
}

let template: CfnTemplate & { Parameters?: Record<string, { Default?: string }> };
let stack: CountersignStack;
let outdir: string;
const home = mkdtempSync(join(tmpdir(), 'countersign-home-'));

beforeAll(async () => {
  server = createServer(fakeAws);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Ten real esbuild runs: the bundles that would be deployed.
  const app = newApp({ bundle: true });
  stack = new CountersignStack(app, 'Countersign', {
    config: loadSynthConfig(FIXTURE_CONFIG_FILE),
    definitionFile: DEFINITION_FILE,
  });
  outdir = app.synth().directory;
  template = app.synth().getStackByName('Countersign').template;
}, 600_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

interface Outcome {
  ok: boolean;
  result?: { statusCode?: number; body?: string } & Record<string, unknown>;
  error?: { name: string; message: string };
}

/** Loads `name`'s bundle in a new process with its template environment and invokes it once. */
async function invoke(name: HandlerName, event: unknown): Promise<Outcome> {
  const fnId = logicalId(stack, stack.functions[name].function);
  const code = template.Resources[fnId]!.Properties!.Code as { S3Key: string };
  const bundle = join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    ...templateEnvironment(template, fnId),
    // What Lambda adds: region, the role's session, the function's identity.
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: `AKIA${'TEST'.repeat(4)}`,
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_SESSION_TOKEN: 'test-session',
    AWS_LAMBDA_FUNCTION_NAME: fnId,
    // What the local assembly adds: one endpoint for every AWS service.
    AWS_ENDPOINT_URL: endpoint,
  };
  const script = `
    const m = await import(${JSON.stringify(pathToFileURL(bundle).href)});
    const print = (o) => process.stdout.write('\\n@@OUTCOME@@' + JSON.stringify(o) + '\\n');
    try { print({ ok: true, result: await m.handler(JSON.parse(process.argv[1]), {}) }); }
    catch (e) { print({ ok: false, error: { name: e?.name, message: e?.message } }); }`;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, JSON.stringify(event)],
      { env, timeout: 60_000 },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
    );
  });
  const line = stdout.split('\n').find((l) => l.startsWith('@@OUTCOME@@'));
  if (!line) throw new Error(`no outcome from ${name}: ${stdout}`);
  return JSON.parse(line.slice('@@OUTCOME@@'.length)) as Outcome;
}

const REQUEST = 'req_AAAAAAAAAAAAAAAAAAAA';
const apiEvent = (
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body: string | null = null,
) => ({
  httpMethod: method,
  path,
  resource: path.replace(REQUEST, '{id}'),
  headers,
  queryStringParameters: null,
  pathParameters: path.includes(REQUEST) ? { id: REQUEST } : null,
  body,
});
const UNFILLED_SECRET = JSON.stringify({ botToken: '', signingSecret: 'generated-by-cloudformation' });

describe('every bundle starts with exactly its template environment', { timeout: 180_000 }, () => {
  const apiRoutes: Array<[HandlerName, string, string]> = [
    ['requestAccess', 'POST', '/v1/requests'],
    ['getRequest', 'GET', `/v1/requests/${REQUEST}`],
    ['listRequests', 'GET', '/v1/requests'],
    ['executeCall', 'POST', `/v1/requests/${REQUEST}/execute`],
    ['claimCredentials', 'POST', `/v1/requests/${REQUEST}/credentials`],
    ['revokeRequest', 'POST', `/v1/requests/${REQUEST}/revoke`],
    ['decideRequest', 'POST', `/v1/requests/${REQUEST}/decisions`],
    ['reports', 'GET', '/v1/reports/requests'],
  ];

  it('covers every function', () => {
    const covered = [
      ...apiRoutes.map(([n]) => n),
      'slackInteractions',
      'notifyApprovers',
      'settleRequest',
      'linkCloudTrail',
    ];
    expect(covered.sort()).toEqual(Object.keys(HANDLERS).sort());
  });

  it.each(apiRoutes)('%s builds and answers an unauthenticated call with 401', async (name, method, path) => {
    // Prepare: Slack's secret unfilled, as CloudFormation creates it.
    mode = { slackSecret: UNFILLED_SECRET };
    // Act
    const outcome = await invoke(name, apiEvent(method, path, { 'content-type': 'application/json' }, '{}'));
    // Assess: the handler was built (settings, clients, issuer) and refused the caller itself.
    expect(outcome.error, JSON.stringify(outcome)).toBeUndefined();
    expect(outcome.result?.statusCode).toBe(401);
  });

  it.each([['notifyApprovers' as const], ['settleRequest' as const]])(
    '%s builds without STATE_MACHINE_ARN and with the Slack secret unfilled',
    async (name) => {
      mode = { slackSecret: UNFILLED_SECRET };
      // An event it refuses: the build (settings, workflow, Slack) runs first, then the check.
      const outcome = await invoke(name, {});
      expect(outcome.error).toEqual({ name: 'ValidationError', message: expect.any(String) });
    },
  );

  it('link-cloudtrail builds and answers input it cannot read', async () => {
    mode = {};
    const outcome = await invoke('linkCloudTrail', { unexpected: true });
    expect(outcome.ok).toBe(true);
    expect(outcome.result).toMatchObject({ received: 1, stored: 0 });
  });
});

describe('errors keep the names the state machine retries on', { timeout: 180_000 }, () => {
  it('settle-request throws RequestNotReadyError for a request not readable yet', async () => {
    mode = { slackSecret: UNFILLED_SECRET };
    const outcome = await invoke('settleRequest', { step: 'grant', requestId: REQUEST });
    expect(outcome.error?.name).toBe('RequestNotReadyError');
  });

  it('notify-approvers throws RequestNotReadyError, and DependencyError while DynamoDB is down', async () => {
    mode = { slackSecret: UNFILLED_SECRET };
    expect((await invoke('notifyApprovers', { requestId: REQUEST, taskToken: 't' })).error?.name).toBe(
      'RequestNotReadyError',
    );
    mode = { down: true };
    expect((await invoke('notifyApprovers', { requestId: REQUEST, taskToken: 't' })).error?.name).toBe(
      'DependencyError',
    );
  });

  it('notify-approvers resumes a request decided before its token was stored, with no STATE_MACHINE_ARN', async () => {
    // Prepare: the request was approved through the API before the notify step stored its token.
    mode = { approved: REQUEST };
    calls.length = 0;
    // Act
    const outcome = await invoke('notifyApprovers', { requestId: REQUEST, taskToken: 'task-token-1' });
    // Assess: it answered the token itself (states:SendTaskSuccess, granted to it) and posted nothing.
    expect(outcome).toEqual({ ok: true, result: { notified: REQUEST } });
    expect(calls).toContain('AWSStepFunctions.SendTaskSuccess');
    expect(calls).not.toContain('secretsmanager.GetSecretValue');
  });

  it('names exactly what the ASL retries', async () => {
    const { readFileSync } = await import('node:fs');
    const asl = JSON.parse(readFileSync(DEFINITION_FILE, 'utf8')) as {
      States: Record<string, { Retry?: Array<{ ErrorEquals: string[] }> }>;
    };
    const retried = new Set(
      Object.values(asl.States).flatMap((s) => (s.Retry ?? []).flatMap((r) => r.ErrorEquals)),
    );
    expect(retried).toContain('DependencyError');
    expect(retried).toContain('RequestNotReadyError');
  });
});

describe('Slack never blocks what does not need it', { timeout: 180_000 }, () => {
  it('revoke-request starts while Secrets Manager is unreachable', async () => {
    mode = { down: true };
    calls.length = 0;
    const outcome = await invoke(
      'revokeRequest',
      apiEvent('POST', `/v1/requests/${REQUEST}/revoke`, { 'content-type': 'application/json' }, '{}'),
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.statusCode).toBe(401);
    expect(calls).not.toContain('secretsmanager.GetSecretValue');
  });

  const click = () =>
    apiEvent(
      'POST',
      '/v1/slack/interactions',
      {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)),
        'x-slack-signature': `v0=${'0'.repeat(64)}`,
      },
      'payload=%7B%7D',
    );

  it('slack-interactions answers 503 while its secret cannot be read', async () => {
    mode = {};
    const outcome = await invoke('slackInteractions', click());
    expect(outcome.result?.statusCode).toBe(503);
    expect(JSON.parse(outcome.result?.body ?? '{}').error.code).toBe('DependencyUnavailable');
  });

  it('slack-interactions answers 401, saying so, when the secret has no signing secret', async () => {
    mode = { slackSecret: JSON.stringify({ botToken: '', signingSecret: '' }) };
    const outcome = await invoke('slackInteractions', click());
    expect(outcome.result?.statusCode).toBe(401);
    expect(JSON.parse(outcome.result?.body ?? '{}').error.message).toMatch(/signing secret is not set up/);
  });

  it('slack-interactions refuses a bad signature with the unfilled secret (401)', async () => {
    mode = { slackSecret: UNFILLED_SECRET };
    const outcome = await invoke('slackInteractions', click());
    expect(outcome.result?.statusCode).toBe(401);
  });
});
