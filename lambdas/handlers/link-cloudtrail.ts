import { buildEvents, buildStore } from '../adapters/compose.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import type { Settings } from '../adapters/settings.js';
import { ConfigError, ValidationError } from '../core/errors.js';
import { CloudTrailLinker, type LinkReport } from '../core/linker.js';

interface LinkCloudTrailDeps {
  linker: CloudTrailLinker;
  logger: Logger;
}

/**
 * The linker Lambda: an EventBridge "AWS API Call via CloudTrail" event, a raw CloudTrail record or
 * `{ "Records": [...] }`. Input it cannot read is logged and answered, not thrown: a retry would
 * not make it readable. A store failure is thrown so EventBridge/Lambda retry the delivery (events
 * already stored are then found as duplicates).
 */
const createLinkCloudTrailHandler =
  (deps: LinkCloudTrailDeps) =>
  async (event: unknown): Promise<LinkReport> => {
    let report: LinkReport;
    try {
      report = await deps.linker.link(event);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      deps.logger.warn('cloudtrail input not understood', { field: error.field, reason: error.message });
      report = { received: 1, stored: 0, duplicates: 0, ignored: 1, ignoredBy: { malformed: 1 } };
    }
    const level = report.ignored > 0 ? 'warn' : 'info';
    // Counts only: CloudTrail fields are someone else's text and stay out of the log.
    deps.logger[level]('cloudtrail linked', { ...report });
    return report;
  };

/** The linker on the table of `settings`. */
const buildLinker = (settings: Settings) => {
  // Without it no minting record could be told from an agent's own AssumeRole: refuse to start.
  if (!settings.mintingRoleArn) throw new ConfigError('MINTING_ROLE_ARN', 'environment variable is required');
  return new CloudTrailLinker({
    events: buildEvents(settings),
    requests: buildStore(settings),
    mintingRoleArns: [settings.mintingRoleArn],
  });
};

export const handler = lazyHandler((settings) =>
  createLinkCloudTrailHandler({
    linker: buildLinker(settings),
    logger: createLogger({ fn: 'link-cloudtrail' }),
  }),
);
