import { afterEach, describe, expect, it } from 'vitest';
import {
  apiError,
  CREDENTIALS,
  type FakeApi,
  runCli,
  startDroppingServer,
  startFakeApi,
} from './fake-api.js';

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const ARGS = ['credential-process', '--request', 'req_01JTEST'];

describe('countersign credential-process', () => {
  it('prints exactly the credential_process JSON on stdout and nothing else', async () => {
    // Prepare: the server adds a field; only the five credential_process fields may reach stdout.
    api = await startFakeApi(() => ({ status: 200, body: { ...CREDENTIALS, Extra: 'not for stdout' } }));

    // Act
    const result = await runCli(ARGS, {
      env: { COUNTERSIGN_ENDPOINT: api.url, COUNTERSIGN_TOKEN: 'agent-token' },
    });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${JSON.stringify(CREDENTIALS)}\n`);
    expect(result.stderr).toBe('');
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/requests/req_01JTEST/credentials',
    ]);
    expect(api.calls[0]?.headers.authorization).toBe('Bearer agent-token');
  });

  it('answers a 409 with the contract code and message on stderr, an empty stdout and exit 1', async () => {
    // Prepare
    api = await startFakeApi(() =>
      apiError(409, 'GrantExpired', 'the grant ended at 2025-01-15T10:15:00.000Z'),
    );

    // Act
    const result = await runCli(ARGS, { env: { COUNTERSIGN_ENDPOINT: api.url, COUNTERSIGN_TOKEN: 't' } });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'countersign: 409 GrantExpired — the grant ended at 2025-01-15T10:15:00.000Z\n',
    );
    expect(api.calls).toHaveLength(1);
  });

  it('refuses an answer that lacks a session token instead of printing half a credential', async () => {
    // Prepare
    const { SessionToken: _dropped, ...partial } = CREDENTIALS;
    api = await startFakeApi(() => ({ status: 200, body: partial }));

    // Act
    const result = await runCli(ARGS, { env: { COUNTERSIGN_ENDPOINT: api.url, COUNTERSIGN_TOKEN: 't' } });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('answered without valid credentials');
  });

  it('exits 4 without calling anything when no token is configured', async () => {
    // Prepare
    api = await startFakeApi(() => ({ status: 200, body: CREDENTIALS }));

    // Act
    const result = await runCli(ARGS, { env: { COUNTERSIGN_ENDPOINT: api.url } });

    // Assess
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^countersign: no token: pass --token, or set COUNTERSIGN_TOKEN or COUNTERSIGN_TOKEN_FILE/,
    );
    expect(api.calls).toHaveLength(0);
  });

  it('names the endpoint that failed, exits 3, and does not retry a credentials call (each one mints)', async () => {
    // Prepare: a server that accepts connections and drops them before answering.
    const dropper = await startDroppingServer();

    // Act
    const result = await runCli(ARGS, { env: { COUNTERSIGN_ENDPOINT: dropper.url, COUNTERSIGN_TOKEN: 't' } });

    // Assess
    await dropper.close();
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(
        `^countersign: cannot reach ${dropper.url} \\(POST /v1/requests/req_01JTEST/credentials\\): `,
      ),
    );
    expect(dropper.connections()).toBe(1);
  });

  it('refuses a request id that would change the URL path', async () => {
    // Act
    const result = await runCli(['credential-process', '--request', '../admin'], {
      env: { COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--request "../admin" is not a request id');
  });
});
