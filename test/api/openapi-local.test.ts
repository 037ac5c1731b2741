import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../lib/project-root.js';
import { TestStack } from '../support/local-stack.js';

/**
 * The local-only doors documented in docs/openapi.yaml are the ones the local front door serves:
 * each documented GET answers (not the gateway's 404), and an undocumented /local path does not.
 */
describe('docs/openapi.yaml and the local front door', () => {
  const document = parse(readFileSync(join(PROJECT_ROOT, 'docs', 'openapi.yaml'), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const localGets = Object.entries(document.paths)
    .filter(([path, item]) => !path.startsWith('/v1/') && 'get' in item)
    .map(([path]) => path);
  let stack: TestStack;
  beforeAll(async () => {
    stack = await TestStack.start();
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('serves every documented local GET', async () => {
    expect(localGets).toEqual(expect.arrayContaining(['/healthz', '/local/endpoints', '/local/iam']));
    for (const path of localGets) {
      const answer = await stack.call('GET', path);
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
  });

  it('answers an undocumented local path as the gateway answers an unknown route', async () => {
    expect(await stack.call('GET', '/local/nothing')).toMatchObject({ status: 404 });
  });

  it('names the local AWS endpoint, which refuses an unsigned call as AWS does', async () => {
    const endpoints = (await stack.call('GET', '/local/endpoints')).body as { aws: string };
    const unsigned = await fetch(endpoints.aws, {
      method: 'POST',
      headers: {
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: '{}',
    });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
    expect(await unsigned.text()).toMatch(
      /MissingAuthenticationToken|IncompleteSignature|MissingAuthentication/,
    );
  });
});
