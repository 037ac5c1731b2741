import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { PROJECT_ROOT } from '../../project-root.js';
import type { CfnTemplate } from './template.js';

/**
 * Synthesizes THE CDK app that deploys (bin/app.ts) the way the cdk CLI runs it, and caches the
 * cloud assembly while the configuration and every source that can change it stay the same.
 *
 * How the CLI runs an app (aws-cdk, toolkit-lib `execProgram`): the app is a child process whose
 * environment carries `CDK_OUTDIR` (where to write the assembly) and `CDK_CONTEXT_JSON` (the merged
 * context: cdk.json's `context`, cdk.context.json, `-c key=value`, then the CLI's own settings on
 * top: path and asset metadata, version reporting, `aws:cdk:bundling-stacks: ["**"]` and
 * `@aws-cdk/core:failSynthOnValidationErrors: false`). The app reads the context with
 * `app.node.tryGetContext`, so the feature flags in cdk.json apply exactly as in `cdk synth`.
 */

/**
 * Everything that can change the synthesized output besides the configuration file. A file added
 * under one of these folders changes the key too (paths are hashed with the contents).
 */
const SYNTH_INPUTS = [
  'bin',
  'lib/aws',
  'lib/bundling.ts',
  // The console's build runs in synth (lib/aws/console-site.ts): its sources are an asset's sources.
  'lib/console',
  'lib/project-root.ts',
  'lambdas',
  'state-machines',
  'package-lock.json',
  'cdk.json',
  'cdk.context.json',
] as const;

/** The settings the cdk CLI adds on top of the project context (toolkit-lib `contextFromSettings`). */
export const CLI_SETTINGS_CONTEXT = {
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
  'aws:cdk:version-reporting': true,
  'aws:cdk:bundling-stacks': ['**'],
  '@aws-cdk/core:failSynthOnValidationErrors': false,
} as const;

/**
 * Linux refuses one environment string longer than 128 KiB (MAX_ARG_STRLEN). The CLI then spills
 * the rest of the context into a file; this context is a few KiB, so a larger one is refused
 * loudly rather than spilled.
 */
const MAX_CONTEXT_BYTES = 120 * 1024;

export interface SynthesizeOptions {
  /** The Countersign YAML, passed to the app as the `configFile` context key. */
  readonly configPath: string;
  /** Where assemblies are kept, one folder per key. Must be on one filesystem (rename is atomic). */
  readonly cacheDir: string;
  /** Progress lines (first synth, cache hits, timings). */
  readonly log?: (line: string) => void;
  /** @default the repository this module lives in */
  readonly projectRoot?: string;
}

export interface SynthesizedAssembly {
  /** The cloud assembly folder (`<cacheDir>/<key>`). */
  readonly dir: string;
  readonly templatePath: string;
  readonly template: CfnTemplate;
  /** The CloudFormation stack name of the Countersign stack. */
  readonly stackName: string;
  /** True when an assembly for the same key was already there. */
  readonly cached: boolean;
  readonly key: string;
}

/** Raised when the CDK app fails; the message carries what the app printed (config errors name the key). */
export class SynthError extends Error {
  override readonly name = 'SynthError';
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

async function listFiles(root: string, entry: string): Promise<string[]> {
  const full = join(root, entry);
  let stat: import('node:fs').Stats;
  try {
    stat = await fs.stat(full);
  } catch {
    return [];
  }
  if (stat.isFile()) return [entry];
  if (!stat.isDirectory()) return [];
  const out: string[] = [];
  for (const child of (await fs.readdir(full)).sort()) {
    if (child === 'node_modules' || child.startsWith('.')) continue;
    out.push(...(await listFiles(root, join(entry, child))));
  }
  return out;
}

/** sha256 over the configuration's bytes and every input's path and bytes, in a fixed order. */
export async function assemblyKey(configPath: string, projectRoot = PROJECT_ROOT): Promise<string> {
  const hash = createHash('sha256');
  hash.update('config\0');
  hash.update(await fs.readFile(configPath));
  for (const input of SYNTH_INPUTS) {
    for (const file of await listFiles(projectRoot, input)) {
      hash.update(`\0file\0${file}\0`);
      hash.update(await fs.readFile(join(projectRoot, file)));
    }
  }
  // The Node major decides nothing in the template today, but tsx/esbuild run on it; cheap to include.
  hash.update(`\0node\0${process.versions.node.split('.')[0]}`);
  return hash.digest('hex');
}

/** The context the cdk CLI would pass: cdk.json's context, cdk.context.json, `-c configFile=…`, CLI settings. */
export function cdkContext(configPath: string, projectRoot = PROJECT_ROOT): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const contextFile = join(projectRoot, 'cdk.context.json');
  const saved = existsSync(contextFile)
    ? (JSON.parse(readFileSync(contextFile, 'utf8')) as Record<string, unknown>)
    : {};
  return {
    ...(cdkJson.context ?? {}),
    ...saved,
    configFile: resolve(configPath),
    // The local assembly: the runner supplies OidcIssuer, so a configuration without an issuer synthesizes.
    local: true,
    ...CLI_SETTINGS_CONTEXT,
  };
}

interface Manifest {
  artifacts?: Record<
    string,
    { type: string; displayName?: string; properties?: { templateFile?: string; stackName?: string } }
  >;
}

function findStack(dir: string, wanted: string): { stackName: string; templatePath: string } {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const stackName = artifact.properties?.stackName ?? id;
    if (id !== wanted && stackName !== wanted) continue;
    const templateFile = artifact.properties?.templateFile;
    if (!templateFile) break;
    return { stackName, templatePath: join(dir, templateFile) };
  }
  throw new Error(`the cloud assembly in ${dir} has no stack named ${wanted}`);
}

function runApp(
  projectRoot: string,
  outdir: string,
  context: Record<string, unknown>,
): Promise<{ code: number | null; output: string }> {
  const contextJson = JSON.stringify(context);
  if (Buffer.byteLength(contextJson) > MAX_CONTEXT_BYTES) {
    throw new Error(
      `the CDK context is ${Buffer.byteLength(contextJson)} bytes; at most ${MAX_CONTEXT_BYTES}`,
    );
  }
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: projectRoot,
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: contextJson,
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        CDK_DISABLE_VERSION_CHECK: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

/** The lines worth showing from a failed synth: esbuild's progress lines are noise. */
function failureText(output: string): string {
  const lines = output
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^(Bundling asset |\s+\.\.\.|⚡ Done in )/.test(l));
  return lines.slice(-40).join('\n');
}

/**
 * Synthesizes bin/app.ts with the configuration, or returns the cached assembly for the same key.
 * Concurrent callers (vitest forks) are safe: each synthesizes into its own temporary folder
 * beside the cache entry and renames it into place; a loser of the race discards its copy.
 */
export async function synthesizeAssembly(options: SynthesizeOptions): Promise<SynthesizedAssembly> {
  const projectRoot = options.projectRoot ?? PROJECT_ROOT;
  const log = options.log ?? (() => {});
  const configPath = resolve(options.configPath);
  const context = cdkContext(configPath, projectRoot);
  const wantedStack = typeof context.stackName === 'string' ? context.stackName : 'Countersign';
  const started = performance.now();
  const key = await assemblyKey(configPath, projectRoot);
  const dir = join(resolve(options.cacheDir), key);
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

  const load = (cached: boolean): SynthesizedAssembly => {
    const { stackName, templatePath } = findStack(dir, wantedStack);
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as CfnTemplate;
    return { dir, templatePath, template, stackName, cached, key };
  };

  if (existsSync(join(dir, 'manifest.json'))) {
    const assembly = load(true);
    log(`Using the synthesized CDK app (cached ${key.slice(0, 12)}, ${seconds()} s)`);
    return assembly;
  }

  log('Synthesizing the CDK app (first start or sources changed)…');
  await fs.mkdir(options.cacheDir, { recursive: true });
  const tmp = join(
    resolve(options.cacheDir),
    `.tmp-${key.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await fs.mkdir(tmp);
  try {
    const { code, output } = await runApp(projectRoot, tmp, context);
    if (code !== 0) {
      throw new SynthError(
        `Synthesizing the CDK app with ${relative(process.cwd(), configPath) || configPath} failed (exit ${code}):\n${failureText(output)}`,
        output,
      );
    }
    if (!existsSync(join(tmp, 'manifest.json'))) {
      throw new SynthError(
        `the CDK app exited 0 but wrote no cloud assembly:\n${failureText(output)}`,
        output,
      );
    }
    try {
      await fs.rename(tmp, dir);
    } catch (error) {
      // Another process renamed its copy first: theirs is as good as ours (same key).
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(join(dir, 'manifest.json'))) throw error;
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  const assembly = load(false);
  log(`Synthesized the CDK app in ${seconds()} s (${key.slice(0, 12)})`);
  return assembly;
}
