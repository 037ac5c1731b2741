import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFaults } from '../../lib/local/stack.js';
import { expectContractError, SecretLedger, storedRequest, tableClient } from '../security/support.js';
import { eventually, TestStack } from '../support/local-stack.js';

/**
 * Fault: the handler that wrote a decision dies before it tells the waiting workflow
 * (SendTaskSuccess / SendTaskFailure). DynamoDB already holds the outcome; the workflow does not
 * know. What must hold: the decider is told the truth (recorded, not "nothing changed"), the grant
 * is usable, and the natural retry — the same click or the same API decision — re-drives the
 * workflow to the state a fault-free run reaches.
 */
describe('a crash between the decision write and SendTaskSuccess', () => {
  let stack: TestStack;
  let ddb: DynamoDBClient;
  let ledger: SecretLedger;
  let agent: string;
  const faults: LocalFaults = {};

  beforeAll(async () => {
    stack = await TestStack.start({ faults });
    ddb = tableClient(stack);
    ledger = new SecretLedger(stack);
    agent = await stack.agentToken('crash-bot');
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  /** The task token is stored once the message is shown: the crash hits the resume, not the notify. */
  const pendingRequest = () => stack.pendingRequest(agent, 'orders');

  it('through Slack: the click is told the truth, and a repeated click re-drives the workflow', async () => {
    const id = await pendingRequest();
    faults.crashBeforeResume = 1;
    const click = await stack.click({ requestId: id, userId: 'U0ALICE' });
    expect(faults.crashBeforeResume).toBe(0);
    // The decision is stored (DynamoDB is the source of truth): the grant is live.
    expect(await storedRequest(stack, ddb, id)).toMatchObject({
      status: 'APPROVED',
      decisions: [{ approver: 'alice@example.com' }],
    });
    expect(click).toMatchObject({ status: 200, body: { ok: false } });
    // The approver is not told "nothing changed" about a decision that took effect.
    expect(String(click.body.message)).not.toMatch(/nothing changed/i);
    expect(String(click.body.message)).toMatch(/recorded/i);
    const claim = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(claim.status).toBe(200);
    ledger.addCredentials(claim.body);
    // The workflow still waits on its task token (Step Functions accepts a heartbeat only while the
    // task waits): the resume never reached it, so nothing can settle the message meanwhile.
    expect(await stack.waitsOnTaskToken(id)).toBe(true);
    expect(stack.settledInSlack(id)).toBeUndefined();

    // Retry: the approver clicks again; the click re-drives the workflow, which moves on to the grant.
    const retry = await stack.click({ requestId: id, userId: 'U0ALICE' });
    expect(retry.body).toMatchObject({ ok: false, code: 'AlreadyDecided' });
    await eventually(() => stack.settledInSlack(id), 15_000);
    // The same signal tells a resumed workflow: its token no longer takes a heartbeat.
    expect(await stack.waitsOnTaskToken(id)).toBe(false);
    expect(stack.stack.sfn.executions().filter((e) => e.name === id)).toHaveLength(1);
    expect(await storedRequest(stack, ddb, id)).toMatchObject({ status: 'APPROVED', decisions: [{}] });
  });

  it('through the API: a truthful 503 naming the recorded outcome, and the repeated decision converges', async () => {
    const id = await pendingRequest();
    const approver = await stack.token('bob@example.com', ['approvers']);
    faults.crashBeforeResume = 1;
    const deny = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: approver,
      body: { decision: 'deny' },
    });
    expect(faults.crashBeforeResume).toBe(0);
    expect(await storedRequest(stack, ddb, id)).toMatchObject({ status: 'DENIED' });
    expectContractError(deny, 503, 'DependencyUnavailable');
    expect((deny.body as { error: { details?: unknown } }).error.details).toMatchObject({ status: 'DENIED' });
    const again = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: approver,
      body: { decision: 'deny' },
    });
    expectContractError(again, 409, 'AlreadyDecided');
    const run = await eventually(
      () => stack.stack.sfn.executions().find((e) => e.name === id && e.status !== 'RUNNING'),
      15_000,
    );
    expect(run.status).toBe('SUCCEEDED');
    await eventually(() => stack.settledInSlack(id), 15_000);
  });

  /** The structured log lines (JSON, as the functions write them) with `message` about `id`. */
  const logLines = (message: string, id: string) =>
    stack.logs
      .filter((line) => line.includes(message) && line.includes(id))
      .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>);

  it('a repeat whose re-drive fails too: AlreadyDecided on both channels, the failure logged alike, and the next repeat converges', async () => {
    const REDRIVE_FAILED = 'workflow not re-driven after a repeated decision';
    const bob = await stack.token('bob@example.com', ['approvers']);
    const slackId = await pendingRequest();
    const apiId = await pendingRequest();

    // Two crashes each: the decision's own resume, then the repeat's re-drive.
    faults.crashBeforeResume = 2;
    expect((await stack.click({ requestId: slackId, userId: 'U0ALICE' })).body).toMatchObject({ ok: false });
    const clickAgain = await stack.click({ requestId: slackId, userId: 'U0ALICE' });
    expect(faults.crashBeforeResume).toBe(0);
    expect(clickAgain.body).toMatchObject({ ok: false, code: 'AlreadyDecided' });

    faults.crashBeforeResume = 2;
    const deny = () =>
      stack.call('POST', `/v1/requests/${apiId}/decisions`, { token: bob, body: { decision: 'deny' } });
    expectContractError(await deny(), 503, 'DependencyUnavailable');
    const denyAgain = await deny();
    expect(faults.crashBeforeResume).toBe(0);
    // The decider's answer is about their decision, which is in force: not a 503 for the workflow.
    expectContractError(denyAgain, 409, 'AlreadyDecided');

    // The operator sees each failed re-drive, in the same line whichever channel repeated.
    for (const [id, status] of [
      [slackId, 'APPROVED'],
      [apiId, 'DENIED'],
    ] as const) {
      expect(logLines(REDRIVE_FAILED, id)).toEqual([
        expect.objectContaining({
          level: 'warn',
          component: 'decisions',
          requestId: id,
          status,
          error: expect.objectContaining({ name: 'DependencyError' }),
          cause: expect.objectContaining({ message: expect.stringMatching(/injected crash/) }),
        }),
      ]);
    }

    // The next repeat re-drives for real, and both workflows reach the fault-free end.
    expect((await stack.click({ requestId: slackId, userId: 'U0ALICE' })).body).toMatchObject({
      ok: false,
      code: 'AlreadyDecided',
    });
    expectContractError(await deny(), 409, 'AlreadyDecided');
    await eventually(() => stack.settledInSlack(slackId), 15_000);
    const run = await eventually(
      () => stack.stack.sfn.executions().find((e) => e.name === apiId && e.status !== 'RUNNING'),
      15_000,
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(logLines(REDRIVE_FAILED, slackId)).toHaveLength(1);
    expect(logLines(REDRIVE_FAILED, apiId)).toHaveLength(1);
  });

  it('no secret appears in any log line of the crash flows', () => {
    ledger.add('bearer token', agent);
    expect(ledger.count('session token')).toBe(1);
    expect(ledger.leaks(stack.logs)).toEqual([]);
  });
});
