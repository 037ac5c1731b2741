import { describe, expect, it } from 'vitest';
import { buildConsole } from '../../lib/console/build.js';

/**
 * The console's first load (issue 16): under 150 KB of JavaScript, under 50 KB gzipped. Built here
 * exactly as the front door and the CDK app build it, and measured.
 */
describe('console bundle', () => {
  it('first load stays under 150 KB of JavaScript and 50 KB gzipped', async () => {
    const built = await buildConsole();
    const scripts = [...built.files.keys()].filter((name) => name.endsWith('.js'));
    // One script: everything the first load runs, nothing fetched lazily behind the budget's back.
    expect(scripts).toHaveLength(1);
    expect(built.scriptBytes).toBeLessThan(150 * 1024);
    expect(built.scriptGzipBytes).toBeLessThan(50 * 1024);
    console.info(`console JS: ${built.scriptBytes} bytes, ${built.scriptGzipBytes} gzipped`);
  });

  it('names assets by content, and the document inlines nothing', async () => {
    const built = await buildConsole();
    const html = built.files.get('index.html')!.body.toString();
    for (const name of built.files.keys()) {
      if (name !== 'index.html') expect(name).toMatch(/^assets\/(main|styles)-[A-Z0-9]{8}\.(js|css)$/);
    }
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]|<style|style=/);
  });
});
