import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CountersignFunction } from '../../lib/aws/countersign-function.js';
import { configDefine, configForBundles, loadSynthConfig } from '../../lib/aws/synth-config.js';
import { PROJECT_ROOT } from '../../lib/project-root.js';
import { FIXTURE_CONFIG_FILE, FIXTURES, newApp } from './synth.js';

/**
 * One real esbuild run (the template tests skip bundling): proves the bundle is ESM with a working
 * `require`, carries the AWS SDK itself, and has the validated configuration compiled in.
 */
let bundleDir: string;

beforeAll(() => {
  const app = newApp({ bundle: true });
  const stack = new Stack(app, 'Probe');
  const probe = new CountersignFunction(stack, 'Probe', {
    entry: join(FIXTURES, 'bundle-probe.ts'),
    projectRoot: PROJECT_ROOT,
    description: 'bundle probe',
    define: configDefine(loadSynthConfig(FIXTURE_CONFIG_FILE)),
  });
  app.synth();
  const code = Template.fromStack(stack).toJSON().Resources[
    stack.getLogicalId(probe.function.node.defaultChild as never)
  ].Properties.Code as { S3Key: string };
  bundleDir = join(app.outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
}, 180_000);

describe('bundled handler', () => {
  it('is one minified ESM file with its source map', () => {
    expect(existsSync(join(bundleDir, 'index.mjs'))).toBe(true);
    expect(existsSync(join(bundleDir, 'index.mjs.map'))).toBe(true);
    const map = JSON.parse(readFileSync(join(bundleDir, 'index.mjs.map'), 'utf8'));
    expect(map.sourcesContent).toBeUndefined();
  });

  it('uses the shared bundling options: the SDK credential chain is reduced to the environment', () => {
    const map = JSON.parse(readFileSync(join(bundleDir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
    expect(map.sources.some((s) => s.includes('sdk-lambda-credentials'))).toBe(true);
    expect(map.sources.filter((s) => /credential-provider-(ini|sso|process|web-identity)/.test(s))).toEqual(
      [],
    );
  });

  it('runs outside the repository, with the SDK inside and the configuration compiled in', async () => {
    // Prepare: the bundle sits in a temporary directory, with no node_modules to fall back on.
    const expected = configForBundles(loadSynthConfig(FIXTURE_CONFIG_FILE));
    // Act
    const module = (await import(pathToFileURL(join(bundleDir, 'index.mjs')).href)) as {
      handler: () => Promise<{
        inlinedConfig?: string;
        sdkBundled: unknown;
        requireAvailable: string;
      }>;
    };
    const result = await module.handler();
    // Assess
    expect(result.sdkBundled).toBe('function');
    expect(result.requireAvailable).toBe('function');
    expect(JSON.parse(result.inlinedConfig ?? 'null')).toEqual(expected);
    expect(process.env.COUNTERSIGN_CONFIG_INLINE).toBeUndefined();
  });

  it('keeps no class names (they cost every bundle ~7%), so error.name is what a class spells literally', async () => {
    const module = (await import(pathToFileURL(join(bundleDir, 'index.mjs')).href)) as {
      handler: () => Promise<{ classNamedError: string; literallyNamedError: string }>;
    };
    const result = await module.handler();
    // The literal name survives minification; the state machine's Retry and Catch can match it.
    expect(result.literallyNamedError).toBe('ProbeNamedLiterallyError');
    // A name taken from the class does not: the deployed bundle is minified without keepNames.
    expect(result.classNamedError).not.toBe('ProbeNamedByItsClassError');
  });
});
