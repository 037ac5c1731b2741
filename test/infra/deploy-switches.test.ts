import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import {
  CloudTrailForwardingStack,
  chunkRoleArns,
  MAX_EVENT_PATTERN_CHARS,
} from '../../lib/aws/cloudtrail-linkage.js';
import { loadSynthConfig } from '../../lib/aws/synth-config.js';
import { PROJECT_ROOT } from '../../lib/project-root.js';
import { FIXTURE_CONFIG_FILE, newApp, synthCountersign } from './synth.js';
import { type CfnTemplate, type RuleProps, resourcesOf } from './template-helpers.js';

const fixture = (): CountersignConfig => loadSynthConfig(FIXTURE_CONFIG_FILE);

describe('API Gateway account CloudWatch role', { timeout: 180_000 }, () => {
  it('is set by the stack by default, so the stage’s access logging deploys in a fresh region', () => {
    // Act: synthCountersign runs cdk-nag; an unacknowledged finding throws.
    const { template } = synthCountersign();
    // Assess: the stage depends on the account setting, which names a role API Gateway assumes.
    const json = template.toJSON() as CfnTemplate & { Resources: Record<string, { DependsOn?: string[] }> };
    const accounts = Object.entries(json.Resources).filter(([, r]) => r.Type === 'AWS::ApiGateway::Account');
    expect(accounts).toHaveLength(1);
    const [accountId, account] = accounts[0]!;
    expect(JSON.stringify(account.Properties?.CloudWatchRoleArn)).toContain('CloudWatchRole');
    const stages = Object.values(json.Resources).filter((r) => r.Type === 'AWS::ApiGateway::Stage');
    expect(stages).toHaveLength(1);
    expect(stages[0]!.DependsOn ?? []).toContain(accountId);
  });

  it('is left alone with apiGatewayCloudWatchRole: false, for accounts that manage it elsewhere', () => {
    const { template } = synthCountersign({ props: { apiGatewayCloudWatchRole: false } });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('OIDC issuer at synth', { timeout: 180_000 }, () => {
  it('refuses an AWS deployment whose configuration names no issuer, saying what to do', () => {
    const config = fixture();
    const { issuer: _issuer, ...identity } = config.identity;
    expect(() => synthCountersign({ config: { ...config, identity } as CountersignConfig })).toThrow(
      /identity\.issuer is not set.*-c local=true/s,
    );
  });

  it('synthesizes the local assembly without one, with an empty OidcIssuer default', () => {
    const config = fixture();
    const { issuer: _issuer, ...identity } = config.identity;
    const { template } = synthCountersign({
      config: { ...config, identity } as CountersignConfig,
      props: { local: true },
    });
    const parameters = template.toJSON().Parameters as Record<string, { Default: string }>;
    expect(parameters.OidcIssuer?.Default).toBe('');
  });
});

describe('CloudTrail rules as targets are added', { timeout: 180_000 }, () => {
  const roleArns = Array.from(
    { length: 200 },
    (_, i) => `arn:aws:iam::${String(100000000000 + i)}:role/teams/platform/countersign-target-${i}`,
  );

  it('packs role ARNs into groups that each fit EventBridge’s pattern limit', () => {
    const chunks = chunkRoleArns(roleArns);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flat()).toEqual(roleArns);
    expect(chunkRoleArns([])).toEqual([[]]);
  });

  it('with 200 targets, splits into several rules whose patterns stay under 4,096 characters', () => {
    // Prepare: 200 targets in 200 accounts.
    const config = fixture();
    const targets = roleArns.map((roleArn) => ({ account: roleArn.split(':')[4]!, roleArn }));
    // Act
    const { template } = synthCountersign({ config: { ...config, targets } as CountersignConfig });
    // Assess: every rule fits, every ARN is matched by one session rule and one AssumeRole rule, and
    // every rule receives read-only management events.
    const rules = resourcesOf<RuleProps>(template.toJSON() as CfnTemplate, 'AWS::Events::Rule').map(
      (r) => r.props,
    );
    expect(rules.length).toBeGreaterThan(2);
    const sessionArns: string[] = [];
    const assumeArns: string[] = [];
    for (const rule of rules) {
      expect(JSON.stringify(rule.EventPattern).length).toBeLessThanOrEqual(MAX_EVENT_PATTERN_CHARS);
      expect(rule.State).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
      const pattern = rule.EventPattern as {
        detail: {
          userIdentity?: { sessionContext: { sessionIssuer: { arn: string[] } } };
          requestParameters?: { roleArn: string[] };
        };
      };
      sessionArns.push(...(pattern.detail.userIdentity?.sessionContext.sessionIssuer.arn ?? []));
      assumeArns.push(...(pattern.detail.requestParameters?.roleArn ?? []));
    }
    expect(sessionArns.sort()).toEqual([...roleArns].sort());
    expect(assumeArns.sort()).toEqual([...roleArns].sort());
  });
});

describe('CountersignForwarding, for another region', { timeout: 180_000 }, () => {
  it('holds only the forwarding rule: no fixed-name resource, so it deploys in any number of regions', () => {
    // Prepare
    const app = newApp();
    const bus = 'arn:aws:events:eu-west-1:999988887777:event-bus/default';
    const roles = ['arn:aws:iam::444455556666:role/countersign-target'];
    const stack = new CloudTrailForwardingStack(app, 'Forwarding', { roleArns: roles, eventBusArn: bus });
    // Act: cdk-nag runs at synth.
    app.synth();
    const json = Template.fromStack(stack).toJSON() as CfnTemplate;
    // Assess
    const rules = resourcesOf<RuleProps>(json, 'AWS::Events::Rule').map((r) => r.props);
    expect(rules).toHaveLength(1);
    expect(rules[0]!.State).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
    expect(rules[0]!.Targets).toEqual([expect.objectContaining({ Arn: bus })]);
    expect(JSON.stringify(rules[0]!.EventPattern)).toContain(roles[0]);
    for (const [id, resource] of Object.entries(json.Resources)) {
      const named = Object.keys(resource.Properties ?? {}).filter((k) =>
        /^(RoleName|Name|PolicyName)$/.test(k),
      );
      if (resource.Type === 'AWS::IAM::Policy') continue; // generated policy names are per stack
      expect(named, `${id} (${resource.Type})`).toEqual([]);
    }
  });
});

describe('bin/app.ts with the example configuration', { timeout: 180_000 }, () => {
  it('fails synth clearly for AWS (no identity.issuer) instead of deploying functions that refuse every token', async () => {
    // Act: the app as `cdk synth` runs it, with the example configuration and no `local` context.
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(PROJECT_ROOT, 'bin', 'app.ts')],
        {
          cwd: PROJECT_ROOT,
          env: {
            ...process.env,
            CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'countersign-app-')),
            CDK_CONTEXT_JSON: JSON.stringify({ configFile: 'config/countersign.example.yaml' }),
          },
          timeout: 120_000,
        },
        (error, _stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('identity.issuer is not set');
    expect(result.stderr).toContain('-c local=true');
    expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});
