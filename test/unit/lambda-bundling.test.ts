import { join } from 'node:path';
import { build } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultProvider } from '../../lambdas/adapters/sdk-lambda-credentials.js';
import { EventStreamSerde } from '../../lambdas/adapters/sdk-no-event-streams.js';
import { lambdaBuildOptions } from '../../lib/bundling.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ENV_NAMES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;
const saved = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));

afterEach(() => {
  for (const name of ENV_NAMES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

describe('Lambda credentials (the bundles’ stand-in for the SDK default chain)', () => {
  it('answers with the session Lambda puts in the environment', async () => {
    // Prepare
    process.env.AWS_ACCESS_KEY_ID = fakeAccessKeyId('EXAMPLEKEY000001');
    process.env.AWS_SECRET_ACCESS_KEY = 'example-secret';
    process.env.AWS_SESSION_TOKEN = 'example-session-token';
    // Act
    const credentials = await defaultProvider()();
    // Assess
    expect(credentials).toMatchObject({
      accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
      secretAccessKey: 'example-secret',
      sessionToken: 'example-session-token',
    });
  });

  it('refuses when the environment holds no credentials, instead of looking elsewhere', async () => {
    // Prepare
    for (const name of ENV_NAMES) delete process.env[name];
    // Act + Assess
    await expect(defaultProvider()()).rejects.toThrow(/environment variable credentials/);
  });

  it('fails loudly if an event stream operation is ever called', () => {
    expect(() => new EventStreamSerde()).toThrow(/not bundled/);
  });
});

describe('a handler bundled with lib/bundling.ts', () => {
  it('carries the environment credential provider only, not the chains Lambda never runs', async () => {
    // Act
    const out = await build({
      ...lambdaBuildOptions(join(ROOT, 'lambdas', 'handlers', 'get-request.ts'), join(ROOT, 'out.mjs'), {
        'process.env.COUNTERSIGN_CONFIG_INLINE': JSON.stringify('{}'),
      }),
      absWorkingDir: ROOT,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    // Assess
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs).toContain('lambdas/adapters/sdk-lambda-credentials.ts');
    for (const unused of [
      '@aws-sdk/credential-provider-node',
      '@aws-sdk/credential-provider-ini',
      '@aws-sdk/credential-provider-sso',
      '@aws-sdk/nested-clients',
      '@smithy/core/dist-es/submodules/event-streams',
    ]) {
      expect(inputs.filter((path) => path.includes(unused))).toEqual([]);
    }
  });
});

describe('data files the bundles read at run time', () => {
  it('every handler that bundles the IAM catalog reader ships the catalog file beside its bundle', async () => {
    const { readdirSync, mkdtempSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { BUNDLE_FILES, copyBundleFiles } = await import('../../lib/bundling.js');
    const handlers = readdirSync(join(ROOT, 'lambdas', 'handlers')).filter((f) => f.endsWith('.ts'));
    const readers: string[] = [];
    for (const file of handlers) {
      const name = file.replace(/\.ts$/, '');
      const outDir = mkdtempSync(join(tmpdir(), `countersign-${name}-`));
      const out = await build({
        ...lambdaBuildOptions(join(ROOT, 'lambdas', 'handlers', file), join(outDir, 'index.mjs'), {}),
        absWorkingDir: ROOT,
        metafile: true,
        write: false,
        logLevel: 'silent',
      });
      // Imported is not enough (tree-shaking drops unused code): does the catalog reader end up in the bundle?
      const output = Object.values(out.metafile!.outputs).find((o) => o.entryPoint);
      if (!output?.inputs['lambdas/core/iam-catalog.ts']?.bytesInOutput) continue;
      readers.push(name);
      copyBundleFiles(name, ROOT, outDir);
      expect(existsSync(join(outDir, 'generated', 'iam-catalog.br')), `${name} reads the catalog`).toBe(true);
    }
    // Only the create path validates actions; the read path must stay free of the catalog.
    expect(readers).toEqual(['request-access']);
    expect(Object.keys(BUNDLE_FILES)).toEqual(['request-access']);
  }, 60_000);
});
