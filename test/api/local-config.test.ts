import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';

/** A local configuration needs no `identity:` section: the embedded issuer and its defaults are used. */
describe('a local configuration without identity', () => {
  let stack: TestStack;

  beforeAll(async () => {
    const text = readFileSync(TEST_CONFIG_PATH, 'utf8').replace(/^identity:\n(?: {2}.*\n)+/m, '');
    expect(text).not.toContain('identity:');
    const file = join(mkdtempSync(join(tmpdir(), 'countersign-local-')), 'no-identity.yaml');
    writeFileSync(file, text);
    stack = await TestStack.start({ config: loadConfigFile(file) });
  }, 60_000);
  afterAll(() => stack?.stop());

  it('starts, and its tokens (audience countersign, groups in groups) are accepted', async () => {
    const agent = await stack.agentToken('deploy-bot');
    const answer = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    expect(answer).toMatchObject({ status: 201, body: { status: 'APPROVED' } });
  });
});
