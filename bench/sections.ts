import { resolve } from 'node:path';
import { loadSynthConfig } from '../lib/aws/synth-config.js';
import { buildConsole } from '../lib/console/build.js';
import { loadAssembly } from '../lib/local/assembly-host.js';
import { PROJECT_ROOT } from '../lib/project-root.js';
import { TEST_CONFIG_PATH } from '../test/support/local-stack.js';
import { assemblyBundles } from './bundles.js';
import { measureClickToCredentials } from './click-to-credentials.js';
import { HELLO_WORLD, measureColdStarts } from './cold-start.js';
import { callTimeline, measureExecuteCall } from './execute-call.js';
import type { BenchStack } from './lib/bench-stack.js';
import type { Figure, SectionResult } from './lib/report.js';
import { describeMs, kb, ms, ratio, summarize } from './lib/stats.js';
import { measureLocalAwsOverhead } from './local-aws.js';
import { loadRequests, ReportBench, startReportTable } from './reports.js';
import { measureRequestPath, type RequestScenario } from './request-path.js';
import { measureSlackClick } from './slack-click.js';

/**
 * The benchmark's sections: each measures one thing against its floor and returns its figures
 * (goals in lib/report.ts). run.ts parses the command line, starts the local assembly once and runs
 * the sections asked for inside its cleanup.
 */

export const SECTIONS = [
  'bundles',
  'cold',
  'request',
  'click',
  'credentials',
  'execute',
  'local-aws',
  'reports',
] as const;
export type Section = (typeof SECTIONS)[number];

export function sizesOf(options: { quick: boolean; million: boolean }) {
  const runs = (full: number, fast: number) => (options.quick ? fast : full);
  return {
    warmupRequests: runs(200, 30),
    coldRuns: runs(10, 3),
    request: {
      approve: { samples: runs(500, 30), warmup: runs(50, 5) },
      allow: { samples: runs(500, 40), warmup: runs(50, 10) },
      idempotent: options.quick ? undefined : { samples: 300, warmup: 30 },
    },
    click: { samples: runs(200, 15), warmup: runs(20, 3) },
    credentials: { samples: runs(40, 8), concurrency: 2 },
    execute: { samples: runs(200, 30), warmup: runs(20, 5) },
    localAws: { samples: runs(3000, 400), warmup: runs(200, 50) },
    reportItems: options.million ? 1_000_000 : runs(100_000, 10_000),
    reportRepeats: runs(5, 2),
  };
}
export type Sizes = ReturnType<typeof sizesOf>;

/** What every section may use; built once per run, never module state. */
export interface RunContext {
  size: Sizes;
  /** Present when a section that needs it was asked for. */
  stack: BenchStack | undefined;
}

export const TITLES: Record<Section, string> = {
  bundles: '1. Bundles: the synthesized assembly’s asset folders (minified ESM, AWS SDK included)',
  cold: '1b. Cold start through the assembly’s Lambda runner: fresh process, bundle, first real event',
  request: '2. POST /v1/requests through the assembly vs the same AWS calls raw (same role, same local AWS)',
  click: '3. Slack Approve click through the assembly vs reads + conditional write + SendTaskSuccess raw',
  credentials:
    '4. Click to credentials through the assembly: signed approve → long-poll sees APPROVED → claim',
  execute:
    '4b. Execute an approved exact call through the assembly vs mint + the raw call, and vs the same AWS calls raw',
  'local-aws':
    '5. The local AWS endpoint’s cost: GetItem via SigV4 + IAM + CloudTrail vs DynamoDB Local direct',
  reports: '6. Reports at scale (DynamoDB Local of their own, synthetic items)',
};

export const SECTION_RUNNERS: Record<Section, (ctx: RunContext) => Promise<SectionResult>> = {
  bundles: bundlesSection,
  cold: coldSection,
  request: requestSection,
  click: clickSection,
  credentials: credentialsSection,
  execute: executeSection,
  'local-aws': localAwsSection,
  reports: reportsSection,
};

function needStack(ctx: RunContext): BenchStack {
  if (!ctx.stack) throw new Error('this section needs the local assembly, which was not started');
  return ctx.stack;
}

async function bundlesSection(ctx: RunContext): Promise<SectionResult> {
  const model = ctx.stack
    ? ctx.stack.stack.assembly.model
    : (
        await loadAssembly({
          configPath: TEST_CONFIG_PATH,
          cacheDir: resolve(PROJECT_ROOT, '.countersign', 'assembly'),
          log: () => undefined,
        })
      ).model;
  const bundles = assemblyBundles(model.functions);
  const figures: Figure[] = bundles.map((b) => ({
    section: 'bundles',
    name: `${b.name} bundle`,
    value: kb(b.bytes),
    goal: { id: 'bundleSize', measured: b.bytes },
    note: `gzip ${kb(b.gzipBytes)}, source map ${kb(b.mapBytes)}`,
  }));
  // The web console's first load (issue 16), built as the front door and the CDK site serve it.
  const site = await buildConsole();
  figures.push(
    {
      section: 'bundles',
      name: 'console first-load JavaScript',
      value: kb(site.scriptBytes),
      goal: { id: 'consoleScript', measured: site.scriptBytes },
    },
    {
      section: 'bundles',
      name: 'console first-load JavaScript, gzipped',
      value: kb(site.scriptGzipBytes),
      goal: { id: 'consoleScriptGzip', measured: site.scriptGzipBytes },
    },
  );
  return {
    figures,
    data: {
      functions: bundles.map(({ name, bytes, gzipBytes, mapBytes }) => ({
        name,
        bytes,
        gzipBytes,
        mapBytes,
      })),
      console: { scriptBytes: site.scriptBytes, scriptGzipBytes: site.scriptGzipBytes },
    },
  };
}

async function coldSection(ctx: RunContext): Promise<SectionResult> {
  const results = await measureColdStarts(needStack(ctx), { runs: ctx.size.coldRuns });
  const hello = results.find((r) => r.name === HELLO_WORLD)!;
  if (hello.cold.length === 0) throw new Error(`hello-world failed: ${hello.failures[0]}`);
  const helloCold = summarize(hello.cold);
  const figures: Figure[] = [
    {
      section: 'cold start',
      name: 'hello-world (floor)',
      value: describeMs(helloCold),
      note: `warm ${ms(summarize(hello.warm).p50)}`,
    },
  ];
  for (const r of results) {
    if (r.name === HELLO_WORLD) continue;
    const name = `${r.name.replace(/^Countersign-/, '').replace(/[0-9A-F]{8}$/, '')} first invoke`;
    if (r.cold.length === 0) {
      figures.push({ section: 'cold start', name, value: 'failed', note: r.failures[0] ?? 'no sample' });
      continue;
    }
    const cold = summarize(r.cold);
    const warm = summarize(r.warm);
    const x = cold.p50 / helloCold.p50;
    figures.push({
      section: 'cold start',
      name: `${name} / hello-world`,
      value: ratio(x),
      goal: { id: 'coldStart', measured: x },
      note: `${describeMs(cold)}; warm ${ms(warm.p50)}${r.failures.length ? `; ${r.failures.length} failed: ${r.failures[0]}` : ''}`,
    });
  }
  return { figures, data: results };
}

async function requestSection(ctx: RunContext): Promise<SectionResult> {
  const stack = needStack(ctx);
  const scenarios: Array<[RequestScenario, string, { samples: number; warmup: number } | undefined]> = [
    ['approve', 'approve rule (PENDING, workflow started)', ctx.size.request.approve],
    ['allow', 'allow rule (APPROVED by policy)', ctx.size.request.allow],
    ['idempotent', 'approve rule with Idempotency-Key', ctx.size.request.idempotent],
  ];
  const figures: Figure[] = [];
  const lines: string[] = [];
  const data: Record<string, unknown> = {};
  // The transport alone: a round trip to the front door that invokes no function.
  const transport = [];
  for (let i = 0; i < 50; i++) transport.push((await stack.http.call('GET', '/local/endpoints')).ms);
  const t = summarize(transport);
  figures.push({
    section: 'request path',
    name: 'transport: GET /local/endpoints (no function)',
    value: describeMs(t),
  });
  for (const [scenario, label, size] of scenarios) {
    if (!size) continue;
    const s = await measureRequestPath(stack, { scenario, ...size, agents: 50 });
    const h = summarize(s.handler);
    const f = summarize(s.floor);
    data[scenario] = { handler: h, floor: f, floorCalls: s.floorCalls };
    lines.push(`${label}: floor = ${s.floorCalls.join(' + ')}`);
    figures.push({
      section: 'request path',
      name: `${scenario}: through the assembly`,
      value: describeMs(h),
    });
    figures.push({ section: 'request path', name: `${scenario}: floor`, value: describeMs(f) });
    for (const p of ['p50', 'p99'] as const) {
      figures.push({
        section: 'request path',
        name: `${scenario}: ${p} assembly / floor`,
        value: ratio(h[p] / f[p]),
        goal: { id: 'requestPath', measured: h[p] / f[p] },
        note: `+${ms(h[p] - f[p])} over the floor at ${p}`,
      });
    }
  }
  return { figures, lines, data: { transport: t, ...data } };
}

async function clickSection(ctx: RunContext): Promise<SectionResult> {
  const s = await measureSlackClick(needStack(ctx), { ...ctx.size.click, agents: 20 });
  const h = summarize(s.handler);
  const f = summarize(s.floor);
  const figures: Figure[] = [
    { section: 'slack click', name: 'through the assembly', value: describeMs(h) },
    { section: 'slack click', name: 'floor (2 reads, write, SendTaskSuccess)', value: describeMs(f) },
  ];
  for (const p of ['p50', 'p99'] as const) {
    figures.push({
      section: 'slack click',
      name: `${p} assembly / floor`,
      value: ratio(h[p] / f[p]),
      goal: { id: 'slackClick', measured: h[p] / f[p] },
    });
  }
  figures.push({
    section: 'slack click',
    name: 'p99 answer to Slack',
    value: ms(h.p99),
    goal: { id: 'slackClickP99', measured: h.p99 },
  });
  return { figures, data: { handler: h, floor: f } };
}

async function credentialsSection(ctx: RunContext): Promise<SectionResult> {
  const samples = await measureClickToCredentials(needStack(ctx), ctx.size.credentials);
  const creds = summarize(samples.map((s) => s.credentialsMs));
  const seen = summarize(samples.map((s) => s.seenMs));
  const figures: Figure[] = [
    {
      section: 'click to credentials',
      name: 'click → credentials p50',
      value: ms(creds.p50),
      goal: { id: 'clickToCredentials', measured: creds.p50 },
      note: describeMs(creds),
    },
    {
      section: 'click to credentials',
      name: 'click → long-poll answers APPROVED',
      value: describeMs(seen),
      note: `click ${ms(summarize(samples.map((s) => s.clickMs)).p50)}, claim ${ms(summarize(samples.map((s) => s.claimMs)).p50)}, polls per request ${summarize(samples.map((s) => s.polls)).p50}`,
    },
  ];
  return { figures, data: { credentials: creds, seen, samples } };
}

async function executeSection(ctx: RunContext): Promise<SectionResult> {
  const s = await measureExecuteCall(needStack(ctx), ctx.size.execute);
  const h = summarize(s.handler);
  const f = summarize(s.floor);
  const same = summarize(s.sameCalls);
  const timeline = callTimeline(s.calls);
  const section = 'execute';
  const figures: Figure[] = [
    { section, name: 'through the assembly', value: describeMs(h) },
    { section, name: 'floor (AssumeRole + the call)', value: describeMs(f) },
    { section, name: 'the same AWS calls raw', value: describeMs(same) },
    {
      section,
      name: 'p50 assembly / floor',
      value: ratio(h.p50 / f.p50),
      goal: { id: 'executeCall', measured: h.p50 / f.p50 },
      note: `+${ms(h.p50 - f.p50)} over the floor; p99 ratio ${ratio(h.p99 / f.p99)}`,
    },
    {
      section,
      name: 'p50 assembly / the same AWS calls raw',
      value: ratio(h.p50 / same.p50),
      note: `+${ms(h.p50 - same.p50)} over them; p99 ratio ${ratio(h.p99 / same.p99)}`,
    },
  ];
  const lines = [
    `AWS calls execute made (${Math.round(timeline.share * 100)}% of samples; median ms after the request was sent): ${timeline.timeline}`,
  ];
  return { figures, lines, data: { handler: h, floor: f, sameCalls: same, sequence: timeline.sequence } };
}

async function localAwsSection(ctx: RunContext): Promise<SectionResult> {
  const s = await measureLocalAwsOverhead(needStack(ctx), ctx.size.localAws);
  const via = summarize(s.viaLocalAws);
  const direct = summarize(s.direct);
  const endpointOnly = summarize(s.endpointOnly);
  const x = via.p50 / direct.p50;
  const figures: Figure[] = [
    {
      section: 'local AWS',
      name: 'GetItem via the local AWS (signed, role session)',
      value: describeMs(via),
    },
    { section: 'local AWS', name: 'GetItem to DynamoDB Local direct', value: describeMs(direct) },
    {
      section: 'local AWS',
      name: 'GetCallerIdentity via the local AWS (the endpoint alone: SigV4, CloudTrail, no forward)',
      value: describeMs(endpointOnly),
    },
    {
      section: 'local AWS',
      name: 'p50 via local AWS / direct',
      value: ratio(x),
      goal: { id: 'localAwsOverhead', measured: x },
      note: `+${ms(via.p50 - direct.p50)} per call at p50; p99 ratio ${ratio(via.p99 / direct.p99)}`,
    },
  ];
  return { figures, data: { viaLocalAws: via, direct, endpointOnly } };
}

async function reportsSection(ctx: RunContext): Promise<SectionResult> {
  const items = ctx.size.reportItems;
  const config = loadSynthConfig(TEST_CONFIG_PATH);
  const table = await startReportTable();
  try {
    const now = Date.now();
    const load = await loadRequests(table.client, config, {
      count: items,
      agents: 200,
      now,
      onProgress: (n) => process.stdout.write(`   loaded ${n.toLocaleString('en')}\r`),
    });
    const figures: Figure[] = [
      {
        section: 'reports',
        name: 'load (BatchWriteItem)',
        value: `${Math.round(load.items / load.seconds).toLocaleString('en')} items/s`,
        note: `${load.items.toLocaleString('en')} items in ${load.seconds.toFixed(0)} s, ${(load.itemBytes / 1024).toFixed(1)} KB each`,
      },
    ];
    const bench = new ReportBench(table.client);
    const iso = (t: number) => new Date(t).toISOString();
    const day = 86_400_000;
    const cases: Array<{ name: string; run: () => ReturnType<ReportBench['list']>; goal: boolean }> = [
      {
        name: '30-day report, one agent',
        run: () =>
          bench.list('agent', {
            agent: table.agentSub(42),
            from: iso(now - 30 * day),
            to: iso(now),
            limit: '100',
          }),
        goal: true,
      },
      {
        name: '1-day report, all agents',
        run: () => bench.list('day', { from: iso(now - day), to: iso(now), limit: '100' }),
        goal: true,
      },
      {
        name: '1-day access review, all agents',
        run: () => bench.review('review', { from: iso(now - day), to: iso(now) }),
        goal: true,
      },
      {
        name: '30-day report, one agent, status=DENIED',
        run: () =>
          bench.list('denied', {
            agent: table.agentSub(42),
            status: 'DENIED',
            from: iso(now - 30 * day),
            to: iso(now),
            limit: '100',
          }),
        goal: false,
      },
    ];
    const data: Record<string, unknown> = {};
    for (const c of cases) {
      await c.run(); // warm: the JVM compiles DynamoDB Local's query path on first use
      const repeats = [];
      for (let i = 0; i < ctx.size.reportRepeats; i++) repeats.push(await c.run());
      const last = repeats.at(-1)!;
      const totalMs = summarize(repeats.map((r) => r.totalMs));
      const pageMs = summarize(repeats.flatMap((r) => r.pageMs));
      const amplification = last.read / Math.max(1, last.returned);
      data[c.name] = { ...last, totalMs, pageMs };
      figures.push({
        section: 'reports',
        name: `${c.name}: items read / returned`,
        value: ratio(amplification),
        ...(c.goal ? { goal: { id: 'reportAmplification' as const, measured: amplification } } : {}),
        note: `${last.read} read for ${last.returned}, ${last.readUnits} RRU, ${last.queries} queries; whole report ${ms(totalMs.p50)} over ${last.pages} page(s) (page p50 ${ms(pageMs.p50)}, max ${ms(pageMs.max)})`,
      });
    }
    return { figures, data: { load, cases: data } };
  } finally {
    table.client.destroy();
    await table.db.stop();
  }
}
