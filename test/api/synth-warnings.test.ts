import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../lib/aws/synth-config.js';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { FIXTURE_CONFIG_FILE, synthCountersign } from '../infra/synth.js';

/** A rule that can only reach S3 ARNs no target covers grants nothing: said at synth and at start. */
describe('configuration warnings', () => {
  const base = loadConfigFile(FIXTURE_CONFIG_FILE);
  const config = parseConfigText(
    JSON.stringify({
      ...base,
      rules: [
        {
          name: 'finance-buckets',
          match: { accessLevels: ['Write'], resources: ['arn:aws:s3:::finance-*'] },
          effect: 'approve',
          approvers: ['alice@example.com'],
        },
        ...base.rules,
      ],
    }),
    'inline.yaml',
  );

  it('annotates the stack at synth', () => {
    const { stack } = synthCountersign({ config });
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp(
        'rules\\[finance-buckets\\]\\.match\\.resources: .*no targets\\[\\]\\.resources covers it',
      ),
    );
    expect(warnings).toHaveLength(1);
    const quiet = Annotations.fromStack(synthCountersign({ config: base }).stack).findWarning(
      '*',
      Match.stringLikeRegexp('match\\.resources'),
    );
    expect(quiet).toEqual([]);
  }, 180_000);
});
