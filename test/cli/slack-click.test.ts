import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';
import { runCli } from './fake-api.js';

/**
 * `countersign slack-click`: a signed local click, through the whole Slack path of the local
 * assembly (signature, team and app, user mapping, the rules), as docs/cli.md shows it.
 */
describe('countersign slack-click', () => {
  let stack: TestStack;
  let agent: string;
  const run = (args: string[], env: Record<string, string> = {}) =>
    runCli(['slack-click', ...args, '--config', TEST_CONFIG_PATH], {
      env: { COUNTERSIGN_ENDPOINT: stack.url, ...env },
    });

  beforeAll(async () => {
    stack = await TestStack.start();
    agent = await stack.agentToken('click-bot');
  }, 120_000);
  afterAll(() => stack?.stop());

  it('approves as the mapped approver, and the request is APPROVED', async () => {
    const id = await stack.pendingRequest(agent, 'orders');
    const result = await run(['--request', id, '--user', 'U0ALICE']);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain(`Approved ${id} as U0ALICE`);
    const request = await stack.call('GET', `/v1/requests/${id}`, { token: agent });
    expect(request.body).toMatchObject({
      status: 'APPROVED',
      decisions: [{ approver: 'alice@example.com', channel: 'slack' }],
    });
  });

  it('is refused like a real click: an unmapped user changes nothing, a wrong secret is 401', async () => {
    const id = await stack.pendingRequest(agent, 'orders');
    const unmapped = await run(['--request', id, '--user', 'U0MALLORY']);
    expect(unmapped.code).not.toBe(0);
    expect(unmapped.stderr).toMatch(/refused/);
    const forged = await run(['--request', id, '--user', 'U0ALICE'], {
      SLACK_SIGNING_SECRET: 'not-the-signing-secret-of-this-stack',
    });
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toMatch(/401/);
    const request = await stack.call('GET', `/v1/requests/${id}`, { token: agent });
    expect(request.body).toMatchObject({ status: 'PENDING', decisions: [] });
  });

  it('denies with --deny', async () => {
    const id = await stack.pendingRequest(agent, 'orders');
    const result = await run(['--request', id, '--user', 'U0BOB', '--deny']);
    expect(result.code).toBe(0);
    expect((await stack.call('GET', `/v1/requests/${id}`, { token: agent })).body).toMatchObject({
      status: 'DENIED',
    });
  });
});
