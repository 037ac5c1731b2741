import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFaults } from '../../lib/local/stack.js';
import {
  expectContractError,
  SecretLedger,
  storedRequest,
  storedRequestIds,
  tableClient,
} from '../security/support.js';
import { type ApiAnswer, eventually, TABLE, TestStack } from '../support/local-stack.js';

type Stored = {
  id: string;
  status: string;
  decisions: unknown[];
  shownAt?: string;
  outcome?: { reason: string };
};

/**
 * Faults: a dependency fails in the middle of a flow. What must hold afterwards: no request is stuck
 * (PENDING with nothing that can ever move it), the caller got a clear contract error, and doing the
 * natural retry converges on the state a fault-free run would have reached.
 */

describe('DynamoDB Local stopped and restarted mid-flow', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let ledger: SecretLedger;
  let dataDir: string;
  let agent: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'countersign-outage-'));
    stack = await TestStack.start({
      inMemory: false,
      dataDir,
      // Grants end 4 s after approval so the Expire step runs inside the test; settle steps retry
      // every 3 s (6 attempts: 18 s), longer than a DynamoDB Local restart.
      waitTimeOverrides: { WaitUntilNotAfter: 4_000 },
      retryIntervalOverrides: { Grant: 3_000, Expire: 3_000, Denied: 3_000, RequestApproval: 3_000 },
    });
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
    agent = await stack.agentToken('outage-bot');
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('during the outage every caller gets a 503 contract error; after it, the same retries converge', async () => {
    const approver = await stack.token('alice@example.com', ['approvers']);
    const id = await stack.pendingRequest(agent, 'orders');
    const body = {
      resource: TABLE('orders'),
      actions: ['dynamodb:PutItem'],
      reason: 'Retry me after the outage',
    };

    await stack.stack.stopDynamoDb();
    try {
      expectContractError(
        await stack.request(agent, body, { 'idempotency-key': 'outage-1' }),
        503,
        'DependencyUnavailable',
      );
      expectContractError(
        await stack.call('GET', `/v1/requests/${id}`, { token: agent }),
        503,
        'DependencyUnavailable',
      );
      expectContractError(
        await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent }),
        503,
        'DependencyUnavailable',
      );
      expectContractError(
        await stack.call('POST', `/v1/requests/${id}/decisions`, {
          token: approver,
          body: { decision: 'approve' },
        }),
        503,
        'DependencyUnavailable',
      );
      const click = await stack.click({ requestId: id, userId: 'U0ALICE' });
      expect(click).toMatchObject({ status: 200, body: { ok: false, code: 'DependencyUnavailable' } });
      expect(String(click.body.message)).toMatch(/nothing changed/i);
    } finally {
      await stack.stack.startDynamoDb();
    }

    // Nothing the outage refused was half-done: the request is as it was, and the data survived.
    expect(await storedRequest(stack, ddb, id)).toMatchObject({ status: 'PENDING', decisions: [] });
    // The agent's retry with the same key stores the request once.
    const retried = await stack.request(agent, body, { 'idempotency-key': 'outage-1' });
    expect(retried).toMatchObject({ status: 201, body: { status: 'PENDING' } });
    const replay = await stack.request(agent, body, { 'idempotency-key': 'outage-1' });
    expect(replay).toMatchObject({ status: 200, body: { id: retried.body.id } });
    await eventually(() => stack.approvalMessage(String(retried.body.id)), 15_000);
    // The approver's retry decides, the workflow resumes, and the grant can be claimed.
    const again = await stack.click({ requestId: id, userId: 'U0ALICE' });
    expect(again.body).toMatchObject({ ok: true, outcome: 'approved' });
    const claim = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(claim.status).toBe(200);
    ledger.addCredentials(claim.body);
    await eventually(() => stack.settledInSlack(id), 15_000);
    const run = await eventually(
      () => stack.stack.sfn.executions().find((e) => e.name === id && e.status !== 'RUNNING'),
      20_000,
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(await storedRequest(stack, ddb, id)).toMatchObject({ status: 'EXPIRED' });
  }, 90_000);

  it('a workflow step that runs during the outage retries until the database is back', async () => {
    const id = await stack.pendingRequest(agent, 'orders');
    expect((await stack.click({ requestId: id, userId: 'U0ALICE' })).body).toMatchObject({ ok: true });
    // Act: the database goes away while the workflow is waiting for notAfter; its Expire step
    // (4 s after approval) fails against the dead endpoint and is retried.
    const logged = stack.logs.length;
    await stack.stack.stopDynamoDb();
    // The Expire step (4 s after approval) has called the dead endpoint — the local AWS logs each call
    // DynamoDB Local did not answer — so the workflow is now retrying it.
    await eventually(
      () =>
        stack.logs.slice(logged).some((line) => line.includes('DynamoDB Local did not answer'))
          ? true
          : undefined,
      30_000,
    );
    expect(stack.stack.sfn.executions().find((e) => e.name === id)?.status).toBe('RUNNING');
    await stack.stack.startDynamoDb();
    // Assess: the step succeeded on a retry; nothing failed, nothing is stuck.
    const run = await eventually(
      () => stack.stack.sfn.executions().find((e) => e.name === id && e.status !== 'RUNNING'),
      30_000,
    );
    expect(run).toMatchObject({ status: 'SUCCEEDED' });
    expect(await storedRequest(stack, ddb, id)).toMatchObject({ status: 'EXPIRED' });
    expect(
      stack.logs.some(
        (line) => line.includes('"code":"DependencyUnavailable"') || line.includes('unavailable'),
      ),
    ).toBe(true);
  }, 90_000);

  it('no secret appears in any log line of the outage flows', () => {
    ledger.add('bearer token', agent);
    expect(ledger.count('secret access key')).toBe(1);
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});

describe('the workflow start fails after the request is stored', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let ledger: SecretLedger;
  let agent: string;
  const faults: LocalFaults = {};

  beforeAll(async () => {
    stack = await TestStack.start({ faults });
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
    agent = await stack.agentToken('fault-bot');
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  it('the workflow start fails after the request is stored: 503, the request is closed, and a retry with the same key converges', async () => {
    const body = {
      resource: TABLE('orders'),
      actions: ['dynamodb:PutItem'],
      reason: 'Backfill after the failed batch',
    };
    const headers = { 'idempotency-key': 'start-fails-1' };
    faults.startExecutionFails = true;
    let failed: ApiAnswer;
    try {
      failed = await stack.request(agent, body, headers);
    } finally {
      faults.startExecutionFails = false;
    }
    expectContractError(failed, 503, 'DependencyUnavailable');
    expect(String((failed.body as { error: { message: string } }).error.message)).toMatch(
      /nothing was granted.*retry/i,
    );
    // Not stuck: the stored request is closed, with the reason, and nobody can approve it.
    const [closedId] = await storedRequestIds(stack, ddb, 'fault-bot');
    const closed = (await storedRequest(stack, ddb, String(closedId))) as Stored;
    expect(closed).toMatchObject({
      status: 'DENIED',
      outcome: { reason: expect.stringMatching(/workflow could not be started/) },
    });
    expect(stack.stack.sfn.executions().filter((e) => e.name === closedId)).toHaveLength(0);
    expect((failed.body as { error: { details?: unknown } }).error.details).toEqual({ requestId: closedId });

    // The retry an agent (and the countersign CLI) makes: the same body and Idempotency-Key.
    const retried = await stack.request(agent, body, headers);
    expect(retried).toMatchObject({ status: 201, body: { status: 'PENDING' } });
    expect(retried.body.id).not.toBe(closedId);
    const id = String(retried.body.id);
    await eventually(() => stack.approvalMessage(id), 15_000);
    expect((await stack.click({ requestId: id, userId: 'U0ALICE' })).body).toMatchObject({
      ok: true,
      outcome: 'approved',
    });
    // And it stays converged: the key now names the live request.
    expect(await stack.request(agent, body, headers)).toMatchObject({
      status: 200,
      body: { id, status: 'APPROVED' },
    });
    expect((await storedRequestIds(stack, ddb, 'fault-bot')).sort()).toEqual([closedId, id].sort());
  });

  it('no secret appears in any log line of the fault flows', () => {
    ledger.add('bearer token', agent);
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});
