import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, type BuildResult, build, buildSync } from 'esbuild';

/**
 * Builds the web console (DESIGN.md §6) into a few static files: `index.html` (no inline script or
 * style), `assets/main-<hash>.js`, `assets/styles-<hash>.css`. Content-hashed names let a CDN cache
 * assets forever while `index.html` and `config.json` stay uncached. The front door serves the
 * result from memory; the CDK app writes it to a directory and uploads it.
 */

export const CONSOLE_APP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'app');

export interface ConsoleFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** Content-hashed assets never change under their name. */
  readonly immutable: boolean;
}

export interface ConsoleBuild {
  /** Path relative to the console's base (`index.html`, `assets/main-AB12CD34.js`, …) → file. */
  readonly files: ReadonlyMap<string, ConsoleFile>;
  /** JavaScript the first load fetches, raw and gzipped (the budget: < 150 KB, < 50 KB gzipped). */
  readonly scriptBytes: number;
  readonly scriptGzipBytes: number;
}

const OPTIONS: BuildOptions = {
  entryPoints: [join(CONSOLE_APP_DIR, 'main.tsx'), join(CONSOLE_APP_DIR, 'styles.css')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(CONSOLE_APP_DIR, 'tsconfig.json'),
  entryNames: 'assets/[name]-[hash]',
  outdir: '/console-build',
  write: false,
  legalComments: 'none',
  sourcemap: false,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'silent',
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

function assemble(result: BuildResult): ConsoleBuild {
  const files = new Map<string, ConsoleFile>();
  let script = '';
  let styles = '';
  let scriptBytes = 0;
  let scriptGzipBytes = 0;
  for (const out of result.outputFiles ?? []) {
    const name = out.path.slice(OPTIONS.outdir!.length + 1);
    const ext = name.slice(name.lastIndexOf('.'));
    const body = Buffer.from(out.contents);
    files.set(name, { body, contentType: TYPES[ext] ?? 'application/octet-stream', immutable: true });
    if (ext === '.js') {
      script = name;
      scriptBytes += body.length;
      scriptGzipBytes += gzipSync(body, { level: 9 }).length;
    }
    if (ext === '.css') styles = name;
  }
  if (!script || !styles) throw new Error('console build: esbuild produced no script or stylesheet');
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<title>Countersign</title>',
    `<link rel="stylesheet" href="${styles}">`,
    `<script type="module" src="${script}"></script>`,
    '</head>',
    '<body>',
    '<div id="app"></div>',
    '<noscript>The Countersign console needs JavaScript.</noscript>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
  files.set('index.html', { body: Buffer.from(html), contentType: TYPES['.html']!, immutable: false });
  return { files, scriptBytes, scriptGzipBytes };
}

/** Builds in memory (the local front door, the size test). */
export async function buildConsole(): Promise<ConsoleBuild> {
  return assemble(await build(OPTIONS));
}

/** Builds synchronously (CDK synthesis is synchronous) and writes the files under `outdir`. */
export function buildConsoleInto(outdir: string): ConsoleBuild {
  const built = assemble(buildSync(OPTIONS));
  rmSync(outdir, { recursive: true, force: true });
  for (const [name, file] of built.files) {
    const path = join(outdir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.body);
  }
  return built;
}

/**
 * The console's Content Security Policy: scripts and styles only from its own files (no inline
 * anything, no eval), network only to itself and the API/issuer origins given, never framed, no
 * plugins, no `<base>` tricks, forms post nowhere.
 */
export function consoleCsp(connectOrigins: readonly string[] = []): string {
  const connect = ["'self'", ...new Set(connectOrigins.filter((o) => o && o !== "'self'"))].join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    `connect-src ${connect}`,
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Headers every console file is served with (besides its content type and caching). */
export const CONSOLE_SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
} as const;
