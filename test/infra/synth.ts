import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { CountersignStack, type CountersignStackProps } from '../../lib/aws/countersign-stack.js';
import { loadSynthConfig } from '../../lib/aws/synth-config.js';
import { PROJECT_ROOT } from '../../lib/project-root.js';

export const FIXTURES = join(PROJECT_ROOT, 'test', 'infra', 'fixtures');
export const FIXTURE_CONFIG_FILE = join(FIXTURES, 'countersign.yaml');
export const DEFINITION_FILE = join(PROJECT_ROOT, 'state-machines', 'approval.asl.json');

/** The context cdk.json gives the real app (feature flags), so tests synthesize what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context;
}

/**
 * An App like bin/app.ts builds, with cdk-nag, writing into a fresh temporary directory. Bundling
 * is skipped (`aws:cdk:bundling-stacks: []`): the template is the same, only the asset is the
 * source directory instead of the bundle, and ten esbuild runs are saved per synth.
 */
export function newApp(options: { bundle?: boolean } = {}): App {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'countersign-cdk-')),
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

export function synthCountersign(
  options: {
    config?: CountersignConfig;
    env?: { account: string; region: string };
    props?: Partial<Omit<CountersignStackProps, 'config'>>;
  } = {},
): {
  app: App;
  stack: CountersignStack;
  template: Template;
} {
  const app = newApp();
  const stack = new CountersignStack(app, 'Countersign', {
    config: options.config ?? loadSynthConfig(FIXTURE_CONFIG_FILE),
    definitionFile: DEFINITION_FILE,
    ...options.props,
    ...(options.env ? { env: options.env } : {}),
  });
  // Synthesizing the app runs cdk-nag: any unacknowledged finding throws here.
  app.synth();
  return { app, stack, template: Template.fromStack(stack) };
}
