import type { STSClient } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settingsFromEnvironment } from '../../lambdas/adapters/settings.js';
import { SLACK_SECRET_TTL_MS, slackSecretsLoader } from '../../lambdas/adapters/slack-secrets.js';
import { StsCredentialMinter, sessionTagValue } from '../../lambdas/adapters/sts-minter.js';
import { ConfigError } from '../../lambdas/core/errors.js';
import { updateMessageOnRevoke } from '../../lambdas/handlers/revoke-request.js';
import { configForBundles, loadSynthConfig } from '../../lib/aws/synth-config.js';
import { FIXTURE_CONFIG_FILE } from './synth.js';

/** How the adapters read what the CDK stack gives each function (see countersign-stack.test.ts). */
const config = configForBundles(loadSynthConfig(FIXTURE_CONFIG_FILE));
const base = { AWS_REGION: 'eu-west-1', TABLE_NAME: 'table' };

beforeEach(() => {
  process.env.COUNTERSIGN_CONFIG_INLINE = JSON.stringify(config);
});
afterEach(() => {
  delete process.env.COUNTERSIGN_CONFIG_INLINE;
});

describe('settingsFromEnvironment', () => {
  it('takes the issuer from OIDC_ISSUER (the OidcIssuer parameter), with the configured JWKS for the configured issuer', () => {
    const settings = settingsFromEnvironment({ ...base, OIDC_ISSUER: config.identity.issuer });
    expect(settings.jwt.issuer).toBe(config.identity.issuer);
    expect(settings.jwt.jwksUri).toBe(config.identity.jwksUri);
  });

  it('derives the JWKS of another issuer from that issuer, never from identity.jwksUri', () => {
    const settings = settingsFromEnvironment({ ...base, OIDC_ISSUER: 'http://127.0.0.1:4000/' });
    expect(settings.jwt.issuer).toBe('http://127.0.0.1:4000/');
    expect(settings.jwt.jwksUri).toBe('http://127.0.0.1:4000/.well-known/jwks.json');
  });

  it('starts without an issuer, and refuses with a ConfigError naming OIDC_ISSUER when tokens must be verified', () => {
    // A workflow function has no OIDC_ISSUER: its settings build, and only JWT use fails closed.
    const settings = settingsFromEnvironment({ ...base });
    expect(() => settings.jwt).toThrow(ConfigError);
    expect(() => settings.jwt).toThrow(/OIDC_ISSUER/);
    // The configured issuer is not a fallback: what the template gives is what runs.
    expect(() => settingsFromEnvironment({ ...base, OIDC_ISSUER: '  ' }).jwt).toThrow(/OIDC_ISSUER/);
  });

  it('takes Slack’s base URL from SLACK_API_URL and needs no endpoints or credentials of its own', () => {
    const settings = settingsFromEnvironment({
      ...base,
      SLACK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack',
      SLACK_API_URL: 'http://127.0.0.1:5000/api',
    });
    expect(settings.slack).toEqual({
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack',
      apiUrl: 'http://127.0.0.1:5000/api',
    });
    // The SDK takes AWS_ENDPOINT_URL and the AWS_* credentials itself (the local assembly sets them).
    expect(settings.endpoints).toEqual({});
    expect(settings.credentials).toBeUndefined();
  });
});

describe('slackSecretsLoader', () => {
  const settings = (botToken: string) =>
    ({ slack: { botToken, signingSecret: 'signing' }, region: 'eu-west-1' }) as never;

  it('reuses a read secret for its TTL, then reads again', async () => {
    let now = 0;
    const s = settings('xoxb-1') as { slack: { botToken: string } };
    const load = slackSecretsLoader(s as never, () => now);
    expect((await load()).botToken).toBe('xoxb-1');
    s.slack.botToken = 'xoxb-2';
    expect((await load()).botToken).toBe('xoxb-1');
    now = SLACK_SECRET_TTL_MS + 1;
    expect((await load()).botToken).toBe('xoxb-2');
  });

  it('does not remember a failed read', async () => {
    // No secret given and no SLACK_SECRET_ARN: each use fails on its own, nothing is cached.
    const s = { slack: {}, region: 'eu-west-1' } as { slack: Record<string, string>; region: string };
    const load = slackSecretsLoader(s as never, () => 0);
    await expect(load()).rejects.toThrow(/SLACK_SECRET_ARN/);
    s.slack = { botToken: 'xoxb-1', signingSecret: 'signing' };
    expect((await load()).botToken).toBe('xoxb-1');
  });
});

describe('session tags', () => {
  // STS: letters, spaces, digits and _ . : / = + - @, at most 256 characters.
  const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

  it('passes a value STS accepts through unchanged', () => {
    expect(sessionTagValue('repo:my-org/bot:ref:refs/heads/main')).toBe(
      'repo:my-org/bot:ref:refs/heads/main',
    );
  });

  it.each(['agent,with,commas', 'quote"and<angle>', 'x'.repeat(300), 'emoji😀', 'a=h:AAAAAAAAAAAAAAAA'])(
    'encodes %s into something STS accepts, deterministically',
    (value) => {
      const tag = sessionTagValue(value);
      expect(tag).toMatch(TAG_VALUE);
      expect(sessionTagValue(value)).toBe(tag);
      expect(tag).toContain('=h:');
    },
  );

  it('keeps values that differ only in refused characters apart', () => {
    expect(sessionTagValue('a,b')).not.toBe(sessionTagValue('a;b'));
  });

  it('is what the minter sends: a sub with a comma mints instead of failing with a 500', async () => {
    // Prepare: an STS client that refuses tags as STS does and records the call.
    let sent: { Tags?: Array<{ Key: string; Value: string }> } | undefined;
    const client = {
      send: async (command: { input: typeof sent }) => {
        sent = command.input;
        if (sent?.Tags?.some((t) => !TAG_VALUE.test(t.Value))) {
          throw Object.assign(new Error('Tag value invalid'), { name: 'ValidationError' });
        }
        return {
          Credentials: {
            AccessKeyId: 'ASIA-TEST',
            SecretAccessKey: 's',
            SessionToken: 't',
            Expiration: new Date(Date.now() + 900_000),
          },
          AssumedRoleUser: { AssumedRoleId: 'AROA:req', Arn: 'arn:aws:sts::1:assumed-role/r/req' },
        };
      },
    } as unknown as STSClient;
    // Act
    const session = await new StsCredentialMinter(client).assumeRole({
      roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
      sessionName: 'req_AAAAAAAAAAAAAAAAAAAA',
      sourceIdentity: 'agent,1',
      policy: '{}',
      durationSeconds: 900,
      tags: [{ Key: 'countersign:agent', Value: 'agent,1' }],
    });
    // Assess
    expect(session.credentials.AccessKeyId).toBe('ASIA-TEST');
    expect(sent?.Tags?.[0]?.Value).toMatch(TAG_VALUE);
  });
});

describe('revoke’s Slack rewrite', () => {
  it('is best effort: a failing Slack is logged, never thrown', async () => {
    const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
    const logger = {
      info: () => undefined,
      warn: (message: string, fields?: Record<string, unknown>) => warnings.push([message, fields]),
      error: () => undefined,
    } as never;
    const notifier = {
      update: async () => {
        throw new Error('Slack is not set up');
      },
    } as never;
    const request = { id: 'req_AAAAAAAAAAAAAAAAAAAA', slack: { channel: 'C1', ts: '1.2' } } as never;
    await expect(updateMessageOnRevoke(notifier, logger)(request)).resolves.toBeUndefined();
    expect(warnings.map(([m]) => m)).toEqual(['slack message not updated after revoke']);
  });
});
