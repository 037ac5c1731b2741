import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium (what CI installs); the console suite skips, visibly, where it is absent. */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = () => existsSync(CHROMIUM);

/** Where the suite writes screenshots: docs/console with UPDATE_SCREENSHOTS=1, else a temporary dir. */
export const SCREENSHOT_DIR =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '..', '..', 'docs', 'console')
    : mkdtempSync(join(tmpdir(), 'countersign-console-shots-'));
mkdirSync(SCREENSHOT_DIR, { recursive: true });

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless chromium with a fresh profile, nothing phoning home, downloads allowed. */
export async function launch(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'countersign-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    timezoneId: 'Europe/Paris',
    locale: 'en-GB',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Fail on the step that hangs, well before the test's own timeout.
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Signs in through the console exactly as a person does: the console's Sign in button, the
 * embedded issuer's dev login (identity and groups), back to the console with a code.
 */
export async function signIn(page: Page, baseUrl: string, sub: string, groups: string[]): Promise<void> {
  await page.goto(`${baseUrl}/console/`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/authorize\?/);
  await page.getByLabel(/Identity/).fill(sub);
  for (const group of groups) await page.getByRole('checkbox', { name: group }).check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Changes the page inside the app (the token lives in memory: a full load would sign out). */
export async function go(page: Page, hash: string): Promise<void> {
  // A string, not a function: this file is compiled for Node, where there is no `window`.
  await page.evaluate(`window.location.hash = ${JSON.stringify(hash)}`);
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
