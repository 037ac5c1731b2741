import { spawn } from 'node:child_process';
import { callRecord, eventBridge } from '../test/evidence/support.js';
import { signedInteraction } from '../test/support/slack.js';
import type { BundleInfo } from './bundles.js';
import { COLD_FLOORS } from './cold-floors.js';
import { apiEvent } from './lib/api-event.js';
import { ALLOW_BODY, APPROVE_BODY, APPROVER, type BenchStack } from './lib/bench-stack.js';
import { LAMBDA_RUNTIME, lambdaEnvironment } from './lib/lambda-env.js';

/**
 * Cold start as Lambda has it: a fresh Node process loads one bundle and handles its first event,
 * for real, against the local stack (DynamoDB Local, local Step Functions/STS/IAM, a Secrets
 * Manager stand-in, the Slack sink). The SDK finds those through AWS_ENDPOINT_URL_<SERVICE>, the
 * configuration is the one esbuild inlined, credentials come from the environment as on Lambda.
 */

export interface ColdStartSample {
  /** From process start to the first event's answer (what the goal compares). */
  totalMs: number;
  /** Node's own start, until the runtime's first line ran. */
  bootMs: number;
  /** import() of the bundle: parse, compile, module-level code. */
  initMs: number;
  /** The handler's first call: settings, clients, first AWS calls on new connections. */
  firstEventMs: number;
  /**
   * CPU time (user + system) the process used until the answer. Steadier than wall time on a busy
   * machine, and what matters on Lambda, where a 256 MB function gets a fraction of a vCPU.
   */
  cpuMs: number;
}

export interface ColdStartContext {
  stack: BenchStack;
  run: number;
}

type EventFactory = (ctx: ColdStartContext) => Promise<unknown>;

/** A fresh agent per run, so one run's requests never meet another's rate limit or history. */
const agentOf = (ctx: ColdStartContext) => ctx.stack.agent(`cold-start-agent-${ctx.run}`);

async function pendingRequest(ctx: ColdStartContext): Promise<string> {
  const { id } = await ctx.stack.create(await agentOf(ctx), APPROVE_BODY);
  await ctx.stack.waitForTaskToken(id);
  return id;
}

async function allowedRequest(ctx: ColdStartContext): Promise<{ id: string; token: string }> {
  const token = await agentOf(ctx);
  const { id } = await ctx.stack.create(token, ALLOW_BODY);
  return { id, token };
}

/** The first event each handler gets: a real one, prepared through the local stack. */
export const FIRST_EVENTS: Record<string, EventFactory> = {
  'hello-world': async () => ({}),
  'request-access': async (ctx) =>
    apiEvent('POST', '/v1/requests', { token: await agentOf(ctx), body: APPROVE_BODY }),
  'get-request': async (ctx) => {
    const { id, token } = await allowedRequest(ctx);
    return apiEvent('GET', '/v1/requests/{id}', { id, token });
  },
  'claim-credentials': async (ctx) => {
    const { id, token } = await allowedRequest(ctx);
    return apiEvent('POST', '/v1/requests/{id}/credentials', {
      id,
      token,
      path: `/v1/requests/${id}/credentials`,
    });
  },
  'revoke-request': async (ctx) => {
    const { id, token } = await allowedRequest(ctx);
    return apiEvent('POST', '/v1/requests/{id}/revoke', { id, token, path: `/v1/requests/${id}/revoke` });
  },
  'decide-request': async (ctx) => {
    const id = await pendingRequest(ctx);
    return apiEvent('POST', '/v1/requests/{id}/decisions', {
      id,
      path: `/v1/requests/${id}/decisions`,
      token: await ctx.stack.approver(),
      body: { decision: 'approve' },
    });
  },
  'slack-interactions': async (ctx) => {
    const id = await pendingRequest(ctx);
    const signed = signedInteraction({
      secret: ctx.stack.test.stack.slackSigningSecret,
      requestId: id,
      userId: APPROVER.slackUser,
    });
    return apiEvent('POST', '/v1/slack/interactions', { rawBody: signed.body, headers: signed.headers });
  },
  'notify-approvers': async (ctx) => {
    const { id } = await ctx.stack.create(await agentOf(ctx), APPROVE_BODY);
    return { requestId: id, taskToken: `bench-cold-start-token-${ctx.run}` };
  },
  'settle-request': async (ctx) => {
    const { id } = await allowedRequest(ctx);
    return { step: 'grant', requestId: id };
  },
  'link-cloudtrail': async (ctx) => {
    const { id, token } = await allowedRequest(ctx);
    const claim = await ctx.stack.test.call('POST', `/v1/requests/${id}/credentials`, { token });
    const accessKeyId = String((claim.body as { AccessKeyId?: string }).AccessKeyId);
    return eventBridge(
      callRecord({ requestId: id, accessKeyId, eventName: 'PutItem', eventTime: new Date().toISOString() }),
    );
  },
  reports: async (ctx) =>
    apiEvent('GET', '/v1/reports/requests', {
      token: await ctx.stack.auditor(),
      query: { agent: `cold-start-agent-${ctx.run}` },
    }),
};

/** One fresh process: load `bundle`, hand it `event`. */
export function coldStart(
  bundle: string,
  event: unknown,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<ColdStartSample & { status?: unknown; error?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, LAMBDA_RUNTIME, 'once', bundle], {
      env: { ...env, BENCH_EVENT: JSON.stringify(event) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-4000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', () => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) return reject(new Error(`no result from ${bundle}: ${err.trim() || out.slice(-2000)}`));
      const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
        started: number;
        initMs: number;
        firstEventMs: number;
        totalMs: number;
        cpuMs: number;
        status?: unknown;
        error?: string;
      };
      resolve({
        totalMs: r.totalMs,
        bootMs: r.started,
        initMs: r.initMs,
        firstEventMs: r.firstEventMs,
        cpuMs: r.cpuMs,
        status: r.status,
        ...(r.error ? { error: r.error } : {}),
      });
    });
  });
}

const succeeded = (sample: { status?: unknown; error?: string }) =>
  !sample.error && (typeof sample.status !== 'number' || (sample.status >= 200 && sample.status < 300));

export interface ColdStartResult {
  name: string;
  samples: ColdStartSample[];
  /** The same runs of the handler's cold floor (bench/cold-floors.ts), when it has one. */
  floor: ColdStartSample[];
  failures: string[];
}

/**
 * `runs` cold starts of every bundle, interleaved (run 1 of each, then run 2 of each…) so drift on
 * the machine spreads over all of them alike; the hello-world bundle is measured the same way.
 */
export async function measureColdStarts(options: {
  stack: BenchStack;
  /** `event` names the handler whose first event to send, when `name` is not one (a past revision's bundle). */
  bundles: Array<Pick<BundleInfo, 'name' | 'file'> & { event?: string }>;
  runs: number;
  sourceMaps: boolean;
  secretsUrl: string;
  /** Handler name → its cold floor bundle. */
  floors?: Record<string, string>;
}): Promise<ColdStartResult[]> {
  const env = lambdaEnvironment(options.stack, options.secretsUrl, { sourceMaps: options.sourceMaps });
  const results = new Map<string, ColdStartResult>(
    options.bundles.map((b) => [b.name, { name: b.name, samples: [], floor: [], failures: [] }]),
  );
  let runCounter = 0;
  for (let run = 0; run < options.runs; run++) {
    for (const bundle of options.bundles) {
      const result = results.get(bundle.name)!;
      const factory = FIRST_EVENTS[bundle.event ?? bundle.name];
      if (!factory) {
        if (run === 0) result.failures.push('no first event defined for this handler in bench/cold-start.ts');
        continue;
      }
      const event = await factory({ stack: options.stack, run: runCounter++ });
      const sample = await coldStart(bundle.file, event, env);
      if (!succeeded(sample)) {
        result.failures.push(sample.error ?? `status ${String(sample.status)}`);
        continue;
      }
      result.samples.push(sample);
      const floorFile = options.floors?.[bundle.name];
      if (floorFile) {
        const steps = await COLD_FLOORS[bundle.name]!.steps(options.stack, runCounter++);
        const floor = await coldStart(floorFile, { steps }, env);
        if (!succeeded(floor)) throw new Error(`cold floor of ${bundle.name} failed: ${floor.error}`);
        result.floor.push(floor);
      }
    }
  }
  return [...results.values()];
}
