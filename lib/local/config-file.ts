import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type CountersignConfig, parseConfig } from '../../lambdas/core/config.js';
import { ConfigError } from '../../lambdas/core/errors.js';
import { configWarnings } from '../../lambdas/core/targets.js';

/** The documented example, found wherever the command runs from. */
export const DEFAULT_CONFIG_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'config',
  'countersign.example.yaml',
);

/**
 * Reads and validates a YAML configuration file; every error names the file and the key. Warnings
 * (a configuration that is valid but cannot work as written) go to `warn`, by default stderr.
 */
export function loadConfigFile(
  path: string,
  options: { warn?: (message: string) => void } = {},
): CountersignConfig {
  const warn =
    options.warn ?? ((message: string) => process.stderr.write(`countersign: warning: ${message}\n`));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      path,
      `cannot read the configuration file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let raw: unknown;
  try {
    raw = parse(text, { uniqueKeys: true, maxAliasCount: 50 });
  } catch (error) {
    throw new ConfigError(path, `not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  try {
    const config = parseConfig(raw);
    for (const warning of configWarnings(config)) warn(`${path}: ${warning}`);
    return config;
  } catch (error) {
    if (error instanceof ConfigError)
      throw new ConfigError(`${path}: ${error.key}`, error.message.slice(error.key.length + 2));
    throw error;
  }
}
