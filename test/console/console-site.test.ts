import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { loadSynthConfig } from '../../lib/aws/synth-config.js';
import { FIXTURE_CONFIG_FILE, synthCountersign } from '../infra/synth.js';

const CONFIG = {
  ...loadSynthConfig(FIXTURE_CONFIG_FILE),
  console: {
    clientId: 'console-client',
    scope: 'openid',
    tokenEndpoint: 'https://auth.example.net/oauth2/token',
  },
};
CONFIG.identity = { ...CONFIG.identity, issuer: 'https://idp.example.com/oauth2/default' };

function synth(env?: { account: string; region: string }) {
  const { app, stack } = synthCountersign({ config: CONFIG, ...(env ? { env } : {}) });
  return { app, stack };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function acknowledgedIn(scope: IConstruct) {
  const out: Array<{ id: string; reason: string; path: string }> = [];
  const walk = (node: IConstruct) => {
    for (const entry of node.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          out.push({ id: id.replace(/^annotation::/i, ''), reason, path: node.node.path });
        }
      }
    }
    for (const child of node.node.children) walk(child);
  };
  walk(scope);
  return out;
}

describe('ConsoleSite', () => {
  const { app, stack } = synth();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Resources;
  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type);

  it('passes cdk-nag (AwsSolutions), acknowledging only real findings, each with a reason', () => {
    // Prepare: synthesizing ran the pack with acknowledgements; an unacknowledged finding threw.
    expect(() => app.synth()).not.toThrow();
    const blind = new AwsSolutionsChecks();
    (blind as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const raw = new Set(blind.validateScope(stack).violations.map((v) => v.ruleName));
    // Act
    const acks = acknowledgedIn(stack.node.findChild('Console')).concat(
      acknowledgedIn(stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'))!),
    );
    // Assess
    expect(acks.length).toBeGreaterThan(5);
    for (const ack of acks) {
      expect(raw, `${ack.path}: ${ack.id} acknowledges nothing`).toContain(ack.id);
      expect(ack.reason.length, ack.id).toBeGreaterThan(40);
    }
  });

  it('passes cdk-nag when the app pins an account and region', () => {
    expect(() => synth({ account: '999988887777', region: 'eu-west-1' })).not.toThrow();
  });

  it('is only deployed when the configuration has a console section', () => {
    const without = synthCountersign().template.toJSON().Resources as Resources;
    expect(Object.values(without).filter((r) => r.Type === 'AWS::CloudFront::Distribution')).toHaveLength(0);
  });

  it('keeps the bucket private: only this distribution, through origin access control, reads it', () => {
    const [bucketPolicy] = ofType('AWS::S3::BucketPolicy').filter((p) =>
      JSON.stringify(p.Properties).includes('cloudfront.amazonaws.com'),
    );
    const text = JSON.stringify(bucketPolicy!.Properties);
    expect(text).toContain('"AWS:SourceArn"');
    expect(ofType('AWS::CloudFront::OriginAccessControl')).toHaveLength(1);
    for (const bucket of ofType('AWS::S3::Bucket')) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
  });

  it('sends the strict CSP with the issuer and token endpoint origins, HSTS and frame denial', () => {
    const [policy] = ofType('AWS::CloudFront::ResponseHeadersPolicy');
    const security = (
      policy!.Properties.ResponseHeadersPolicyConfig as Record<
        string,
        Record<string, Record<string, unknown>>
      >
    ).SecurityHeadersConfig!;
    const csp = String(security.ContentSecurityPolicy!.ContentSecurityPolicy);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' https://idp.example.com https://auth.example.net");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(security.FrameOptions).toMatchObject({ FrameOption: 'DENY' });
    expect(security.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 31_536_000 });
  });

  it('routes /v1/* to the API uncached, HTTPS only, so the console calls its own origin', () => {
    const [distribution] = ofType('AWS::CloudFront::Distribution');
    const config = distribution!.Properties.DistributionConfig as Record<string, unknown>;
    const behaviors = config.CacheBehaviors as Array<Record<string, unknown>>;
    expect(behaviors).toHaveLength(1);
    expect(behaviors[0]).toMatchObject({
      PathPattern: '/v1/*',
      ViewerProtocolPolicy: 'https-only',
      CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', // Managed-CachingDisabled
    });
    expect(config.DefaultCacheBehavior).toMatchObject({ ViewerProtocolPolicy: 'redirect-to-https' });
  });

  it('writes config.json at deploy with the issuer, client id, endpoints and roles, and no secret', () => {
    // Prepare: the deployment's second source is the generated config.json, staged in the assembly.
    const [deployment] = ofType('Custom::CDKBucketDeployment');
    expect(deployment!.Properties.DestinationBucketKeyPrefix).toBe('console/');
    const keys = deployment!.Properties.SourceObjectKeys as string[];
    const staged = keys
      .map((key) => join(app.outdir, `asset.${key.replace(/\.zip$/, '')}`, 'config.json'))
      .filter((path) => existsSync(path));
    // Act
    const written = JSON.parse(readFileSync(staged[0]!, 'utf8'));
    // Assess
    expect(written).toEqual({
      apiUrl: '',
      issuer: 'https://idp.example.com/oauth2/default',
      clientId: 'console-client',
      scope: 'openid',
      tokenEndpoint: 'https://auth.example.net/oauth2/token',
      groupsClaim: 'groups',
      roles: CONFIG.roles,
    });
    const outputs = Object.keys(template.toJSON().Outputs as Record<string, unknown>);
    expect(outputs.some((o) => o.startsWith('ConsoleConsoleRedirectUri'))).toBe(true);
  });
});
