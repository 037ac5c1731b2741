import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configDefine, loadSynthConfig } from '../lib/aws/synth-config.js';
import { TEST_CONFIG_PATH } from '../test/support/local-stack.js';
import { analysisOf, type BundleInfo, buildLambdaBundles, exportRevision, HELLO_WORLD } from './bundles.js';
import { measureClickToCredentials } from './click-to-credentials.js';
import { buildColdFloors } from './cold-floors.js';
import { measureColdStarts } from './cold-start.js';
import {
  costOf,
  measureAllowedFlows,
  measureApprovedFlows,
  measureWaiting,
  PRICES,
  total,
  waitingMinute,
} from './cost.js';
import { ALLOW_BODY, APPROVE_BODY, BenchStack } from './lib/bench-stack.js';
import { closeHttp } from './lib/http.js';
import { LambdaHost, lambdaEnvironment, SECRET_ARN } from './lib/lambda-env.js';
import { Report } from './lib/report.js';
import { startSecretsManager } from './lib/secrets-manager.js';
import { describeMs, kb, ms, ratio, summarize } from './lib/stats.js';
import { loadRequests, ReportBench, startReportTable } from './reports.js';
import { measureRequestPath, type RequestScenario } from './request-path.js';
import { measureSlackClick } from './slack-click.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECTIONS = ['bundles', 'cold', 'request', 'click', 'credentials', 'cost', 'reports'] as const;
type Section = (typeof SECTIONS)[number];

const USAGE = `Usage: npm run bench -- [--quick] [--million] [--only LIST] [--bundles-at REV]

Measures Countersign against its goals (docs/benchmarks.md) on 127.0.0.1 and prints each figure
with its goal. Results are also written to .countersign/bench/<time>.json.

  --quick           fewer samples (under 2 minutes)
  --million         load 1,000,000 requests for the report benchmark instead of 100,000
  --only LIST       comma-separated sections: ${SECTIONS.join(', ')}
  --bundles-at REV  also bundle the handlers as they were at git revision REV (before/after sizes)
  -h, --help        this help`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    million: { type: 'boolean', default: false },
    only: { type: 'string' },
    'bundles-at': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const only = new Set((values.only?.split(',') ?? [...SECTIONS]).map((s) => s.trim()) as Section[]);
for (const s of only)
  if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}; known: ${SECTIONS.join(', ')}`);
const quick = values.quick;
const runs = (full: number, fast: number) => (quick ? fast : full);

const SIZE = {
  coldRuns: runs(15, 3),
  approve: { samples: runs(1000, 150), warmup: runs(100, 30) },
  allow: { samples: runs(500, 100), warmup: runs(50, 20) },
  idempotent: { samples: runs(500, 100), warmup: runs(50, 20) },
  click: { samples: runs(500, 100), warmup: runs(50, 20) },
  credentials: { samples: runs(40, 8), concurrency: 4 },
  costFlows: runs(10, 3),
  waitSeconds: runs(20, 5),
  reportItems: values.million ? 1_000_000 : runs(100_000, 10_000),
  reportRepeats: runs(5, 2),
};

const report = new Report();
const began = new Date();
const machine = {
  cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
  memoryGb: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadAtStart: loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
  commit: gitHead(),
};
report.record('machine', machine);
report.record('mode', { quick, million: values.million, sections: [...only], size: SIZE });
process.stdout.write(
  `Countersign benchmarks, ${began.toISOString()} (${quick ? 'quick' : 'full'})\n` +
    `  ${machine.cpu}, ${machine.memoryGb} GB, Node ${machine.node} (Lambda runs Node 22/24 on arm64), ` +
    `load ${machine.loadAtStart}, commit ${machine.commit}\n`,
);

function gitHead(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT })
      .toString()
      .trim();
    return dirty ? `${head} (+ uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

const LIMIT_KB = 300;
/** The handlers' bundles at --bundles-at REV, when given. */
let beforeBundles: BundleInfo[] = [];
const workDir = mkdtempSync(join(tmpdir(), 'countersign-bench-'));
const config = loadSynthConfig(TEST_CONFIG_PATH);

async function bundleSection(issuer: string): Promise<BundleInfo[]> {
  const define = configDefine({ ...config, identity: { ...config.identity, issuer } });
  const bundles = await buildLambdaBundles({ root: ROOT, outDir: join(workDir, 'bundles'), define });
  if (only.has('bundles'))
    report.section('1. Bundles: minified ESM, AWS SDK included (lib/bundling.ts options)');
  const ref = values['bundles-at'];
  const before = new Map<string, number>();
  if (ref) {
    beforeBundles = await buildLambdaBundles({
      root: exportRevision(ROOT, ref),
      outDir: join(workDir, 'bundles-before'),
      define,
    });
    for (const b of beforeBundles) before.set(b.name, b.bytes);
    report.record('bundlesBefore', { ref, bytes: Object.fromEntries(before) });
  }
  if (!only.has('bundles')) return bundles;
  for (const b of bundles) {
    const was = before.get(b.name);
    const top = b.byPackage
      .slice(0, 4)
      .map((p) => `${p.name} ${kb(p.bytes)}`)
      .join(', ');
    if (b.name === HELLO_WORLD) {
      report.add({ section: 'bundles', name: `${b.name} bundle`, value: kb(b.bytes) });
      continue;
    }
    report.add({
      section: 'bundles',
      name: `${b.name} bundle`,
      value: kb(b.bytes),
      goal: `< ${LIMIT_KB} KB`,
      met: b.bytes < LIMIT_KB * 1024,
      note: `${was !== undefined ? `was ${kb(was)} at ${ref}; ` : ''}gzip ${kb(b.gzipBytes)}; largest: ${top}`,
    });
  }
  report.record(
    'bundles',
    bundles.map((b) => ({
      name: b.name,
      bytes: b.bytes,
      gzipBytes: b.gzipBytes,
      byPackage: b.byPackage.slice(0, 12),
    })),
  );
  const largest = [...bundles].sort((a, b) => b.bytes - a.bytes)[0]!;
  report.line(`esbuild analyzeMetafile, ${largest.name} (largest inputs):`);
  for (const line of (await analysisOf(largest, 16)).split('\n')) report.line(`  ${line}`);
  return bundles;
}

async function coldSection(stack: BenchStack, bundles: BundleInfo[], secretsUrl: string) {
  report.section(
    `1b. Cold start: fresh Node process, load bundle, first real event (${SIZE.coldRuns} runs each)`,
  );
  {
    const floors = await buildColdFloors(stack, ROOT, join(workDir, 'floors'));
    const results = await measureColdStarts({
      stack,
      bundles,
      runs: SIZE.coldRuns,
      sourceMaps: true,
      secretsUrl,
      floors,
    });
    const hello = results.find((r) => r.name === HELLO_WORLD)!;
    const helloTotal = summarize(hello.samples.map((s) => s.totalMs));
    const helloCpu = summarize(hello.samples.map((s) => s.cpuMs));
    report.add({
      section: 'cold start',
      name: 'hello-world (floor)',
      value: describeMs(helloTotal),
      note: `boot ${ms(summarize(hello.samples.map((s) => s.bootMs)).p50)}, CPU ${ms(helloCpu.p50)}`,
    });
    const rows = [];
    for (const r of results) {
      if (r.name === HELLO_WORLD) continue;
      if (r.samples.length === 0) {
        report.add({
          section: 'cold start',
          name: r.name,
          value: 'failed',
          goal: '≤ 2.0x hello-world',
          met: false,
          note: r.failures[0],
        });
        continue;
      }
      const t = summarize(r.samples.map((s) => s.totalMs));
      const init = summarize(r.samples.map((s) => s.initMs));
      const first = summarize(r.samples.map((s) => s.firstEventMs));
      const boot = summarize(r.samples.map((s) => s.bootMs));
      const cpu = summarize(r.samples.map((s) => s.cpuMs));
      const x = t.p50 / helloTotal.p50;
      const floor = r.floor.length > 0 ? summarize(r.floor.map((s) => s.totalMs)) : undefined;
      const floorCpu = r.floor.length > 0 ? summarize(r.floor.map((s) => s.cpuMs)) : undefined;
      rows.push({
        name: r.name,
        total: t,
        init,
        first,
        boot,
        cpu,
        ratio: x,
        floor,
        floorCpu,
        failures: r.failures,
      });
      report.add({
        section: 'cold start',
        name: `${r.name} to first answer`,
        value: ratio(x),
        goal: '≤ 2.0x hello-world',
        met: x <= 2,
        note: `${describeMs(t)}: boot ${ms(boot.p50)} + load ${ms(init.p50)} + first event ${ms(first.p50)}; CPU ${ms(cpu.p50)} (${ratio(cpu.p50 / helloCpu.p50)} hello-world's)${r.failures.length ? `; ${r.failures.length} failed runs: ${r.failures[0]}` : ''}`,
      });
      if (floor && floorCpu) {
        report.add({
          section: 'cold start',
          name: `${r.name} vs its cold floor (same calls, raw SDK, fresh process)`,
          value: `${ratio(t.p50 / floor.p50)} wall, ${ratio(cpu.p50 / floorCpu.p50)} CPU`,
          note: `floor ${describeMs(floor)}, CPU ${ms(floorCpu.p50)}: Countersign's own cold cost ${ms(t.p50 - floor.p50)} wall, ${ms(cpu.p50 - floorCpu.p50)} CPU`,
        });
      }
    }
    const ref = values['bundles-at'];
    if (ref && beforeBundles.length > 0) {
      // The same handlers as they were at REV, interleaved with today's, for before/after.
      const pairs = ['get-request', 'request-access'].flatMap((name) => {
        const old = beforeBundles.find((b) => b.name === name);
        const now = bundles.find((b) => b.name === name);
        return old && now ? [{ ...now }, { name: `${name}@${ref}`, file: old.file, event: name }] : [];
      });
      const compared = await measureColdStarts({
        stack,
        bundles: pairs,
        runs: SIZE.coldRuns,
        sourceMaps: true,
        secretsUrl,
      });
      const byName = new Map(compared.map((r) => [r.name, r]));
      const coldBefore: Record<string, unknown> = {};
      for (const name of ['get-request', 'request-access']) {
        const now = byName.get(name);
        const old = byName.get(`${name}@${ref}`);
        if (!now?.samples.length || !old?.samples.length) {
          report.line(`${name} at ${ref}: could not be measured (${old?.failures[0] ?? 'no bundle'})`);
          continue;
        }
        const total = (samples: typeof now.samples) => summarize(samples.map((s) => s.totalMs));
        const cpu = (samples: typeof now.samples) => summarize(samples.map((s) => s.cpuMs));
        coldBefore[name] = {
          now: total(now.samples),
          before: total(old.samples),
          nowCpu: cpu(now.samples),
          beforeCpu: cpu(old.samples),
        };
        report.add({
          section: 'cold start',
          name: `${name} now vs at ${ref}`,
          value: `${ms(total(now.samples).p50)} vs ${ms(total(old.samples).p50)}`,
          note: `CPU ${ms(cpu(now.samples).p50)} vs ${ms(cpu(old.samples).p50)}; interleaved, same run`,
        });
      }
      report.record('coldStartBefore', { ref, handlers: coldBefore });
    }
    // What NODE_OPTIONS=--enable-source-maps (set by lib/aws) costs a cold start: the same bundles
    // loaded without it.
    const subset = bundles.filter((b) => ['get-request', 'request-access', HELLO_WORLD].includes(b.name));
    const plain = await measureColdStarts({
      stack,
      bundles: subset,
      runs: Math.max(3, Math.ceil(SIZE.coldRuns / 2)),
      sourceMaps: false,
      secretsUrl,
    });
    const sourceMapCost: Record<string, number> = {};
    for (const r of plain) {
      if (r.name === HELLO_WORLD || r.samples.length === 0) continue;
      const withMaps = results.find((x) => x.name === r.name)!;
      const delta =
        summarize(withMaps.samples.map((x) => x.initMs)).p50 - summarize(r.samples.map((x) => x.initMs)).p50;
      sourceMapCost[r.name] = delta;
      report.add({
        section: 'cold start',
        name: `${r.name}: load time added by --enable-source-maps`,
        value: ms(delta),
        note: `load p50 ${ms(summarize(r.samples.map((x) => x.initMs)).p50)} without it`,
      });
    }
    report.record('coldStart', { hello: helloTotal, handlers: rows, sourceMapCost });
  }
}

async function requestSection(stack: BenchStack, host: LambdaHost) {
  report.section('2. POST /v1/requests vs the same AWS calls issued raw, warm, against the local stack');
  const scenarios: Array<[RequestScenario, string, { samples: number; warmup: number }]> = [
    ['approve', 'approve rule (PENDING, workflow started)', SIZE.approve],
    ['allow', 'allow rule (APPROVED by policy)', SIZE.allow],
    ['idempotent', 'approve rule with Idempotency-Key', SIZE.idempotent],
  ];
  const data: Record<string, unknown> = {};
  for (const [scenario, label, size] of scenarios) {
    const s = await measureRequestPath(stack, host, { scenario, ...size, agents: 50 });
    const h = summarize(s.handler);
    const f = summarize(s.floor);
    const rtt = summarize(s.handlerRtt);
    data[scenario] = { handler: h, floor: f, handlerRtt: rtt, floorCalls: s.floorCalls };
    report.line(`${label}: floor = ${s.floorCalls.join(' + ')}`);
    report.add({
      section: 'request path',
      name: `${scenario}: handler`,
      value: describeMs(h),
      note: `round trip from the client ${ms(rtt.p50)}`,
    });
    report.add({ section: 'request path', name: `${scenario}: floor`, value: describeMs(f) });
    for (const p of ['p50', 'p99'] as const) {
      report.add({
        section: 'request path',
        name: `${scenario}: ${p} handler / floor`,
        value: ratio(h[p] / f[p]),
        goal: '≤ 1.5x',
        met: h[p] / f[p] <= 1.5,
        note: `+${ms(h[p] - f[p])} of Countersign's own work at ${p}`,
      });
    }
  }
  report.record('requestPath', data);
}

async function clickSection(stack: BenchStack, host: LambdaHost) {
  report.section(
    '3. POST /v1/slack/interactions (approve click) vs conditional write + SendTaskSuccess (warm)',
  );
  const s = await measureSlackClick(stack, host, { ...SIZE.click, agents: 50 });
  const h = summarize(s.handler);
  const f = summarize(s.floor);
  const full = summarize(s.fullFloor);
  report.add({ section: 'slack click', name: 'handler', value: describeMs(h) });
  report.add({ section: 'slack click', name: 'floor (write + SendTaskSuccess)', value: describeMs(f) });
  report.add({
    section: 'slack click',
    name: 'every call the click makes, raw',
    value: describeMs(full),
    note: 'consistent GetItems of the request and the task token at once, then the write, SendTaskSuccess, chat.postEphemeral',
  });
  for (const p of ['p50', 'p99'] as const) {
    report.add({
      section: 'slack click',
      name: `${p} handler / floor`,
      value: ratio(h[p] / f[p]),
      goal: '≤ 1.5x',
      met: h[p] / f[p] <= 1.5,
      note: `vs every call it makes: ${ratio(h[p] / full[p])}`,
    });
  }
  report.add({
    section: 'slack click',
    name: 'p99 answer to Slack',
    value: ms(h.p99),
    goal: '≤ 1,000 ms (Slack allows 3 s)',
    met: h.p99 <= 1000,
  });
  report.record('slackClick', { handler: h, floor: f, fullFloor: full });
}

async function credentialsSection(stack: BenchStack) {
  report.section('4. Click to credentials: signed approve → long-poll sees APPROVED → claim answers');
  const samples = await measureClickToCredentials(stack, SIZE.credentials);
  const creds = summarize(samples.map((s) => s.credentialsMs));
  const seen = summarize(samples.map((s) => s.seenMs));
  report.add({
    section: 'click to credentials',
    name: 'click → credentials p50',
    value: ms(creds.p50),
    goal: '< 300 ms',
    met: creds.p50 < 300,
    note: describeMs(creds),
  });
  report.add({
    section: 'click to credentials',
    name: 'click → long-poll answers APPROVED',
    value: describeMs(seen),
    note: `click ${ms(summarize(samples.map((s) => s.clickMs)).p50)}, claim ${ms(summarize(samples.map((s) => s.claimMs)).p50)}, polls per request ${summarize(samples.map((s) => s.polls)).p50}`,
  });
  report.record('clickToCredentials', { credentials: creds, seen, samples });
}

async function costSection(stack: BenchStack) {
  report.section('6. Cost model: measured counts × AWS list prices (us-east-1)');
  const { HANDLERS } = await import('../lib/aws/countersign-stack.js');
  const memoryMb = (fn: string) =>
    (HANDLERS as Record<string, { memorySize: number }>)[fn]?.memorySize ?? 256;
  // Executions approved by earlier sections expire a moment after approval: let them finish.
  await new Promise((r) => setTimeout(r, 3000));
  const approved = await measureApprovedFlows(stack, SIZE.costFlows);
  const allowed = await measureAllowedFlows(stack, SIZE.costFlows);
  const waiting = await measureWaiting(stack, SIZE.waitSeconds);
  const approvedLines = costOf(approved, memoryMb);
  const allowedLines = costOf(allowed, memoryMb);
  const perWaitMinute = total(costOf(waitingMinute(waiting, SIZE.waitSeconds), memoryMb));
  const approvedTotal = total(approvedLines);
  report.add({
    section: 'cost',
    name: 'per 1,000 approved requests (approval at once)',
    value: `$${approvedTotal.toFixed(4)}`,
    goal: '< $0.10',
    met: approvedTotal < 0.1,
    note: `biggest: ${approvedLines
      .slice(0, 3)
      .map((l) => `${l.line} $${l.usdPer1000.toFixed(4)}`)
      .join(', ')}`,
  });
  for (const l of approvedLines)
    report.line(`  approved  $${l.usdPer1000.toFixed(5)}  ${l.line}: ${l.quantity}`);
  report.add({
    section: 'cost',
    name: 'per 1,000 approved requests, each minute the agent long-polls',
    value: `+$${perWaitMinute.toFixed(4)}`,
    note: `get-request at ${memoryMb('getRequest')} MB held open, ${(waiting.dynamo.readUnits / SIZE.waitSeconds).toFixed(1)} RRU/s of polling reads, one API call per 20 s`,
  });
  const allowedTotal = total(allowedLines);
  report.add({
    section: 'cost',
    name: 'per 1,000 auto-allowed requests',
    value: `$${allowedTotal.toFixed(4)}`,
    note: `biggest: ${allowedLines
      .slice(0, 2)
      .map((l) => `${l.line} $${l.usdPer1000.toFixed(4)}`)
      .join(', ')}`,
  });
  for (const l of allowedLines)
    report.line(`  allowed   $${l.usdPer1000.toFixed(5)}  ${l.line}: ${l.quantity}`);
  report.line(`prices: ${PRICES.asOf}`);
  report.record('cost', {
    prices: PRICES,
    approved: { measurement: approved, lines: approvedLines, total: approvedTotal },
    allowed: { measurement: allowed, lines: allowedLines, total: allowedTotal },
    waiting: { measurement: waiting, perMinutePer1000: perWaitMinute },
  });
}

async function reportsSection() {
  report.section(
    `5. Reports at scale: ${SIZE.reportItems.toLocaleString('en')} requests, 200 agents, 90 days`,
  );
  const table = await startReportTable();
  try {
    const now = Date.now();
    const load = await loadRequests(table.client, config, {
      count: SIZE.reportItems,
      agents: 200,
      now,
      onProgress: (n) => process.stdout.write(`   loaded ${n.toLocaleString('en')}\r`),
    });
    report.add({
      section: 'reports',
      name: 'load (BatchWriteItem)',
      value: `${Math.round(load.items / load.seconds).toLocaleString('en')} items/s`,
      note: `${load.items.toLocaleString('en')} items in ${load.seconds.toFixed(0)} s, ${(load.itemBytes / 1024).toFixed(1)} KB each`,
    });
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
      for (let i = 0; i < SIZE.reportRepeats; i++) repeats.push(await c.run());
      const last = repeats.at(-1)!;
      const totalMs = summarize(repeats.map((r) => r.totalMs));
      const pageMs = summarize(repeats.flatMap((r) => r.pageMs));
      const amplification = last.read / Math.max(1, last.returned);
      data[c.name] = { ...last, totalMs, pageMs };
      report.add({
        section: 'reports',
        name: `${c.name}: items read / returned`,
        value: ratio(amplification),
        ...(c.goal ? { goal: '≤ 1.2x', met: amplification <= 1.2 } : {}),
        note: `${last.read} read for ${last.returned}, ${last.readUnits} RRU, ${last.queries} queries; whole report ${ms(totalMs.p50)} over ${last.pages} page(s) (page p50 ${ms(pageMs.p50)}, max ${ms(pageMs.max)})`,
      });
    }
    report.record('reports', { load, cases: data });
  } finally {
    table.client.destroy();
    await table.db.stop();
  }
}

async function main() {
  const needsStack = ['cold', 'request', 'click', 'credentials', 'cost'].some((s) => only.has(s as Section));
  let stack: BenchStack | undefined;
  let host: LambdaHost | undefined;
  let secrets: Awaited<ReturnType<typeof startSecretsManager>> | undefined;
  try {
    if (needsStack) {
      const t = performance.now();
      stack = await BenchStack.start({ waitUntilNotAfterMs: 2000 });
      process.stdout.write(
        `  local stack up in ${((performance.now() - t) / 1000).toFixed(1)} s at ${stack.url}\n`,
      );
      // Warm the JVM and the handlers before anything is timed.
      const agents = await Promise.all(
        Array.from({ length: 10 }, (_, i) => stack!.agent(`warmup-agent-${i}`)),
      );
      for (let i = 0; i < runs(200, 60); i++)
        await stack.create(agents[i % 10]!, i % 2 ? APPROVE_BODY : ALLOW_BODY);
    }
    const bundles =
      only.has('bundles') || needsStack ? await bundleSection(stack?.url ?? 'http://127.0.0.1:1') : [];
    if (stack) {
      secrets = await startSecretsManager(SECRET_ARN, {
        botToken: stack.settings.slack.botToken,
        signingSecret: stack.settings.slack.signingSecret,
      });
    }
    if (stack && secrets && only.has('cold')) await coldSection(stack, bundles, secrets.url);
    if (stack && secrets && (only.has('request') || only.has('click'))) {
      const file = (name: string) => bundles.find((b) => b.name === name)!.file;
      host = await LambdaHost.start(lambdaEnvironment(stack, secrets.url, { sourceMaps: true }), {
        'request-access': file('request-access'),
        'slack-interactions': file('slack-interactions'),
      });
      if (only.has('request')) await requestSection(stack, host);
      if (only.has('click')) await clickSection(stack, host);
      await host.stop();
      host = undefined;
    }
    if (stack && only.has('credentials')) await credentialsSection(stack);
    if (stack && only.has('cost')) await costSection(stack);
  } finally {
    closeHttp();
    await host?.stop();
    await secrets?.close();
    await stack?.stop();
  }
  if (only.has('reports')) await reportsSection();

  const seconds = (Date.now() - began.getTime()) / 1000;
  report.record('finished', {
    seconds,
    loadAtEnd: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  });
  process.stdout.write(`${report.summary()}\n`);
  process.stdout.write(
    `Ran in ${seconds.toFixed(0)} s; load at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}.\n`,
  );
  const outDir = join(ROOT, '.countersign', 'bench');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${began.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ ...report.data, figures: report.figures }, null, 2)}\n`);
  process.stdout.write(`Results: ${file}\n`);
}

await main();
// Sockets of SDK clients inside the local stack may linger; the benchmark is done.
process.exit(0);
