import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_CONFIG_PATH } from '../support/local-stack.js';
import { runCli } from './fake-api.js';

/** `countersign local` with a bad configuration: every problem, as lines, no "unexpected error". */
describe('countersign local with a bad configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-config-'));
  const fixture = readFileSync(TEST_CONFIG_PATH, 'utf8');

  it('lists every problem on its own line, names rules, and exits 2', async () => {
    const file = join(dir, 'team.yaml');
    writeFileSync(
      file,
      fixture
        .replace('account: "111122223333"', 'account: 111122223333')
        .replace('    quorum: 2\n', '    quorum: 5\n'),
    );
    const result = await runCli(['local', '--config', file, '--port', '0', '--in-memory']);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('unexpected error');
    expect(result.stderr).not.toContain('\\u000a');
    expect(result.stderr).toContain(`countersign: bad configuration: ${file}: 2 problems:\n`);
    expect(result.stderr).toContain(
      '\n  targets[0].account: a 12-digit AWS account id as text: quote it in YAML',
    );
    expect(result.stderr).toContain('\n  rules[payments-two-keys].quorum: quorum 5 cannot be reached');
  });

  it('names a file it cannot read, without "unexpected error"', async () => {
    const file = join(dir, 'absent.yaml');
    const result = await runCli(['local', '--config', file, '--port', '0', '--in-memory']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`countersign: ${file}: cannot read the configuration file (ENOENT)`);
    expect(result.stderr).not.toContain('unexpected error');
  });

  it("prints the YAML parser's message with the offending line", async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, fixture.replace('effect: allow', 'effect: allow: now'));
    const result = await runCli(['local', '--config', file, '--port', '0', '--in-memory']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not valid YAML: .* at line \d+, column \d+:\n/);
    expect(result.stderr).toContain('effect: allow: now\n');
  });
});
