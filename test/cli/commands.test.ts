import { afterEach, describe, expect, it } from 'vitest';
import {
  apiError,
  approved,
  type FakeApi,
  requestObject,
  runCli,
  startDroppingServer,
  startFakeApi,
} from './fake-api.js';

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function env(server: FakeApi, token = 'approver-token'): Record<string, string> {
  return { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: token };
}

describe('countersign --help', () => {
  it('lists every command and every exit code, on stdout, with exit 0', async () => {
    // Act
    const result = await runCli(['--help']);

    // Assess
    expect(result.code).toBe(0);
    for (const command of [
      'request',
      'credential-process',
      'exec',
      'status',
      'revoke',
      'decide',
      'token',
      'local',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    for (const code of ['0', '1', '2', '3', '4', '10', '11', '12', '13', '14', '130']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${code} `, 'm'));
    }
  });

  it('answers `<command> --help` with its usage and an example, without needing a token or a server', async () => {
    // Prepare
    const commands = ['request', 'credential-process', 'exec', 'status', 'revoke', 'decide', 'token'];

    // Act
    const results = await Promise.all(commands.map((command) => runCli([command, '--help'])));

    // Assess
    results.forEach((result, i) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: countersign ${commands[i]}`);
      expect(result.stdout).toMatch(/^Examples?\b/m);
      expect(result.stderr).toBe('');
    });
  });

  it('says in request --help that an idempotency key is generated so retries are safe', async () => {
    // Act
    const result = await runCli(['request', '--help']);

    // Assess
    expect(result.stdout.replace(/\s+/g, ' ')).toContain(
      'a fresh key is generated for each invocation, so the CLI retries the POST safely',
    );
  });

  it('runs as an executable (shebang) and rejects an unknown command with exit 2', async () => {
    // Act
    const result = await runCli(['frobnicate'], { direct: true });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('countersign: unknown command "frobnicate" (run: countersign --help)\n');
  });

  it('rejects an unknown flag with exit 2 and points at the command help', async () => {
    // Act
    const result = await runCli(['status', '--request', 'req_1', '--verbose'], {
      env: { COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^countersign: Unknown option '--verbose'.*\(run: countersign status --help\)\n$/s,
    );
  });
});

describe('countersign local', () => {
  it('hands its arguments to the local stack, whose own --help answers', async () => {
    // Act
    const help = await runCli(['local', '--help']);
    const bad = await runCli(['local', '--no-such-flag']);

    // Assess
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: countersign local');
    expect(help.stdout).toContain('--in-memory');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^countersign: Unknown option '--no-such-flag'/);
  });
});

describe('countersign status / revoke / decide', () => {
  it('shows a request readably, and as JSON with --json', async () => {
    // Prepare
    api = await startFakeApi(() => ({ status: 200, body: approved() }));

    // Act
    const readable = await runCli(['status', '--request', 'req_01JTEST'], { env: env(api) });
    const json = await runCli(['status', '--request', 'req_01JTEST', '--json'], { env: env(api) });

    // Assess
    expect(readable.code).toBe(0);
    expect(readable.stdout).toMatch(/^req_01JTEST APPROVED\n/);
    expect(readable.stdout).toContain('grant     until 2025-01-15T10:15:00.000Z');
    expect(JSON.parse(json.stdout)).toEqual(approved());
    expect(api.calls.map((c) => `${c.method} ${c.path}${c.query.size ? `?${c.query}` : ''}`)).toEqual([
      'GET /v1/requests/req_01JTEST',
      'GET /v1/requests/req_01JTEST',
    ]);
  });

  it('retries a GET after a 502 from the gateway and succeeds', async () => {
    // Prepare
    api = await startFakeApi((_call, index) =>
      index === 0 ? { status: 502, raw: '<html>Bad Gateway</html>' } : { status: 200, body: requestObject() },
    );

    // Act
    const result = await runCli(['status', '--request', 'req_01JTEST'], { env: env(api) });

    // Assess
    expect(result.code).toBe(0);
    expect(api.calls).toHaveLength(2);
  });

  it('retries a GET on connection errors, then names the endpoint and exits 3', async () => {
    // Prepare
    const dropper = await startDroppingServer();

    // Act
    const result = await runCli(['status', '--request', 'req_01JTEST'], {
      env: { COUNTERSIGN_ENDPOINT: `${dropper.url}/prod/`, COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    await dropper.close();
    expect(result.code).toBe(3);
    expect(dropper.connections()).toBe(4);
    expect(result.stderr).toContain(`cannot reach ${dropper.url}/prod (GET /prod/v1/requests/req_01JTEST)`);
  });

  it('exits 4 on 401 with the contract code', async () => {
    // Prepare
    api = await startFakeApi(() => apiError(401, 'Unauthorized', 'the token is not valid'));

    // Act
    const result = await runCli(['status', '--request', 'req_01JTEST'], { env: env(api) });

    // Assess
    expect(result.code).toBe(4);
    expect(result.stderr).toBe('countersign: 401 Unauthorized — the token is not valid\n');
    expect(api.calls).toHaveLength(1);
  });

  it('revokes with one POST and prints the REVOKED request', async () => {
    // Prepare
    api = await startFakeApi(() => ({
      status: 200,
      body: approved({ status: 'REVOKED', outcome: { reason: 'revoked by the requester', at: 'x' } }),
    }));

    // Act
    const result = await runCli(['revoke', '--request', 'req_01JTEST'], { env: env(api, 'agent-token') });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^req_01JTEST REVOKED\n/);
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/requests/req_01JTEST/revoke']);
  });

  it('sends an approval with its comment, and never retries a decision', async () => {
    // Prepare
    api = await startFakeApi(() => apiError(503, 'DependencyUnavailable', 'the workflow is unavailable'));

    // Act
    const result = await runCli(
      ['decide', '--request', 'req_01JTEST', '--approve', '--comment', 'INC-2291 is real'],
      {
        env: env(api),
      },
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('countersign: 503 DependencyUnavailable — the workflow is unavailable\n');
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]?.path).toBe('/v1/requests/req_01JTEST/decisions');
    expect(api.calls[0]?.body).toEqual({ decision: 'approve', comment: 'INC-2291 is real' });
  });

  it('refuses --approve together with --deny', async () => {
    // Act
    const result = await runCli(['decide', '--request', 'req_01JTEST', '--approve', '--deny'], {
      env: { COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('give exactly one of --approve or --deny');
  });
});

describe('countersign token', () => {
  it('asks the local issuer without authentication and prints the token alone', async () => {
    // Prepare
    api = await startFakeApi(() => ({ status: 200, body: { token: 'eyJhbGciOi.local.token' } }));

    // Act
    const result = await runCli(['token', '--sub', 'deploy-bot', '--group', 'agents', '--group', 'ci'], {
      env: { COUNTERSIGN_ENDPOINT: api.url },
    });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('eyJhbGciOi.local.token\n');
    expect(api.calls[0]?.path).toBe('/local/token');
    expect(api.calls[0]?.body).toEqual({ sub: 'deploy-bot', groups: ['agents', 'ci'] });
    expect(api.calls[0]?.headers.authorization).toBeUndefined();
  });
});

describe('endpoint safety', () => {
  it('refuses to send a token over plain http to another host', async () => {
    // Act
    const result = await runCli(['status', '--request', 'req_1'], {
      env: { COUNTERSIGN_ENDPOINT: 'http://countersign.example.com', COUNTERSIGN_TOKEN: 't' },
    });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('COUNTERSIGN_ENDPOINT: refusing plain http to countersign.example.com');
  });
});
