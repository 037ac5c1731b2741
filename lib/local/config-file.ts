import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { ConfigError } from '../../lambdas/core/errors.js';
import { configWarnings } from '../../lambdas/core/targets.js';
import { parseConfigText } from '../aws/synth-config.js';
import { PROJECT_ROOT } from '../project-root.js';

/** The documented example, found wherever the command runs from. */
export const DEFAULT_CONFIG_PATH = join(PROJECT_ROOT, 'config', 'countersign.example.yaml');

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
  const config = parseConfigText(text, path);
  for (const warning of configWarnings(config)) warn(`${path}: ${warning}`);
  return config;
}
