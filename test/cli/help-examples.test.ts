import { describe, expect, it } from 'vitest';
import { iamCatalog } from '../../lambdas/core/iam-catalog.js';
import { COMMAND_HELP, MAIN_HELP } from '../../lib/cli/help.js';

/** Every `--resource ARN … --action A` example in the help is a request Countersign would accept. */
describe('help examples', () => {
  const catalog = iamCatalog();
  const texts = [MAIN_HELP, ...Object.values(COMMAND_HELP)];
  const examples = texts.flatMap((text) =>
    text
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((line) => /countersign (request|exec) --resource arn:/.test(line))
      .map((line) => ({
        line: line.trim(),
        resource: /--resource\s+(arn:\S+)/.exec(line)?.[1] ?? '',
        actions: [...line.matchAll(/--action\s+(\S+)/g)].map((m) => m[1]!),
      })),
  );

  it('finds the examples', () => {
    expect(examples.length).toBeGreaterThan(1);
    expect(examples.some((e) => e.resource.startsWith('arn:aws:s3:::'))).toBe(true);
  });

  it('names actions that apply to the example resource', () => {
    for (const example of examples) {
      const types = catalog.resourceTypesForArn(example.resource);
      for (const name of example.actions) {
        const action = catalog.lookupAction(name);
        expect(action, example.line).toBeDefined();
        expect(catalog.applicability(action!, types).applies, `${name} on ${example.resource}`).toBe(true);
      }
    }
  });
});
