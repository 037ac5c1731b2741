import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../../lambdas/core/config.js';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';
import { type Browser, go, hasChromium, launch, shot, signIn } from './browser.js';

/**
 * The web console (DESIGN.md §6, issue 16) in a real browser against the real local stack: sign-in
 * through the embedded issuer's dev login (code + PKCE), then what approvers, agents and auditors
 * see and do. Each page is photographed (docs/console/*.png with UPDATE_SCREENSHOTS=1).
 */

const APPROVER = 'alice@example.com';
const available = hasChromium();

describe.skipIf(!available)('web console in chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  let agent: string;

  beforeAll(async () => {
    // The fixture's rules, plus one whose minimum review (60 s) no browser can beat, even on a
    // loaded machine: the TooFast test must not depend on being quick.
    const fixture = loadConfigFile(TEST_CONFIG_PATH);
    const slowReview: Rule = {
      name: 'console-slow-review',
      match: {
        accessLevels: ['Write'],
        resources: ['arn:aws:dynamodb:*:111122223333:table/reviewed-slowly*'],
      },
      effect: 'approve',
      approvers: ['alice@example.com'],
      minReviewSeconds: 60,
      minReviewMode: 'refuse',
    };
    stack = await TestStack.start({ config: { ...fixture, rules: [slowReview, ...fixture.rules] } });
    browser = await launch();
    agent = await stack.agentToken('deploy-bot');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function newPage(): Promise<Page> {
    const page = await browser.context.newPage();
    // Any alert() would mean injected script ran: fail loudly instead of letting it be dismissed.
    page.on('dialog', (dialog) => {
      throw new Error(`a dialog opened: ${dialog.message()}`);
    });
    return page;
  }

  it('an approver signs in through the dev login, opens a pending request and approves it with a comment', async () => {
    // Prepare
    const id = await stack.pendingRequest(agent, 'orders', { reason: 'Backfill order 8812 (INC-2291)' });
    const page = await newPage();
    await page.goto(`${stack.url}/console/`);
    await shot(page, 'sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/authorize\?/);
    await shot(page, 'dev-login');
    await page.getByLabel(/Identity/).fill(APPROVER);
    await page.getByRole('checkbox', { name: 'approvers' }).check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // Assess the sign-in: no code or token left in the address bar, nothing in web storage.
    expect(page.url()).not.toMatch(/code=|token|state=/);
    const stored = await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]');
    expect(stored).toEqual([0, 0, '']);
    await expect.poll(() => page.getByRole('link', { name: 'Inbox' }).count()).toBe(1);

    // Act: open the request by id (from the inbox, once GET /v1/requests exists; by id always works)
    await page.getByLabel('Open a request by id').fill(id);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('heading', { name: 'Decide' }).waitFor();
    await expect.poll(() => page.locator('.status-line .badge').textContent()).toBe('PENDING');
    await shot(page, 'request-pending');
    await page.getByLabel(/Comment/).fill('Checked INC-2291: the backfill is expected.');
    await page.getByRole('button', { name: 'Approve' }).click();

    // Assess: the page shows it APPROVED, with the decision and its comment; the API agrees.
    // The first call of a function starts its execution environment: a cold start can take seconds.
    await expect
      .poll(() => page.locator('.status-line .badge').textContent(), { timeout: 30_000 })
      .toBe('APPROVED');
    expect(await page.locator('table').textContent()).toContain(
      'Checked INC-2291: the backfill is expected.',
    );
    expect(await page.getByRole('button', { name: 'Revoke access' }).count()).toBe(1);
    await shot(page, 'request-approved');
    const after = await stack.call('GET', `/v1/requests/${id}`, { token: agent });
    expect(after.body.status).toBe('APPROVED');
    expect(after.body.decisions).toEqual([
      expect.objectContaining({
        approver: APPROVER,
        decision: 'approve',
        channel: 'api',
        comment: 'Checked INC-2291: the backfill is expected.',
      }),
    ]);
    // Revoke: the grant ends at once, for the page and for the API.
    await page.getByRole('button', { name: 'Revoke access' }).click();
    await expect
      .poll(() => page.locator('.status-line .badge').textContent(), { timeout: 30_000 })
      .toBe('REVOKED');
    expect((await stack.call('GET', `/v1/requests/${id}`, { token: agent })).body.status).toBe('REVOKED');
    await page.close();
  });

  it('a too-fast approval shows the TooFast sentence, and nothing is approved', async () => {
    // Prepare: a rule asking for 60 s of review before any approval.
    const page = await newPage();
    await signIn(page, stack.url, APPROVER, ['approvers']);
    const id = await stack.pendingRequest(agent, 'reviewed-slowly-ledger');
    // Act
    await go(page, `#/requests/${id}`);
    await page.getByRole('button', { name: 'Approve' }).click();
    // Assess
    const alert = page.locator('.decide [role=alert]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(
      /Too fast: this rule asks approvers to review a request for at least 60 s before approving it, and you have had it for \d+ s\./,
    );
    expect(await alert.textContent()).toContain('TooFast');
    await shot(page, 'decide-too-fast');
    expect((await stack.call('GET', `/v1/requests/${id}`, { token: agent })).body.status).toBe('PENDING');
    await page.close();
  });

  it('an agent sees no inbox, only its own requests; another agent’s request is not found', async () => {
    // Prepare
    const own = await stack.pendingRequest(agent, 'orders', { reason: 'Agent view of its own request' });
    const other = await stack.pendingRequest(await stack.agentToken('other-bot'), 'orders');
    const page = await newPage();
    // Act
    await signIn(page, stack.url, 'deploy-bot', ['agents']);
    // Assess: no inbox link, and the inbox route itself says it is not for agents.
    expect(await page.getByRole('link', { name: 'Inbox' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'My requests' }).count()).toBe(1);
    await go(page, '#/inbox');
    await page.getByRole('heading', { name: 'Not available' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('The inbox is for approvers.');
    await go(page, `#/requests/${own}`);
    await expect.poll(() => page.locator('.status-line .badge').textContent()).toBe('PENDING');
    expect(await page.locator('main').textContent()).toContain('Agent view of its own request');
    expect(await page.getByRole('heading', { name: 'Decide' }).count()).toBe(0);
    await shot(page, 'agent-own-request');
    await go(page, `#/requests/${other}`);
    const refused = page.getByRole('alert');
    await refused.waitFor();
    expect(await refused.textContent()).toContain(
      'Nothing here: the request does not exist, or it is not yours to see.',
    );
    // Sign out forgets the token: the page is back to "Sign in".
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('link', { name: 'My requests' }).count()).toBe(0);
    await page.close();
  });

  it('an auditor reads the evidence record, the history, and downloads the access review as CSV', async () => {
    // Prepare
    const approved = await stack.approvedRequest(agent, 'orders', { reason: 'Audited by the console test' });
    const page = await newPage();
    await signIn(page, stack.url, 'auditor@example.com', ['auditors']);
    // Act + Assess: the history lists the request, with its filters
    await go(page, '#/history');
    await page.getByLabel('Agent').fill('deploy-bot');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('link', { name: approved }).waitFor();
    await shot(page, 'history');
    // The evidence record: the six facts, the chain's verdict, findings
    await page.getByRole('link', { name: approved }).click();
    await page.getByTestId('integrity').waitFor();
    expect(await page.getByTestId('integrity').textContent()).toContain('the chain verifies');
    expect(await page.locator('main').textContent()).toContain('6. Activity');
    expect(await page.getByRole('heading', { name: 'Findings' }).count()).toBe(1);
    await shot(page, 'request-evidence');
    // The access review and its CSV
    await go(page, '#/review');
    await page.getByRole('cell', { name: 'deploy-bot' }).first().waitFor();
    await shot(page, 'access-review');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(
      /^access-review-(agents-)?\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/,
    );
    const csv = readFileSync((await download.path())!, 'utf8');
    const direct = await stack.call('GET', '/v1/reports/access-review', {
      token: await stack.token('auditor@example.com', ['auditors']),
      headers: { accept: 'text/csv' },
    });
    expect(csv.split('\n')[0]).toBe(String(direct.body).split('\n')[0]);
    expect(csv).toMatch(/^"deploy-bot",/m);
    // Me: who, and the roles from the token's groups
    await go(page, '#/me');
    await page.getByRole('heading', { name: 'Your roles' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('Auditor: you read every request');
    await shot(page, 'me');
    await page.close();
  });

  it('a hostile reason and comment render as inert text: no markup, no script; bidi tricks never get in', async () => {
    // Prepare: markup and mentions in the reason. The API refuses bidi overrides in every text field
    // (reason, context, comment: one text rule), so none reaches the console through it; the
    // console would still mark one visibly (lib/console/app), which stored data edited by hand
    // could carry.
    const hostile = '<img src=x onerror=alert(1)> @here <!channel> <script>alert(2)</script>';
    const refused = await stack.request(agent, {
      resource: TABLE('payments'),
      actions: ['dynamodb:PutItem'],
      reason: 'txt.exe\u202Egnp',
    });
    expect(refused.status).toBe(400);
    const reordered = await stack.request(agent, {
      resource: TABLE('payments'),
      actions: ['dynamodb:PutItem'],
      context: { task: 'INC-1 \u202Egnp.exe' },
    });
    expect(reordered.status).toBe(400);
    const id = await stack.pendingRequest(agent, 'payments', { reason: hostile });
    const bob = await stack.token('bob@example.com', ['approvers']);
    const tricked = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: bob,
      body: { decision: 'approve', comment: 'ok \u202Egnp.exe' },
    });
    expect(tricked.status).toBe(400);
    const first = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: bob,
      body: { decision: 'approve', comment: 'ok <b>bold</b>' },
    });
    expect(first.status).toBe(200);
    const page = await newPage();
    await signIn(page, stack.url, APPROVER, ['approvers']);
    // Act
    await go(page, `#/requests/${id}`);
    await page.getByRole('heading', { name: 'Decide' }).waitFor();
    // Assess: the text is there, character for character; no element was made from it.
    const main = page.locator('main');
    expect(await main.textContent()).toContain(hostile);
    expect(await main.locator('img, script, b').count()).toBe(0);
    expect(await page.locator('script:not([src])').count()).toBe(0);
    expect(await main.textContent()).toContain('ok <b>bold</b>');
    // The CSP would have stopped an inline handler anyway; no error image was even requested.
    await shot(page, 'request-hostile-text');
    await page.close();
  });

  it('is readable at phone width', async () => {
    const id = await stack.pendingRequest(agent, 'orders', { reason: 'Phone-width check' });
    const page = await newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page, stack.url, APPROVER, ['approvers']);
    await go(page, `#/requests/${id}`);
    await page.getByRole('heading', { name: 'Decide' }).waitFor();
    // Nothing overflows the viewport sideways.
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, 'request-phone');
    // Keyboard: the first Tab reaches "Skip to content", and the decision buttons are reachable.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.getByLabel(/Comment/).focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Approve');
    await page.close();
  });

  it('inbox and "my requests" list pending work', async () => {
    // Prepare
    const id = await stack.pendingRequest(agent, 'orders', { reason: 'Waiting in the inbox' });
    const approverToken = await stack.token(APPROVER, ['approvers']);
    const listed = await stack.call('GET', '/v1/requests?status=PENDING', { token: approverToken });
    // The list the inbox shows is served (a refusal here fails the test; it used to skip it).
    expect(listed.status).toBe(200);
    const page = await newPage();
    await signIn(page, stack.url, APPROVER, ['approvers']);
    await go(page, '#/inbox');
    // The pending request is in the approver's inbox, with its reason and a countdown.
    const card = page.locator('.card', { hasText: id });
    await card.waitFor();
    expect(await card.textContent()).toContain('Waiting in the inbox');
    expect(await card.textContent()).toContain('0 of 1 approval');
    await shot(page, 'inbox');
    await card.getByRole('link', { name: id }).click();
    await page.getByRole('heading', { name: 'Decide' }).waitFor();
    // The agent's own list has it too, and nothing of another agent's.
    const agentPage = await newPage();
    await signIn(agentPage, stack.url, 'deploy-bot', ['agents']);
    await agentPage.locator('.card', { hasText: id }).waitFor();
    await shot(agentPage, 'my-requests');
    await agentPage.close();
    await page.close();
  });
});

describe.skipIf(available)('web console without chromium', () => {
  it('is skipped: /usr/bin/chromium is not installed', (ctx) => {
    ctx.skip('install Debian’s chromium to run the console suite');
  });
});
