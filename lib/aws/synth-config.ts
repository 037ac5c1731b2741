import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { type CountersignConfig, parseConfig } from '../../lambdas/core/config.js';
import { ConfigError } from '../../lambdas/core/errors.js';

/**
 * The configuration as the AWS assembly sees it: read once at synth time, validated with the same
 * `parseConfig` the handlers use, then compiled into every bundle. A bad file fails `cdk synth`
 * with the key named, so a broken policy never reaches a deploy.
 */

/** The identifier esbuild replaces in each bundle with the validated configuration (a JSON string literal). */
export const CONFIG_DEFINE_KEY = 'process.env.COUNTERSIGN_CONFIG_INLINE';

/**
 * Linux refuses a single command-line argument longer than 128 KiB (MAX_ARG_STRLEN), and esbuild
 * receives the definition as one `--define:` argument. Refusing here gives a clear message instead
 * of an `E2BIG` from deep inside bundling.
 */
export const MAX_INLINE_CONFIG_BYTES = 120 * 1024;

/** Reads, parses and validates a YAML configuration file; every error names the file, and the key when it is one. */
export function loadSynthConfig(file: string): CountersignConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new Error(`Countersign configuration ${file} cannot be read: ${(cause as Error).message}`, {
      cause,
    });
  }
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: true });
  } catch (cause) {
    throw new Error(`Countersign configuration ${file} is not valid YAML: ${(cause as Error).message}`, {
      cause,
    });
  }
  let config: CountersignConfig;
  try {
    config = parseConfig(raw);
  } catch (cause) {
    if (cause instanceof ConfigError)
      throw new Error(`Countersign configuration ${file}: ${cause.message}`, { cause });
    throw cause;
  }
  return config;
}

/**
 * The configuration as compiled into the Lambda bundles. The `local` section configures only the
 * one-machine stack (it may hold a local Slack signing secret), so it is left out of AWS artifacts.
 */
export function configForBundles(config: CountersignConfig): CountersignConfig {
  const { local: _local, ...rest } = config;
  return rest;
}

/** The esbuild `define` map that inlines the configuration; refuses a definition too large to pass to esbuild. */
export function configDefine(config: CountersignConfig): Record<string, string> {
  const literal = JSON.stringify(JSON.stringify(configForBundles(config)));
  if (Buffer.byteLength(literal) > MAX_INLINE_CONFIG_BYTES) {
    throw new Error(
      `Countersign configuration is ${Buffer.byteLength(literal)} bytes once inlined; at most ${MAX_INLINE_CONFIG_BYTES} fit in one esbuild --define argument`,
    );
  }
  return { [CONFIG_DEFINE_KEY]: literal };
}
