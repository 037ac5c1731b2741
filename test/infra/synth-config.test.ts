import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkApprovalDefinition } from '../../lib/aws/approval-state-machine.js';
import {
  CONFIG_DEFINE_KEY,
  configDefine,
  loadSynthConfig,
  MAX_INLINE_CONFIG_BYTES,
} from '../../lib/aws/synth-config.js';
import { DEFINITION_FILE, FIXTURE_CONFIG_FILE } from './synth.js';

const dir = mkdtempSync(join(tmpdir(), 'countersign-config-'));
const writeConfig = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const fixtureText = readFileSync(FIXTURE_CONFIG_FILE, 'utf8');

describe('loadSynthConfig', () => {
  it('returns the validated configuration, defaults applied', () => {
    const config = loadSynthConfig(FIXTURE_CONFIG_FILE);
    expect(config.targets.map((t) => t.account)).toEqual(['111122223333', '444455556666']);
    expect(config.limits).toEqual({
      requestsPerMinutePerAgent: 60,
      maxWaitSeconds: 20,
      revokesPerMinutePerAgent: 10,
      claimsPerMinutePerAgent: 20,
      liveSessionsPerGrant: 5,
      concurrentWaitsPerCaller: 5,
    });
  });

  it('fails naming the file and the bad key', () => {
    // Prepare: an account id YAML reads as a number unless quoted, the classic mistake.
    const file = writeConfig('unquoted.yaml', fixtureText.replace('"444455556666"', '444455556666'));
    // Act / Assess
    expect(() => loadSynthConfig(file)).toThrow(`Countersign configuration ${file}: targets[1].account:`);
  });

  it('takes a revoker role only in the target’s own account, naming the key otherwise', () => {
    // Prepare
    const revoker = 'arn:aws:iam::444455556666:role/countersign-revoker';
    const foreign = writeConfig(
      'foreign-revoker.yaml',
      fixtureText.replace(revoker, 'arn:aws:iam::111122223333:role/countersign-revoker'),
    );
    const malformed = writeConfig('bad-revoker.yaml', fixtureText.replace(revoker, 'countersign-revoker'));
    // Act / Assess
    expect(loadSynthConfig(FIXTURE_CONFIG_FILE).targets.map((t) => t.revokerRoleArn)).toEqual([
      undefined,
      revoker,
    ]);
    expect(() => loadSynthConfig(foreign)).toThrow(
      /targets\[1\]\.revokerRoleArn: revokerRoleArn must be in the same account/,
    );
    expect(() => loadSynthConfig(malformed)).toThrow(/targets\[1\]\.revokerRoleArn: an IAM role ARN/);
  });

  it('fails on a rule that cannot work, naming its key', () => {
    const file = writeConfig(
      'quorum.yaml',
      fixtureText.replace('approvers: [alice@example.com]', 'approvers: [alice@example.com]\n    quorum: 2'),
    );
    expect(() => loadSynthConfig(file)).toThrow(/rules\[writes\]\.quorum: quorum 2 cannot be reached/);
  });

  it('fails on YAML that does not parse, and on a missing file', () => {
    const broken = writeConfig('broken.yaml', 'identity: [unclosed\n');
    expect(() => loadSynthConfig(broken)).toThrow(`Countersign configuration ${broken}: not valid YAML`);
    expect(() => loadSynthConfig(join(dir, 'absent.yaml'))).toThrow(/cannot be read/);
  });
});

describe('configDefine', () => {
  it('inlines the configuration as one JSON string literal, without the local-only section', () => {
    // Prepare
    const config = loadSynthConfig(FIXTURE_CONFIG_FILE);
    expect(config.local?.slackSigningSecret).toBeDefined();
    // Act
    const define = configDefine(config);
    // Assess: esbuild replaces the identifier with this literal; evaluating it yields the JSON text.
    expect(Object.keys(define)).toEqual([CONFIG_DEFINE_KEY]);
    const inlined = JSON.parse(JSON.parse(define[CONFIG_DEFINE_KEY]!));
    expect(inlined.local).toBeUndefined();
    expect(define[CONFIG_DEFINE_KEY]).not.toContain('local-only-secret');
    const { local: _local, ...expected } = config;
    expect(inlined).toEqual(expected);
  });

  it('refuses a configuration too large for one esbuild argument, instead of failing obscurely', () => {
    const config = loadSynthConfig(FIXTURE_CONFIG_FILE);
    const users = Object.fromEntries(
      Array.from({ length: 4_000 }, (_, i) => [
        `U${String(i).padStart(10, '0')}`,
        `someone-${i}@example.com`,
      ]),
    );
    const huge = { ...config, slack: { ...config.slack, users } };
    expect(JSON.stringify(huge).length).toBeGreaterThan(MAX_INLINE_CONFIG_BYTES);
    expect(() => configDefine(huge)).toThrow(/at most \d+ fit in one esbuild --define argument/);
  });
});

describe('checkApprovalDefinition', () => {
  /** `${Name}`, the ASL placeholder CloudFormation substitutes. */
  const ph = (name: string) => `\${${name}}`;
  const task = (resource: string, functionName?: string) => ({
    Type: 'Task',
    Resource: resource,
    ...(functionName ? { Parameters: { FunctionName: functionName } } : {}),
    End: true,
  });
  const definition = (states: Record<string, unknown>) =>
    JSON.stringify({
      StartAt: 'A',
      States: {
        Notify: task('arn:aws:states:::lambda:invoke.waitForTaskToken', ph('NotifyApproversFunctionArn')),
        Settle: task('arn:aws:states:::lambda:invoke', ph('SettleRequestFunctionArn')),
        ...states,
      },
    });

  it("accepts the repository's approval workflow", () => {
    expect(() =>
      checkApprovalDefinition(readFileSync(DEFINITION_FILE, 'utf8'), DEFINITION_FILE),
    ).not.toThrow();
  });

  it('accepts Lambda-invoke tasks on the two placeholders', () => {
    expect(() => checkApprovalDefinition(definition({}), 'ok.json')).not.toThrow();
  });

  it('refuses a placeholder the stack does not substitute', () => {
    const text = definition({ Other: task('arn:aws:states:::lambda:invoke', ph('OtherFunctionArn')) });
    expect(() => checkApprovalDefinition(text, 'x.json')).toThrow(`x.json uses ${ph('OtherFunctionArn')}`);
  });

  it('refuses a definition that never uses one of the functions', () => {
    const text = JSON.stringify({
      StartAt: 'Notify',
      States: {
        Notify: task('arn:aws:states:::lambda:invoke.waitForTaskToken', ph('NotifyApproversFunctionArn')),
      },
    });
    expect(() => checkApprovalDefinition(text, 'x.json')).toThrow(
      `never references ${ph('SettleRequestFunctionArn')}`,
    );
  });

  it('refuses a task the workflow role could not run, even nested in a Parallel state', () => {
    const text = definition({
      Fan: {
        Type: 'Parallel',
        Branches: [{ StartAt: 'Put', States: { Put: task('arn:aws:states:::dynamodb:putItem') } }],
        End: true,
      },
    });
    expect(() => checkApprovalDefinition(text, 'x.json')).toThrow(
      'x.json: state Fan.Branches[0].Put calls arn:aws:states:::dynamodb:putItem',
    );
  });

  it('refuses invoking a literal function ARN', () => {
    const text = definition({
      Direct: task('arn:aws:states:::lambda:invoke', 'arn:aws:lambda:us-east-1:111122223333:function:other'),
    });
    expect(() => checkApprovalDefinition(text, 'x.json')).toThrow(
      /state Direct calls arn:aws:states:::lambda:invoke on arn:aws:lambda/,
    );
  });

  it('refuses text that is not JSON', () => {
    expect(() => checkApprovalDefinition('{"States":', 'x.json')).toThrow('x.json is not valid JSON');
  });
});
