import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ALLOW_BODY, APPROVE_BODY, BenchStack } from './lib/bench-stack.js';
import { type Figure, formatFigure, GOALS, summary } from './lib/report.js';
import { type RunContext, SECTION_RUNNERS, SECTIONS, type Section, sizesOf, TITLES } from './sections.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Sections that run against the local assembly (one stack, started once, stopped in the cleanup). */
const NEEDS_STACK: readonly Section[] = ['cold', 'request', 'click', 'credentials', 'execute', 'local-aws'];

const USAGE = `Usage: npm run bench -- [--quick] [--million] [--only LIST]

Measures Countersign, as the CDK app synthesizes it and the local assembly runs it, against its
goals (docs/benchmarks.md) on 127.0.0.1, and prints each figure with its goal. Results are also
written to .countersign/bench/<time>.json.

  --quick       fewer samples (a few minutes on 2 busy cores)
  --million     load 1,000,000 requests for the report benchmark instead of 100,000
  --only LIST   comma-separated sections: ${SECTIONS.join(', ')}
  -h, --help    this help`;

interface Options {
  quick: boolean;
  million: boolean;
  only: ReadonlySet<Section>;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      million: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const only = (values.only?.split(',') ?? [...SECTIONS]).map((s) => s.trim());
  for (const s of only) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      throw new Error(`unknown section ${s}; known: ${SECTIONS.join(', ')}`);
    }
  }
  return { quick: values.quick, million: values.million, only: new Set(only as Section[]) };
}

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

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Parses `argv`, runs the sections asked for, prints and saves the figures; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const write = (line: string) => process.stdout.write(`${line}\n`);
  const parsed = parseOptions(argv);
  if (parsed === 'help') {
    write(USAGE);
    return 0;
  }
  const options = parsed;
  const size = sizesOf(options);
  const began = new Date();
  const machine = {
    cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAtStart: load(),
    commit: gitHead(),
  };
  write(
    `Countersign benchmarks, ${began.toISOString()} (${options.quick ? 'quick' : 'full'})\n` +
      `  ${machine.cpu}, ${machine.memoryGb} GB, Node ${machine.node}, load ${machine.loadAtStart}, commit ${machine.commit}`,
  );
  const figures: Figure[] = [];
  const data: Record<string, unknown> = { machine, mode: { ...options, only: [...options.only], size } };
  const ctx: RunContext = { size, stack: undefined };
  const failed: Section[] = [];
  try {
    if (NEEDS_STACK.some((s) => options.only.has(s))) {
      const t = performance.now();
      ctx.stack = await BenchStack.start({ waitUntilNotAfterMs: 10_000 });
      write(`  local assembly up in ${((performance.now() - t) / 1000).toFixed(1)} s at ${ctx.stack.url}`);
      data.stackStartSeconds = ctx.stack.stack.startSeconds;
      // Warm DynamoDB Local's JVM and one process of each API function before anything is timed.
      const stack = ctx.stack;
      const agents = await Promise.all(
        Array.from({ length: 10 }, (_, i) => stack.agent(`warmup-agent-${i}`)),
      );
      const warm = [];
      for (let i = 0; i < size.warmupRequests; i++)
        warm.push(await stack.create(agents[i % 10]!, i % 2 ? APPROVE_BODY : ALLOW_BODY));
      for (const w of warm) if (w.status === 'PENDING') await stack.waitShown(w.id, 60_000, 20);
    }
    for (const section of SECTIONS) {
      if (!options.only.has(section)) continue;
      write(`\n== ${TITLES[section]}`);
      try {
        const result = await SECTION_RUNNERS[section](ctx);
        for (const line of result.lines ?? []) write(`   ${line}`);
        for (const figure of result.figures) write(`   ${formatFigure(figure)}`);
        figures.push(...result.figures);
        data[section] = result.data;
      } catch (error) {
        // One broken section does not hide the others' figures; the run still fails (exit 1).
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        write(`   FAILED: ${message}`);
        failed.push(section);
        data[section] = { failed: message };
      }
    }
  } finally {
    await ctx.stack?.stop();
  }
  const seconds = (Date.now() - began.getTime()) / 1000;
  data.finished = { seconds, loadAtEnd: load() };
  write(summary(figures));
  write(`Ran in ${seconds.toFixed(0)} s; load at end ${load()}.`);
  const outDir = join(ROOT, '.countersign', 'bench');
  mkdirSync(outDir, { recursive: true });
  const file = join(
    outDir,
    `${began.toISOString().replace(/[:.]/g, '-')}${options.quick ? '-quick' : ''}.json`,
  );
  const goals = Object.fromEntries(
    Object.entries(GOALS).map(([id, g]) => [id, { goal: g.goal, compared: g.compared }]),
  );
  writeFileSync(file, `${JSON.stringify({ ...data, goals, figures }, null, 2)}\n`);
  write(`Results: ${file}`);
  if (failed.length > 0) write(`Sections that failed: ${failed.join(', ')}.`);
  return failed.length > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const code = await main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  });
  // Sockets of SDK clients may linger after the stack stopped; the benchmark is done.
  process.exit(code);
}
