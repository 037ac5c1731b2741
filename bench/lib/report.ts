/**
 * The goals of docs/benchmarks.md, in one table: each figure a goal applies to, the goal as people
 * read it, how the figure is compared, and the test. Sections return figures that name a goal here;
 * nothing else decides whether a goal was met.
 */
export interface Goal {
  readonly goal: string;
  readonly compared: string;
  readonly met: (measured: number) => boolean;
}

export const GOALS = {
  consoleScript: {
    goal: '< 150 KB of JavaScript',
    compared: "bytes of the console's first-load JavaScript, as lib/console/build.ts builds it",
    met: (bytes) => bytes < 150 * 1024,
  },
  consoleScriptGzip: {
    goal: '< 50 KB gzipped',
    compared: 'the same JavaScript, gzipped, as a browser downloads it',
    met: (bytes) => bytes < 50 * 1024,
  },
  bundleSize: {
    goal: '< 300 KB',
    compared: 'bytes of the bundle in its synthesized asset folder (minified ESM, AWS SDK included)',
    met: (bytes) => bytes < 300 * 1024,
  },
  coldStart: {
    goal: '≤ 2.0x hello-world',
    compared: "p50 of the first invoke in a fresh process / hello-world's, same runner, interleaved runs",
    met: (x) => x <= 2,
  },
  requestPath: {
    goal: '≤ 1.5x',
    compared:
      'POST /v1/requests round trip / the same AWS calls raw (same role, same local AWS), same percentile',
    met: (x) => x <= 1.5,
  },
  slackClick: {
    goal: '≤ 1.5x',
    compared:
      'click round trip / reads + conditional write + SendTaskSuccess raw (same role, same local AWS)',
    met: (x) => x <= 1.5,
  },
  slackClickP99: {
    goal: '≤ 1,000 ms',
    compared: 'p99 round trip of a signed Approve click (Slack allows 3 s)',
    met: (ms) => ms <= 1000,
  },
  clickToCredentials: {
    goal: '< 300 ms',
    compared: 'p50 from the click sent to the credentials claim answered, through the assembly',
    met: (ms) => ms < 300,
  },
  executeCall: {
    goal: '≤ 1.3x',
    compared:
      'p50 POST /v1/requests/{id}/execute round trip / AssumeRole for exactly the call + the call raw (same role, same local AWS)',
    met: (x) => x <= 1.3,
  },
  localAwsOverhead: {
    goal: '≤ 1.20x',
    compared: 'p50 GetItem through the local AWS (SigV4 + IAM + CloudTrail) / p50 straight to DynamoDB Local',
    met: (x) => x <= 1.2,
  },
  reportAmplification: {
    goal: '≤ 1.2x',
    compared: 'items DynamoDB read / items the report returned',
    met: (x) => x <= 1.2,
  },
} as const satisfies Record<string, Goal>;

export type GoalId = keyof typeof GOALS;

export interface Figure {
  section: string;
  name: string;
  /** The figure as people read it, e.g. `1.23x` or `212 ms (p99 310 ms, …)`. */
  value: string;
  /** The goal this figure is held to, with the number compared; absent for information. */
  goal?: { id: GoalId; measured: number };
  note?: string;
}

/** What a section found: its figures, free text (breakdowns), and raw numbers for the JSON file. */
export interface SectionResult {
  figures: Figure[];
  lines?: string[];
  data: unknown;
}

export const isMet = (f: Figure): boolean | undefined =>
  f.goal ? GOALS[f.goal.id].met(f.goal.measured) : undefined;

export function formatFigure(f: Figure): string {
  const goal = f.goal ? `   [goal ${GOALS[f.goal.id].goal}: ${isMet(f) ? 'MET' : 'MISSED'}]` : '';
  return `${f.name}: ${f.value}${goal}${f.note ? `   (${f.note})` : ''}`;
}

/** The closing table: each figure held to a goal, and how many were met. */
export function summary(figures: readonly Figure[]): string {
  const rows = figures.filter((f) => f.goal !== undefined);
  if (rows.length === 0) return '\n== Summary: no figure held to a goal was measured';
  const width = Math.max(...rows.map((f) => `[${f.section}] ${f.name}`.length), 10);
  const lines = rows.map(
    (f) =>
      `${`[${f.section}] ${f.name}`.padEnd(width)}  ${f.value.slice(0, 16).padEnd(16)}  goal ${GOALS[f.goal!.id].goal.padEnd(18)}  ${isMet(f) ? 'MET' : 'MISSED'}`,
  );
  const missed = rows.filter((f) => !isMet(f)).length;
  return [
    '',
    '== Summary: each goal',
    ...lines,
    '',
    `${rows.length - missed} of ${rows.length} goals met.`,
  ].join('\n');
}
