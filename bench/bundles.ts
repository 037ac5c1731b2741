import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { analyzeMetafile, build, type Metafile } from 'esbuild';
import { copyBundleFiles, lambdaBuildOptions } from '../lib/bundling.js';

/** One Lambda bundle built with the production options (lib/bundling.ts). */
export interface BundleInfo {
  /** The handler file's name without `.ts`, or `hello-world`. */
  name: string;
  file: string;
  /** Minified .mjs, the figure the 300 KB goal is about. */
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  /** Bytes in the output per npm package (or `countersign`, `iam-catalog`), largest first. */
  byPackage: Array<{ name: string; bytes: number }>;
  metafile: Metafile;
}

export const HELLO_WORLD = 'hello-world';
const HELLO_SOURCE = `export const handler = async () => ({ statusCode: 200, body: 'hello' });\n`;

/** The handler files of a source tree: every lambdas/handlers/*.ts. */
export function handlerNames(root: string): string[] {
  return readdirSync(join(root, 'lambdas', 'handlers'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => basename(f, '.ts'))
    .sort();
}

/**
 * Bundles every handler of `root` and a hello-world handler into `outDir`, each as
 * `<name>/index.mjs` (+ map) exactly as lib/aws would, with `define` (the inlined configuration).
 */
export async function buildLambdaBundles(options: {
  root: string;
  outDir: string;
  define: Record<string, string>;
}): Promise<BundleInfo[]> {
  const entries = handlerNames(options.root).map((name) => ({
    name,
    entry: join(options.root, 'lambdas', 'handlers', `${name}.ts`),
  }));
  const helloDir = join(options.outDir, 'src');
  mkdirSync(helloDir, { recursive: true });
  const helloEntry = join(helloDir, `${HELLO_WORLD}.mjs`);
  writeFileSync(helloEntry, HELLO_SOURCE);
  entries.push({ name: HELLO_WORLD, entry: helloEntry });

  const results: BundleInfo[] = [];
  for (const { name, entry } of entries) {
    const file = join(options.outDir, name, 'index.mjs');
    const buildOptions = lambdaBuildOptions(entry, file, options.define);
    // A past revision (--bundles-at) may predate some of the stand-ins the aliases point to.
    buildOptions.alias = Object.fromEntries(
      Object.entries(buildOptions.alias ?? {}).filter(([, target]) => existsSync(join(options.root, target))),
    );
    const out = await build({
      ...buildOptions,
      absWorkingDir: options.root,
      metafile: true,
      logLevel: 'error',
    });
    copyBundleFiles(name, options.root, dirname(file));
    const contents = readFileSync(file);
    results.push({
      name,
      file,
      bytes: contents.length,
      gzipBytes: gzipSync(contents, { level: 9 }).length,
      mapBytes: existsSync(`${file}.map`) ? statSync(`${file}.map`).size : 0,
      byPackage: bytesByPackage(out.metafile),
      metafile: out.metafile,
    });
  }
  return results;
}

/** Groups a bundle's output bytes by the npm package (or our own code) they came from. */
export function bytesByPackage(metafile: Metafile): Array<{ name: string; bytes: number }> {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const name = pkg
        ? pkg[1]!
        : path.includes('lambdas/core/generated/')
          ? 'iam-catalog (generated)'
          : 'countersign (own code)';
      totals.set(name, (totals.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/** esbuild's own analysis of one bundle, cut to its first `lines` lines. */
export async function analysisOf(bundle: BundleInfo, lines = 25): Promise<string> {
  const text = await analyzeMetafile(bundle.metafile, { verbose: false });
  return text.split('\n').filter(Boolean).slice(0, lines).join('\n');
}

/** Brotli size of the generated IAM catalog as embedded (for the explanation of request-access). */
export function brotliSize(text: string): number {
  return brotliCompressSync(Buffer.from(text)).length;
}

/**
 * A copy of the sources at a git revision (for before/after bundle sizes), sharing this checkout's
 * node_modules and generated IAM catalog (both outside git).
 */
export function exportRevision(repoRoot: string, ref: string): string {
  if (!/^[\w./~^-]{1,100}$/.test(ref)) throw new Error(`not a git revision: ${ref}`);
  const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-rev-'));
  const archive = spawnSync('git', ['archive', '--format=tar', ref, 'lambdas', 'lib', 'package.json'], {
    cwd: repoRoot,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr.toString()}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.toString()}`);
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const generated = join('lambdas', 'core', 'generated');
  if (!existsSync(join(dir, generated)))
    cpSync(join(repoRoot, generated), join(dir, generated), { recursive: true });
  writeEmbeddedCatalog(dir);
  return dir;
}

/**
 * Revisions before d7811e0 import the catalog as a module (generated/iam-catalog.ts, base64 brotli
 * inside the bundle); the checkout now generates it as a file (iam-catalog.br). Same data, same
 * format: write the module those revisions expect from the file.
 */
function writeEmbeddedCatalog(dir: string): void {
  const generated = join(dir, 'lambdas', 'core', 'generated');
  const reader = join(dir, 'lambdas', 'core', 'iam-catalog.ts');
  if (!existsSync(reader) || !readFileSync(reader, 'utf8').includes("'./generated/iam-catalog.js'")) return;
  if (existsSync(join(generated, 'iam-catalog.ts'))) return;
  const packed = readFileSync(join(generated, 'iam-catalog.br'));
  const source = /IAM_CATALOG_SOURCE = '([^']*)'/.exec(
    readFileSync(join(generated, 'iam-catalog-source.ts'), 'utf8'),
  )?.[1];
  writeFileSync(
    join(generated, 'iam-catalog.ts'),
    `export const IAM_CATALOG_SOURCE = '${source ?? 'unknown'}';\n` +
      `export const IAM_CATALOG_BROTLI_BASE64 =\n  '${packed.toString('base64')}';\n`,
  );
}
