import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { type CountersignConfig, parseConfig } from '../../lambdas/core/config.js';
import { ConfigError, ConfigInvalidError } from '../../lambdas/core/errors.js';

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

/**
 * Parses and validates the text of a configuration file, for both assemblies. Every problem is
 * reported at once (ConfigInvalidError, each line naming its key, rules by name); YAML syntax
 * errors keep the parser's whole message: line, column and the offending line with a caret.
 */
export function parseConfigText(text: string, source: string): CountersignConfig {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigInvalidError(
      document.errors.map((error) => ({ key: '', message: `not valid YAML: ${error.message.trimEnd()}` })),
      source,
    );
  }
  let raw: unknown;
  try {
    // Bounded alias expansion: a few lines of anchors must not become gigabytes ("billion laughs").
    raw = document.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new ConfigInvalidError(
      [{ key: '', message: `not valid YAML: ${(error as Error).message}` }],
      source,
    );
  }
  try {
    return parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigInvalidError) throw error.in(source);
    throw error;
  }
}

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
  try {
    return parseConfigText(text, file);
  } catch (cause) {
    if (cause instanceof ConfigError)
      throw new Error(`Countersign configuration ${cause.message}`, { cause });
    throw cause;
  }
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
