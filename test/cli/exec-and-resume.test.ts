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
  'arn:aws:dynamodb:eu-west-1:111122223333:table/orders',
  '--action',
  'dynamodb:PutItem',
  '--reason',
  'Backfill order 8812 (INC-2291)',
];
/** STS sessions last at least 900 s; this one outlives the grant's notAfter (10:15). */
const SESSION = { ...CREDENTIALS, Expiration: '2025-01-15T10:30:00.000Z' };

async function serveApproved(): Promise<FakeApi> {
  api = await startFakeApi((call) => {
    if (call.method === 'POST' && call.path === '/v1/requests') return { status: 201, body: approved() };
    if (call.method === 'GET') return { status: 200, body: approved() };
    if (call.method === 'POST' && call.path.endsWith('/credentials')) return { status: 200, body: SESSION };
    return { status: 404, body: { error: { code: 'NotFound', message: 'no route' } } };
  });
  return api;
}

const REGIONS = 'console.log(JSON.stringify([process.env.AWS_REGION, process.env.AWS_DEFAULT_REGION]))';

describe('countersign exec', () => {
  it("sets AWS_REGION and AWS_DEFAULT_REGION (AWS CLI v1) from the ARN, and prints the grant's end", async () => {
    const server = await serveApproved();
    const result = await runCli([...REQUEST, '--', process.execPath, '-e', REGIONS], {
      env: { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: 'agent-token' },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(['eu-west-1', 'eu-west-1']);
    expect(result.stderr).toContain('as req_01JTEST until 2025-01-15T10:15:00.000Z');
    expect(result.stderr).not.toContain('10:30:00');
  });

  it('keeps a region the caller chose, under both names', async () => {
    const server = await serveApproved();
    const result = await runCli([...REQUEST, '--', process.execPath, '-e', REGIONS], {
      env: { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: 'agent-token', AWS_REGION: 'us-west-2' },
    });
    expect(JSON.parse(result.stdout)).toEqual(['us-west-2', 'us-west-2']);
  });

  it('checks the command exists before requesting anything: 127, no request made', async () => {
    const server = await serveApproved();
    const result = await runCli([...REQUEST, '--', 'countersign-no-such-command-xyz', 'arg'], {
      env: { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: 'agent-token' },
    });
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('cannot run countersign-no-such-command-xyz: command not found');
    expect(server.calls).toEqual([]);
  });
});

describe('countersign status --wait', () => {
  it('resumes waiting on an existing request and exits as request --wait would', async () => {
    api = await startFakeApi((call, index) => {
      if (call.method !== 'GET' || call.path !== '/v1/requests/req_01JTEST') {
        return { status: 404, body: { error: { code: 'NotFound', message: 'no route' } } };
      }
      // Still pending on the first read, approved on a later poll.
      return { status: 200, body: index < 2 ? requestObject() : approved() };
    });
    const result = await runCli(['status', '--request', 'req_01JTEST', '--wait'], {
      env: { COUNTERSIGN_ENDPOINT: api.url, COUNTERSIGN_TOKEN: 'agent-token' },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^req_01JTEST APPROVED\n/);
    expect(result.stderr).toContain('waiting for approval of req_01JTEST');
    expect(api.calls.length).toBeGreaterThanOrEqual(3);
    expect(api.calls.every((c) => c.method === 'GET')).toBe(true);
  });

  it('exits 14 when its --timeout runs out, and 0 without --wait whatever the status', async () => {
    api = await startFakeApi(() => ({ status: 200, body: requestObject() }));
    const env = { COUNTERSIGN_ENDPOINT: api.url, COUNTERSIGN_TOKEN: 'agent-token' };
    const waited = await runCli(['status', '--request', 'req_01JTEST', '--wait', '--timeout', '1'], { env });
    expect(waited.code).toBe(14);
    expect(waited.stderr).toContain('resume: countersign status --request req_01JTEST --wait');

    const denied = await startFakeApi(() => ({ status: 200, body: requestObject({ status: 'DENIED' }) }));
    try {
      const shown = await runCli(['status', '--request', 'req_01JTEST'], {
        env: { ...env, COUNTERSIGN_ENDPOINT: denied.url },
      });
      expect(shown.code).toBe(0);
      const waitedDenied = await runCli(['status', '--request', 'req_01JTEST', '--wait'], {
        env: { ...env, COUNTERSIGN_ENDPOINT: denied.url },
      });
      expect(waitedDenied.code).toBe(10);
    } finally {
      await denied.close();
    }
  });

  it('prints argument errors with real newlines', async () => {
    const result = await runCli(['status', '--request', 'req_01JTEST', '--timeout', '5']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'countersign: --timeout only applies with --wait (run: countersign status --help)\n',
    );

    // node:util parseArgs explains an ambiguous value over three lines.
    const ambiguous = await runCli(['status', '--request', '--json']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain(
      "argument is ambiguous.\nDid you forget to specify the option argument for '--request'?\n",
    );
    expect(ambiguous.stderr).not.toContain('\\u000a');
  });
});
