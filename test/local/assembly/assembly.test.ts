import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS } from '../../../lib/aws/countersign-stack.js';
import {
  assertEventPatternSize,
  matchesPattern,
  ruleReceives,
} from '../../../lib/local/assembly/event-patterns.js';
import { runnableFunction } from '../../../lib/local/assembly/functions.js';
import {
  type ResolveContext,
  resolve,
  resolveDefinition,
  resolveEnvironment,
} from '../../../lib/local/assembly/intrinsics.js';
import { createLambdaRunner, type LambdaRunner } from '../../../lib/local/assembly/lambda-runner.js';
import { physicalResources } from '../../../lib/local/assembly/physical-resources.js';
import {
  assemblyKey,
  CLI_SETTINGS_CONTEXT,
  cdkContext,
  type SynthesizedAssembly,
  synthesizeAssembly,
} from '../../../lib/local/assembly/synth.js';
import {
  type AssemblyModel,
  type FunctionModel,
  readAssemblyModel,
} from '../../../lib/local/assembly/template.js';
import { PROJECT_ROOT } from '../../../lib/project-root.js';
import { fakeAccessKeyId } from '../../support/fake-keys.js';

/**
 * The real CDK app (bin/app.ts) synthesized with the end-to-end configuration, read back, resolved
 * and its real bundles run: what deploys is what runs.
 */

const FIXTURE_CONFIG = join(PROJECT_ROOT, 'test', 'fixtures', 'config.yaml');
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const TARGET_ROLE = 'arn:aws:iam::111122223333:role/countersign-target';

let work: string;
let cacheDir: string;
let first: SynthesizedAssembly;
let firstSeconds: number;
/** The assembly the bundles run from (see beforeAll). */
let forRuns: SynthesizedAssembly;
const synthLog: string[] = [];

/** Values the local runner passes as `cdk deploy --parameters` would, for the parameters the template declares. */
function parameterOverrides(model: AssemblyModel): Record<string, string> {
  const wanted: Record<string, string> = {
    OidcIssuer: 'http://127.0.0.1:9/issuer',
    SlackApiUrl: 'http://127.0.0.1:9/slack/api',
  };
  return Object.fromEntries(Object.entries(wanted).filter(([name]) => model.parameters[name]));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'countersign-assembly-'));
  cacheDir = join(work, 'cache');
  const started = performance.now();
  first = await synthesizeAssembly({ configPath: FIXTURE_CONFIG, cacheDir, log: (l) => synthLog.push(l) });
  firstSeconds = (performance.now() - started) / 1000;
  // The template declares OidcIssuer: the runs below give it a value, as `cdk deploy --parameters` would.
  forRuns = first;
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('synthesizeAssembly', () => {
  it('synthesizes once, then reuses the assembly while config and sources are unchanged', async () => {
    expect(first.cached).toBe(false);
    expect(synthLog[0]).toBe('Synthesizing the CDK app (first start or sources changed)…');
    expect(synthLog[1]).toMatch(/^Synthesized the CDK app in \d+\.\d s/);
    const started = performance.now();
    const again = await synthesizeAssembly({ configPath: FIXTURE_CONFIG, cacheDir });
    const cachedSeconds = (performance.now() - started) / 1000;
    console.info(`synth: first ${firstSeconds.toFixed(1)} s, cached ${cachedSeconds.toFixed(2)} s`);
    expect(again).toMatchObject({ cached: true, dir: first.dir, stackName: 'Countersign', key: first.key });
    expect(again.template).toEqual(first.template);
    expect(cachedSeconds).toBeLessThan(5);
    expect(first.templatePath).toBe(join(first.dir, 'Countersign.template.json'));
  });

  it('keys the cache on the configuration bytes', async () => {
    const changed = join(work, 'config-changed.yaml');
    writeFileSync(changed, `${readFileSync(FIXTURE_CONFIG, 'utf8')}\n# one more byte\n`);
    expect(await assemblyKey(changed)).not.toBe(first.key);
  });

  it("passes cdk.json's context (the feature flags), the config file and the CLI's settings, as cdk synth does", () => {
    const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    };
    const context = cdkContext(FIXTURE_CONFIG);
    expect(context).toMatchObject({
      ...cdkJson.context,
      configFile: FIXTURE_CONFIG,
      ...CLI_SETTINGS_CONTEXT,
    });
    // Asset metadata is a CLI setting; the model finds each bundle through it.
    const fn = Object.values(first.template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
    expect(fn?.Metadata?.['aws:asset:path']).toMatch(/^asset\.[0-9a-f]{64}$/);
    expect(fn?.Metadata?.['aws:cdk:path']).toMatch(/^Countersign\//);
  });

  it("surfaces the app's error when the configuration is invalid, naming the key", async () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, readFileSync(FIXTURE_CONFIG, 'utf8').replace('default: deny', 'default: maybe'));
    await expect(synthesizeAssembly({ configPath: bad, cacheDir })).rejects.toThrow(/default/);
    expect(readdirSync(cacheDir).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  }, 120_000);
});

describe('the model of the synthesized template', () => {
  let model: AssemblyModel;
  let ctx: ResolveContext;
  const fnBy = (prefix: string): FunctionModel => {
    const found = model.functions.find((f) => f.logicalId.startsWith(prefix));
    if (!found) throw new Error(`no function ${prefix}`);
    return found;
  };

  beforeAll(() => {
    model = readAssemblyModel(first);
    ctx = physicalResources(model, {
      account: ACCOUNT,
      region: REGION,
      parameters: parameterOverrides(model),
    });
  });

  it('has every handler as a function, each with its bundle in its asset folder', () => {
    expect(model.functions).toHaveLength(Object.keys(HANDLERS).length);
    for (const fn of model.functions) {
      expect(existsSync(join(fn.assetDir, 'index.mjs')), fn.logicalId).toBe(true);
      expect(fn.assetDir.startsWith(first.dir)).toBe(true);
      expect(fn.handler).toBe('index.handler');
      expect(fn.runtime).toMatch(/^nodejs(22|24)\.x$/);
      expect(model.roles.some((r) => r.logicalId === fn.roleLogicalId)).toBe(true);
      expect(fn.timeoutSeconds).toBeGreaterThan(0);
    }
    // Every role of a function has its policies attached (AWS::IAM::Policy with Roles: [Ref]).
    const role = model.roles.find((r) => r.logicalId === fnBy('GetRequest').roleLogicalId)!;
    expect(role.policies.length).toBeGreaterThan(0);
    expect(resolve(role.assumeRolePolicyDocument, ctx)).toMatchObject({
      Statement: [
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ],
    });
  });

  it('has the API routes of lib/aws/countersign-stack.ts, each to its function', () => {
    const routes = model.routes.map((r) => ({
      route: `${r.method} ${r.path}`,
      fn: r.functionLogicalId.replace(/Function[0-9A-F]{8}$/, ''),
      headers: r.requiredHeaders,
    }));
    expect(routes).toEqual(
      expect.arrayContaining([
        { route: 'POST /v1/requests', fn: 'RequestAccess', headers: ['Content-Type'] },
        { route: 'GET /v1/requests/{id}', fn: 'GetRequest', headers: [] },
        { route: 'POST /v1/requests/{id}/credentials', fn: 'ClaimCredentials', headers: [] },
        { route: 'POST /v1/requests/{id}/revoke', fn: 'RevokeRequest', headers: [] },
        { route: 'POST /v1/requests/{id}/decisions', fn: 'DecideRequest', headers: ['Content-Type'] },
        { route: 'POST /v1/slack/interactions', fn: 'SlackInteractions', headers: ['Content-Type'] },
        { route: 'GET /v1/reports/requests', fn: 'Reports', headers: [] },
        { route: 'GET /v1/reports/requests/{id}', fn: 'Reports', headers: [] },
        { route: 'GET /v1/reports/access-review', fn: 'Reports', headers: [] },
      ]),
    );
  });

  it('resolves every resource property and output of the template: nothing is left to guess', () => {
    expect(Object.keys(ctx.resources).sort()).toEqual(Object.keys(first.template.Resources).sort());
    for (const [id, resource] of Object.entries(first.template.Resources)) {
      expect(() => resolve(resource.Properties ?? {}, ctx), id).not.toThrow();
    }
    expect(() => resolve(first.template.Outputs, ctx)).not.toThrow();
  });

  it("resolves every function's environment to local names", () => {
    const table = Object.entries(ctx.resources).find(([, r]) => r.type === 'AWS::DynamoDB::Table')![1];
    for (const fn of model.functions) {
      const env = resolveEnvironment(fn, ctx);
      expect(env.TABLE_NAME, fn.logicalId).toBe(table.ref);
      for (const value of Object.values(env)) expect(typeof value).toBe('string');
      // Every ARN a function is given is the ARN of a resource of this stack.
      const arns = new Set(
        Object.values(ctx.resources).flatMap((r) => [r.ref, ...Object.values(r.attributes)]),
      );
      for (const [key, value] of Object.entries(env)) {
        if (key.endsWith('_ARN')) expect(arns.has(value), `${fn.logicalId} ${key}`).toBe(true);
      }
    }
  });

  it('resolves the state machine definition to valid JSON that invokes the functions by their ARNs', () => {
    expect(model.stateMachines).toHaveLength(1);
    const definition = JSON.parse(resolveDefinition(model.stateMachines[0]!, ctx)) as {
      StartAt: string;
      States: Record<
        string,
        {
          Type: string;
          Resource?: string;
          Parameters?: { FunctionName?: string };
          Arguments?: { FunctionName?: string };
        }
      >;
    };
    expect(definition.States[definition.StartAt]).toBeDefined();
    const invoked = Object.values(definition.States)
      .map((s) => s.Parameters?.FunctionName ?? s.Arguments?.FunctionName)
      .filter((name): name is string => typeof name === 'string');
    expect(new Set(invoked)).toEqual(
      new Set([
        ctx.resources[fnBy('NotifyApprovers').logicalId]!.attributes.Arn,
        ctx.resources[fnBy('SettleRequest').logicalId]!.attributes.Arn,
      ]),
    );
    expect(JSON.stringify(definition)).not.toContain('${');
  });

  describe('the CloudTrail rules', () => {
    const cloudTrailEvent = (detail: Record<string, unknown>, source: string) => ({
      version: '0',
      id: '7bf73129-1428-4cd3-a780-95db273d1602',
      'detail-type': 'AWS API Call via CloudTrail',
      source,
      account: '111122223333',
      time: '2026-11-30T05:00:00Z',
      region: REGION,
      resources: [],
      detail: { eventVersion: '1.08', awsRegion: REGION, eventCategory: 'Management', ...detail },
    });
    const sessionCall = cloudTrailEvent(
      {
        eventSource: 'dynamodb.amazonaws.com',
        eventName: 'PutItem',
        readOnly: false,
        managementEvent: false,
        eventCategory: 'Data',
        userIdentity: {
          type: 'AssumedRole',
          arn: 'arn:aws:sts::111122223333:assumed-role/countersign-target/req_AAAAAAAAAAAAAAAAAAAA',
          sessionContext: { sessionIssuer: { type: 'Role', arn: TARGET_ROLE } },
        },
      },
      'aws.dynamodb',
    );
    const assumeRole = cloudTrailEvent(
      {
        eventSource: 'sts.amazonaws.com',
        eventName: 'AssumeRole',
        // CloudTrail records AssumeRole as a read-only management event.
        readOnly: true,
        managementEvent: true,
        requestParameters: { roleArn: TARGET_ROLE, roleSessionName: 'req_AAAAAAAAAAAAAAAAAAAA' },
      },
      'aws.sts',
    );

    it('are two rules targeting the linker, with the dead-letter queue', () => {
      expect(model.eventRules).toHaveLength(2);
      const linker = ctx.resources[fnBy('LinkCloudTrail').logicalId]!.attributes.Arn;
      const queue = Object.values(ctx.resources).find((r) => r.type === 'AWS::SQS::Queue')!;
      for (const rule of model.eventRules) {
        expect(() => assertEventPatternSize(rule.eventPattern)).not.toThrow();
        expect(rule.targets.map((t) => resolve(t.arn, ctx))).toEqual([linker]);
        expect(rule.targets.map((t) => resolve(t.deadLetterArn, ctx))).toEqual([queue.attributes.Arn]);
      }
    });

    it("deliver a target-role session's calls to the linker", () => {
      expect(model.eventRules.filter((rule) => ruleReceives(rule, sessionCall))).toHaveLength(1);
    });

    it('have a pattern that matches AssumeRole on the target role, which only ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS receives', () => {
      const rule = model.eventRules.find((r) => matchesPattern(r.eventPattern, assumeRole));
      expect(rule).toBeDefined();
      expect(ruleReceives({ ...rule!, state: 'ENABLED' }, assumeRole)).toBe(false);
      expect(
        ruleReceives({ ...rule!, state: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' }, assumeRole),
      ).toBe(true);
    });

    // Issue 11, Why 4: AssumeRole is a read-only management event; only a rule in state
    // ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS receives it.
    it('deliver AssumeRole on the target role to the linker', () => {
      expect(model.eventRules.some((rule) => ruleReceives(rule, assumeRole))).toBe(true);
    });
  });
});

describe('the real bundles, run as Lambda runs them', () => {
  let model: AssemblyModel;
  let ctx: ResolveContext;
  let runner: LambdaRunner;
  let aws: Server;
  let endpointUrl: string;
  const requests: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const credentials = {
    accessKeyId: fakeAccessKeyId('QLOCALFUNCTION01'),
    secretAccessKey: 'local-function-secret',
    sessionToken: 'local-function-session',
  };

  const runnable = (prefix: string) =>
    runnableFunction(model.functions.find((f) => f.logicalId.startsWith(prefix))!, ctx, {
      region: REGION,
      credentials,
      endpointUrl,
    });

  beforeAll(async () => {
    model = readAssemblyModel(forRuns);
    ctx = physicalResources(model, {
      account: ACCOUNT,
      region: REGION,
      parameters: parameterOverrides(model),
    });
    // Stands in for the local AWS endpoint: records what the SDK sends and answers as DynamoDB does
    // for a table that is not there.
    aws = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      req.on('end', () => {
        requests.push({ headers: req.headers, body });
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException',
            message: 'Requested resource not found',
          }),
        );
      });
    });
    await new Promise<void>((done) => aws.listen(0, '127.0.0.1', () => done()));
    endpointUrl = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;
    runner = createLambdaRunner({ log: () => {} });
  });

  afterAll(async () => {
    await runner?.stop();
    await new Promise((done) => aws?.close(done));
  });

  it('get-request answers 401 to an API Gateway event without a token', async () => {
    const result = await runner.invoke(runnable('GetRequest'), {
      resource: '/v1/requests/{id}',
      path: '/v1/requests/req_AAAAAAAAAAAAAAAAAAAA',
      httpMethod: 'GET',
      headers: { Host: 'localhost' },
      multiValueHeaders: { Host: ['localhost'] },
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: { id: 'req_AAAAAAAAAAAAAAAAAAAA' },
      stageVariables: null,
      requestContext: {
        resourcePath: '/v1/requests/{id}',
        httpMethod: 'GET',
        path: '/prod/v1/requests/req_AAAAAAAAAAAAAAAAAAAA',
        stage: 'prod',
        requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
        identity: { sourceIp: '127.0.0.1' },
      },
      body: null,
      isBase64Encoded: false,
    });
    expect(result.ok).toBe(true);
    // The function logs to the log group the template gives it.
    const fn = runnable('GetRequest');
    const logGroup = model.functions.find((f) => f.logicalId.startsWith('GetRequest'))!.logGroupLogicalId;
    expect(fn.env.AWS_LAMBDA_LOG_GROUP_NAME).toBe(ctx.resources[logGroup!]!.ref);
    const payload = (result as { payload: { statusCode: number; body: string } }).payload;
    expect(payload.statusCode).toBe(401);
    expect(JSON.parse(payload.body)).toMatchObject({ error: { code: 'Unauthorized' } });
  });

  it("calls AWS at AWS_ENDPOINT_URL with its role's session: the bundled SDK honours the variable", async () => {
    const result = await runner.invoke(runnable('LinkCloudTrail'), {
      version: '0',
      id: '7bf73129-1428-4cd3-a780-95db273d1602',
      'detail-type': 'AWS API Call via CloudTrail',
      source: 'aws.dynamodb',
      account: '111122223333',
      time: new Date().toISOString(),
      region: REGION,
      resources: [],
      detail: {
        eventVersion: '1.08',
        eventID: '00000000-0000-4000-8000-000000000001',
        eventTime: new Date().toISOString(),
        eventSource: 'dynamodb.amazonaws.com',
        eventName: 'PutItem',
        awsRegion: REGION,
        recipientAccountId: '111122223333',
        readOnly: false,
        managementEvent: false,
        userIdentity: {
          type: 'AssumedRole',
          principalId: 'AROAEXAMPLE:req_AAAAAAAAAAAAAAAAAAAA',
          arn: 'arn:aws:sts::111122223333:assumed-role/countersign-target/req_AAAAAAAAAAAAAAAAAAAA',
          accountId: '111122223333',
          accessKeyId: fakeAccessKeyId('AAAAAAAAAAAAAAAA'),
          sessionContext: { sessionIssuer: { type: 'Role', arn: TARGET_ROLE } },
        },
      },
    });
    // The store is unreachable (this stand-in answers ResourceNotFound), so the linker throws for a retry.
    expect(result).toMatchObject({
      ok: false,
      errorMessage: expect.stringMatching(/request store is unavailable/),
    });
    expect(requests.length).toBeGreaterThan(0);
    const call = requests[0]!;
    expect(call.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/\\d{8}/${REGION}/dynamodb/aws4_request,`,
      ),
    );
    expect(call.headers['x-amz-security-token']).toBe(credentials.sessionToken);
    const table = Object.values(ctx.resources).find((r) => r.type === 'AWS::DynamoDB::Table')!;
    expect(JSON.parse(call.body)).toMatchObject({ TableName: table.ref });
  });
});
