import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../lambdas/core/model.js';
import {
  apiError,
  approved,
  type FakeApi,
  type Reply,
  requestObject,
  runCli,
  startFakeApi,
} from './fake-api.js';

const ARGS = [
  'request',
  '--resource',
  'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
  '--action',
  'dynamodb:PutItem',
  '--action',
  'dynamodb:UpdateItem',
  '--reason',
  'Backfill order 8812 (INC-2291)',
];

const alice: Decision = {
  approver: 'alice@example.com',
  decision: 'approve',
  channel: 'slack',
  at: '2025-01-15T10:01:00.000Z',
  comment: 'checked the incident',
};

const bob: Decision = {
  approver: 'bob@example.com',
  decision: 'approve',
  channel: 'api',
  at: '2025-01-15T10:02:00.000Z',
};

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** A server whose POST answers `created` and whose successive GETs answer `polls` (the last one repeats). */
async function serve(created: Reply, polls: Reply[] = []): Promise<FakeApi> {
  let poll = 0;
  api = await startFakeApi((call) => {
    if (call.method === 'POST' && call.path === '/v1/requests') return created;
    if (call.method === 'GET' && call.path === '/v1/requests/req_01JTEST') {
      return polls[Math.min(poll++, polls.length - 1)] ?? apiError(500, 'Bug', 'no polls configured');
    }
    return apiError(404, 'NotFound', `no route ${call.method} ${call.path}`);
  });
  return api;
}

function env(server: FakeApi, extra: Record<string, string> = {}): Record<string, string> {
  return { COUNTERSIGN_ENDPOINT: server.url, COUNTERSIGN_TOKEN: 'agent-token', ...extra };
}

describe('countersign request', () => {
  it('creates the request with every flag, an idempotency key and the token, and prints "<id> <STATUS>" first', async () => {
    // Prepare
    const server = await serve({ status: 201, body: requestObject() });

    // Act
    const result = await runCli(
      [...ARGS, '--duration', '900', '--context', 'task=INC-2291', '--context', 'runId=run=77'],
      { env: env(server) },
    );

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('req_01JTEST PENDING');
    expect(result.stdout).toContain('writes (approve, 0/2 approvals)');
    const [call] = server.calls;
    expect(server.calls).toHaveLength(1);
    expect(call?.body).toEqual({
      resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      reason: 'Backfill order 8812 (INC-2291)',
      durationSeconds: 900,
      context: { task: 'INC-2291', runId: 'run=77' },
    });
    expect(call?.headers.authorization).toBe('Bearer agent-token');
    expect(call?.headers['idempotency-key']).toMatch(/^cli-[0-9a-f-]{36}$/);
    expect(call?.headers['content-type']).toBe('application/json');
  });

  it('waits through PENDING to APPROVED, narrating the rule, each poll and each approval on stderr', async () => {
    // Prepare
    const server = await serve({ status: 201, body: requestObject() }, [
      { status: 200, body: requestObject({ decisions: [alice] }) },
      { status: 200, body: approved({ decisions: [alice, bob] }) },
    ]);

    // Act
    const result = await runCli([...ARGS, '--wait'], { env: env(server) });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('req_01JTEST APPROVED');
    expect(result.stderr).toContain(
      'waiting for approval of req_01JTEST — rule "writes" needs 2 approvals from alice@example.com, bob@example.com',
    );
    expect(result.stderr).toContain(
      'approved by alice@example.com via slack — checked the incident, 1/2 approvals',
    );
    expect(result.stderr).toMatch(/still PENDING after \d+s, 1\/2 approvals/);
    expect(result.stderr).toContain('approved by bob@example.com via api, 2/2 approvals');
    expect(result.stderr).toContain('req_01JTEST APPROVED — access until 2025-01-15T10:15:00.000Z');
    // Alice's approval is printed once, although both polls list it.
    expect(result.stderr.match(/approved by alice/g)).toHaveLength(1);
    const polls = server.calls.filter((c) => c.method === 'GET');
    expect(polls).toHaveLength(2);
    expect(polls.every((c) => c.query.get('waitSeconds') === '20')).toBe(true);
    expect(result.stdout).not.toContain('waiting');
  });

  it('exits 10 with the approver and comment when the request is denied while waiting', async () => {
    // Prepare
    const deny: Decision = { ...alice, decision: 'deny', comment: 'not during the freeze' };
    const server = await serve({ status: 201, body: requestObject() }, [
      { status: 200, body: requestObject({ status: 'DENIED', decisions: [deny] }) },
    ]);

    // Act
    const result = await runCli([...ARGS, '--wait'], { env: env(server) });

    // Assess
    expect(result.code).toBe(10);
    expect(result.stdout.split('\n')[0]).toBe('req_01JTEST DENIED');
    expect(result.stderr).toContain('denied by alice@example.com via slack — not during the freeze');
    expect(result.stderr).toContain(
      'countersign: req_01JTEST DENIED — denied by alice@example.com: not during the freeze',
    );
  });

  it.each([
    ['TIMED_OUT', 11],
    ['REVOKED', 12],
    ['EXPIRED', 13],
  ] as const)(
    'exits with the documented code when the request ends %s, giving the server reason',
    async (status, code) => {
      // Prepare
      const outcome = { reason: `ended ${status.toLowerCase()}`, at: '2025-01-15T11:00:00.000Z' };
      const server = await serve({ status: 201, body: requestObject() }, [
        { status: 200, body: requestObject({ status, outcome }) },
      ]);

      // Act
      const result = await runCli([...ARGS, '--wait'], { env: env(server) });

      // Assess
      expect(result.code).toBe(code);
      expect(result.stderr).toContain(`countersign: req_01JTEST ${status} — ended ${status.toLowerCase()}`);
    },
  );

  it('exits 10 without waiting when the policy denies the request outright', async () => {
    // Prepare
    const policy = { rule: 'deny-destructive', effect: 'deny' as const, accessLevels: ['Write'] };
    const server = await serve({ status: 201, body: requestObject({ status: 'DENIED', policy }) });

    // Act
    const result = await runCli(ARGS, { env: env(server) });

    // Assess
    expect(result.code).toBe(10);
    expect(result.stderr).toContain('DENIED — policy rule "deny-destructive" denies it');
  });

  it('prints only the final request as JSON on stdout with --json --wait', async () => {
    // Prepare
    const server = await serve({ status: 201, body: requestObject() }, [{ status: 200, body: approved() }]);

    // Act
    const result = await runCli([...ARGS, '--wait', '--json'], { env: env(server) });

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(approved());
  });

  it('gives up after --timeout with exit 14, leaving the request open', async () => {
    // Prepare
    const server = await serve({ status: 201, body: requestObject() }, [
      { status: 200, body: requestObject() },
    ]);

    // Act
    const result = await runCli([...ARGS, '--wait', '--timeout', '1'], { env: env(server) });

    // Assess
    expect(result.code).toBe(14);
    expect(result.stderr).toContain('req_01JTEST is still PENDING after 1s; it stays open');
    expect(server.calls.filter((c) => c.method === 'GET')[0]?.query.get('waitSeconds')).toBe('1');
  });

  it('retries the POST on 503 with the same idempotency key, so the retry cannot create a second request', async () => {
    // Prepare
    let posts = 0;
    api = await startFakeApi(() =>
      posts++ === 0
        ? apiError(503, 'DependencyUnavailable', 'try again')
        : { status: 201, body: requestObject({ status: 'APPROVED' }) },
    );

    // Act
    const result = await runCli([...ARGS, '--idempotency-key', 'run-77-call-9'], { env: env(api) });

    // Assess
    expect(result.code).toBe(0);
    expect(api.calls).toHaveLength(2);
    expect(api.calls.map((c) => c.headers['idempotency-key'])).toEqual(['run-77-call-9', 'run-77-call-9']);
  });

  it('does not retry a 400 and prints the code, message and field', async () => {
    // Prepare
    api = await startFakeApi(() =>
      apiError(400, 'ValidationError', 'dynamodb:PutItems is not an IAM action', { field: 'actions[0]' }),
    );

    // Act
    const result = await runCli(ARGS, { env: env(api) });

    // Assess
    expect(result.code).toBe(1);
    expect(api.calls).toHaveLength(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'countersign: 400 ValidationError — dynamodb:PutItems is not an IAM action (field: actions[0])\n',
    );
  });

  it('re-reads COUNTERSIGN_TOKEN_FILE before every call, so a rotated token is used mid-wait', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'countersign-token-'));
    const file = join(dir, 'token');
    await writeFile(file, 'token-one\n');
    let polls = 0;
    api = await startFakeApi(async (call) => {
      if (call.method === 'POST') return { status: 201, body: requestObject() };
      if (polls++ === 0) {
        await writeFile(file, 'token-two\n');
        return { status: 200, body: requestObject() };
      }
      return { status: 200, body: approved() };
    });

    // Act
    const result = await runCli([...ARGS, '--wait'], {
      env: { COUNTERSIGN_ENDPOINT: api.url, COUNTERSIGN_TOKEN_FILE: file },
    });

    // Assess
    await rm(dir, { recursive: true, force: true });
    expect(result.code).toBe(0);
    expect(api.calls.map((c) => c.headers.authorization)).toEqual([
      'Bearer token-one',
      'Bearer token-one',
      'Bearer token-two',
    ]);
  });

  it('shows control characters in untrusted text as escapes instead of sending them to the terminal', async () => {
    // Prepare
    const hostile: Decision = { ...alice, comment: 'ok\u001b]0;pwned\u0007\u001b[2J\rFAKE APPROVED' };
    const server = await serve({ status: 201, body: requestObject({ reason: 'why\u001b[31m' }) }, [
      { status: 200, body: approved({ decisions: [hostile] }) },
    ]);

    // Act
    const result = await runCli([...ARGS, '--wait'], { env: env(server) });

    // Assess
    expect(result.code).toBe(0);
    for (const raw of ['\u001b', '\u0007', '\r']) expect(result.stderr + result.stdout).not.toContain(raw);
    expect(result.stderr).toContain('ok\\u001b]0;pwned\\u0007\\u001b[2J\\u000dFAKE APPROVED');
  });

  it('refuses --timeout without --wait before sending anything', async () => {
    // Prepare
    const server = await serve({ status: 201, body: requestObject() });

    // Act
    const result = await runCli([...ARGS, '--timeout', '30'], { env: env(server) });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'countersign: --timeout only applies with --wait (run: countersign request --help)\n',
    );
    expect(server.calls).toHaveLength(0);
  });
});
