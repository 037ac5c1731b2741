import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SynthError, synthesizeAssembly } from '../../../lib/local/assembly/synth.js';
import { PROJECT_ROOT } from '../../../lib/project-root.js';
import { failure } from '../helpers.js';

/**
 * The synth mechanics (environment, context, cache, concurrency, failures) against a stand-in CDK
 * app that writes a cloud assembly in a few hundred milliseconds; assembly.test.ts runs the real one.
 */

const FAKE_APP = `
import { appendFileSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const outdir = process.env.CDK_OUTDIR!;
const context = JSON.parse(process.env.CDK_CONTEXT_JSON!);
appendFileSync(join(process.cwd(), 'runs.log'), outdir + '\\n');
const config = readFileSync(context.configFile, 'utf8');
if (config.includes('broken')) {
  console.error('Countersign configuration ' + context.configFile + ': rules.0.effect must be allow, deny or approve');
  process.exit(1);
}
await new Promise((r) => setTimeout(r, 300));
writeFileSync(join(outdir, 'manifest.json'), JSON.stringify({
  version: '55.0.0',
  artifacts: { [context.stackName]: { type: 'aws:cloudformation:stack', properties: { templateFile: context.stackName + '.template.json' } } },
}));
writeFileSync(join(outdir, context.stackName + '.template.json'), JSON.stringify({
  Description: config.trim(),
  Resources: {},
  Metadata: {
    context,
    env: {
      CDK_DISABLE_CLI_TELEMETRY: process.env.CDK_DISABLE_CLI_TELEMETRY,
      CDK_DISABLE_VERSION_CHECK: process.env.CDK_DISABLE_VERSION_CHECK,
    },
  },
}));
`;

let root: string;
let cacheDir: string;
let config: string;

const runs = (): string[] => readFileSync(join(root, 'runs.log'), 'utf8').split('\n').filter(Boolean);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'countersign-fake-cdk-'));
  mkdirSync(join(root, 'bin'));
  writeFileSync(join(root, 'bin', 'app.ts'), FAKE_APP);
  writeFileSync(join(root, 'package.json'), '{"type":"module"}');
  writeFileSync(
    join(root, 'cdk.json'),
    JSON.stringify({
      app: 'npx tsx bin/app.ts',
      context: { stackName: 'Fake', '@aws-cdk/core:someFlag': true },
    }),
  );
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'runs.log'), '');
  cacheDir = join(root, 'cache');
  config = join(root, 'config.yaml');
  writeFileSync(config, 'rules: []\n');
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('synthesizeAssembly (mechanics)', () => {
  it("runs the app with the CLI's environment and context", async () => {
    const assembly = await synthesizeAssembly({ configPath: config, cacheDir, projectRoot: root });
    const metadata = (
      assembly.template as unknown as {
        Metadata: { context: Record<string, unknown>; env: Record<string, string> };
      }
    ).Metadata;
    expect(assembly).toMatchObject({ cached: false, stackName: 'Fake' });
    expect(metadata.context).toEqual({
      stackName: 'Fake',
      '@aws-cdk/core:someFlag': true,
      configFile: config,
      local: true,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:version-reporting': true,
      'aws:cdk:bundling-stacks': ['**'],
      '@aws-cdk/core:failSynthOnValidationErrors': false,
    });
    expect(metadata.env).toEqual({ CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DISABLE_VERSION_CHECK: '1' });
  });

  it('reuses the assembly until the config or a source changes', async () => {
    const before = runs().length;
    const cached = await synthesizeAssembly({ configPath: config, cacheDir, projectRoot: root });
    expect(cached.cached).toBe(true);
    expect(runs()).toHaveLength(before);

    appendFileSync(join(root, 'bin', 'app.ts'), '\n// a source change\n');
    const afterSource = await synthesizeAssembly({ configPath: config, cacheDir, projectRoot: root });
    expect(afterSource.cached).toBe(false);
    expect(afterSource.key).not.toBe(cached.key);

    writeFileSync(config, 'rules: [] # changed\n');
    const afterConfig = await synthesizeAssembly({ configPath: config, cacheDir, projectRoot: root });
    expect(afterConfig.cached).toBe(false);
    expect(afterConfig.template.Description).toBe('rules: [] # changed');
    expect(runs()).toHaveLength(before + 2);
  });

  it('lets concurrent synths of one key all succeed on one whole assembly, leaving no temporary folders', async () => {
    writeFileSync(config, 'rules: [] # raced\n');
    const before = runs().length;
    const all = await Promise.all(
      [1, 2, 3].map(() => synthesizeAssembly({ configPath: config, cacheDir, projectRoot: root })),
    );
    expect(new Set(all.map((a) => a.dir)).size).toBe(1);
    expect(all.every((a) => a.template.Description === 'rules: [] # raced')).toBe(true);
    // Each started before any finished, so each ran the app into its own folder; one won the rename.
    expect(runs().length - before).toBe(3);
    expect(new Set(runs().slice(before)).size).toBe(3);
    expect(readdirSync(cacheDir).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it("fails with the app's own message when it refuses the configuration", async () => {
    writeFileSync(config, 'broken\n');
    const error = await failure(synthesizeAssembly({ configPath: config, cacheDir, projectRoot: root }));
    expect(error).toBeInstanceOf(SynthError);
    expect((error as Error).message).toMatch(/failed \(exit 1\)/);
    expect((error as Error).message).toContain('rules.0.effect must be allow, deny or approve');
    expect(readdirSync(cacheDir).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });
});
