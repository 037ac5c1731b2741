/**
 * What a benchmark run found: each figure with its goal and whether it was met, printed as it is
 * measured and again as one table at the end, plus the raw numbers for the JSON file.
 */
export interface Figure {
  section: string;
  name: string;
  /** The figure as people read it, e.g. `1.23x` or `212 ms (p99 310 ms, …)`. */
  value: string;
  /** `≤ 1.5x`; absent for figures reported for information. */
  goal?: string;
  met?: boolean;
  note?: string;
}

export class Report {
  readonly figures: Figure[] = [];
  readonly data: Record<string, unknown> = {};

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  section(title: string): void {
    this.write(`\n== ${title}`);
  }

  /** Free text under the current section (analysis, breakdowns). */
  line(text: string): void {
    this.write(`   ${text}`);
  }

  add(figure: Figure): void {
    this.figures.push(figure);
    this.write(`   ${formatFigure(figure)}`);
  }

  record(key: string, value: unknown): void {
    this.data[key] = value;
  }

  summary(): string {
    const rows = this.figures.filter((f) => f.goal !== undefined);
    const width = Math.max(...rows.map((f) => `[${f.section}] ${f.name}`.length), 10);
    const lines = rows.map(
      (f) =>
        `${`[${f.section}] ${f.name}`.padEnd(width)}  ${f.value.padEnd(16)}  goal ${f.goal!.padEnd(12)}  ${f.met ? 'MET' : 'MISSED'}`,
    );
    const missed = rows.filter((f) => !f.met).length;
    return [
      '',
      '== Summary: each goal',
      ...lines,
      '',
      `${rows.length - missed} of ${rows.length} goals met.`,
    ].join('\n');
  }
}

function formatFigure(f: Figure): string {
  const goal = f.goal === undefined ? '' : `   [goal ${f.goal}: ${f.met ? 'MET' : 'MISSED'}]`;
  return `${f.name}: ${f.value}${goal}${f.note ? `   (${f.note})` : ''}`;
}
