import { resolve } from 'node:path';
import { synthesizeAssembly } from '../lib/local/assembly/synth.js';
import { TEST_CONFIG_PATH } from './support/local-stack.js';

/**
 * Synthesizes the CDK app with the test configuration once, before any test file starts a local
 * assembly: the files then share the cached assembly instead of each racing to build it.
 */
export default async function setup(): Promise<void> {
  const started = Date.now();
  const synth = await synthesizeAssembly({
    configPath: TEST_CONFIG_PATH,
    cacheDir: resolve('.countersign/assembly'),
    log: () => undefined,
  });
  process.stdout.write(
    `Local assembly ${synth.cached ? 'from cache' : 'synthesized'} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}
