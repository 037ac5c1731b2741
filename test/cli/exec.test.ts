import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { approved, CREDENTIALS, type FakeApi, requestObject, runCli, startFakeApi } from './fake-api.js';

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const REQUEST = [
  'exec',
  '--resource',
  'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
  '--action',
  'dynamodb:PutItem',
  '--reason',
  'Backfill order 8812 (INC-2291)',
];

/** POST /v1/requests answers `status`, GETs answer APPROVED, credentials are minted. */
async function serve(created: ReturnType<typeof requestObject>): Promise<FakeApi> {
  api = await startFakeApi((call) => {
    if (call.method === 'POST' && call.path === '/v1/requests') return { status: 201, body: created };
    if (call.method === 'GET') return { status: 200, body: approved() };
    if (call.method === 'POST' && call.path === '/v1/requests/req_01JTEST/credentials') {
      return { status: 200, body: CREDENTIALS };
    }
    return { status: 404, body: { error: { code: 'NotFound', message: 'no route' } } };
  });
  return api;
}

const ENV_PROBE = `
const e = process.env;
console.log(JSON.stringify({
  key: e.AWS_ACCESS_KEY_ID, secretMatches: e.AWS_SECRET_ACCESS_KEY === ${JSON.stringify(CREDENTIALS.SecretAccessKey)},
  hasSessionToken: !!e.AWS_SESSION_TOKEN, tokenMatches: e.AWS_SESSION_TOKEN === ${JSON.stringify(CREDENTIALS.SessionToken)},
  expiration: e.AWS_CREDENTIAL_EXPIRATION, region: e.AWS_REGION, profile: e.AWS_PROFILE ?? null,
  countersignToken: e.COUNTERSIGN_TOKEN ?? null, kept: e.KEEP_ME ?? null,
}));`;

describe('countersign exec', () => {
  it('waits for approval, claims a session and runs the command with it in the environment', async () => {
    // Prepare
    const server = await serve(requestObject());

    // Act
    const result = await runCli([...REQUEST, '--', process.execPath, '-e', ENV_PROBE], {
      env: {
        COUNTERSIGN_ENDPOINT: server.url,
        COUNTERSIGN_TOKEN: 'agent-token',
        AWS_PROFILE: 'admin',
        KEEP_ME: 'yes',
      },
    });

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      key: CREDENTIALS.AccessKeyId,
      secretMatches: true,
      hasSessionToken: true,
      tokenMatches: true,
      expiration: CREDENTIALS.Expiration,
      region: 'us-east-1',
      profile: null,
      countersignToken: null,
      kept: 'yes',
    });
    expect(server.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/requests',
      'GET /v1/requests/req_01JTEST',
      'POST /v1/requests/req_01JTEST/credentials',
    ]);
    expect(result.stderr).toContain('waiting for approval of req_01JTEST');
    expect(result.stderr).not.toContain(CREDENTIALS.SecretAccessKey);
    expect(result.stderr).not.toContain(CREDENTIALS.SessionToken);
  });

  it("exits with the command's own exit code", async () => {
    // Prepare
    const server = await serve(approved());

    // Act
    const result = await runCli([...REQUEST, '--', process.execPath, '-e', 'process.exit(7)'], {
      env: { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    expect(result.code).toBe(7);
    expect(server.calls.filter((c) => c.method === 'GET')).toHaveLength(0);
  });

  it('does not run the command when the request is denied, and exits 10', async () => {
    // Prepare
    const policy = { rule: 'deny-destructive', effect: 'deny' as const, accessLevels: ['Write'] };
    const server = await serve(requestObject({ status: 'DENIED', policy }));

    // Act
    const result = await runCli([...REQUEST, '--', process.execPath, '-e', 'console.log("ran")'], {
      env: { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    expect(result.code).toBe(10);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('req_01JTEST DENIED — policy rule "deny-destructive" denies it');
    expect(server.calls.some((c) => c.path.endsWith('/credentials'))).toBe(false);
  });

  it('exits 127 when the command does not exist', async () => {
    // Prepare
    const server = await serve(approved());

    // Act
    const result = await runCli([...REQUEST, '--', 'countersign-no-such-command-xyz'], {
      env: { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('cannot run countersign-no-such-command-xyz: command not found');
  });

  it('refuses to start without a command after --', async () => {
    // Act
    const result = await runCli(REQUEST, { env: { COUNTERSIGN_TOKEN: 't' } });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('give the command to run after --');
  });

  it('gives the command nothing that lets it act as the agent or as the parent (issue 12 item 11)', async () => {
    // Prepare: the agent's token comes from a file (as in CI or Kubernetes), and the parent holds
    // AWS identities of its own in every form the SDKs read.
    const server = await serve(requestObject());
    const dir = mkdtempSync(join(tmpdir(), 'countersign-exec-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'agent-token-from-file\n');
    const parent = {
      COUNTERSIGN_ENDPOINT: server.url,
      COUNTERSIGN_TOKEN_FILE: tokenFile,
      COUNTERSIGN_REFRESH_TOKEN: 'a-future-credential',
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
      AWS_CONFIG_FILE: join(dir, 'config'),
      AWS_DEFAULT_PROFILE: 'admin',
      AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/agent-own-role',
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/agent',
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-token',
      AWS_BEARER_TOKEN_BEDROCK: 'bedrock-api-key',
      AWS_SECRET_KEY: 'legacy-secret-name',
      KEEP_ME: 'yes',
    };
    const probe = `
      const names = Object.keys(process.env).filter((n) => /^(AWS|COUNTERSIGN)_/i.test(n)).sort();
      console.log(JSON.stringify({ names, metadata: process.env.AWS_EC2_METADATA_DISABLED, kept: process.env.KEEP_ME }));`;

    try {
      // Act
      const result = await runCli([...REQUEST, '--', process.execPath, '-e', probe], { env: parent });

      // Assess: the request was made with the file's token, and the child sees only the session.
      expect(result.code).toBe(0);
      expect(server.calls[0]?.headers.authorization).toBe('Bearer agent-token-from-file');
      expect(JSON.parse(result.stdout)).toEqual({
        names: [
          'AWS_ACCESS_KEY_ID',
          'AWS_CREDENTIAL_EXPIRATION',
          'AWS_DEFAULT_REGION',
          'AWS_EC2_METADATA_DISABLED',
          'AWS_REGION',
          'AWS_SECRET_ACCESS_KEY',
          'AWS_SESSION_TOKEN',
          'COUNTERSIGN_ENDPOINT',
        ],
        metadata: 'true',
        kept: 'yes',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
