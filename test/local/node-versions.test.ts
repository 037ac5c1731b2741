import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG_PATH } from '../support/local-stack.js';

/**
 * The oldest Node the package supports (`engines`: >= 20.19) runs the local stack. On Linux x64
 * `npm ci` brings Node 24 and the npm scripts run on it, so nothing else in the suite runs the
 * local stack's own process on Node 20 — this test does, with the machine's Node 20 if it has one
 * (`COUNTERSIGN_TEST_NODE20` names another binary). The workflow interpreter needs
 * `Promise.withResolvers` (Node 22), which lib/local/polyfills.ts supplies.
 */
const ROOT = join(import.meta.dirname, '..', '..');

function nodeMajor(binary: string): number | undefined {
  try {
    return Number(execFileSync(binary, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }));
  } catch {
    return undefined;
  }
}

function findNode20(): string | undefined {
  const named = process.env.COUNTERSIGN_TEST_NODE20;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => !d.includes('node_modules'));
  const candidates = [
    ...(named ? [named] : []),
    ...dirs.map((d) => join(d, 'node')),
    '/usr/bin/node',
    '/usr/local/bin/node',
  ];
  return candidates.find((c) => existsSync(c) && nodeMajor(c) === 20);
}

const node20 = findNode20();
const dataDir = mkdtempSync(join(tmpdir(), 'countersign-node20-'));
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('supported Node versions', () => {
  it('runs `countersign local` on Node 20: starts, takes a request to approval, stops cleanly', async (ctx) => {
    if (!node20) {
      ctx.skip(
        'no Node 20 binary on this machine (set COUNTERSIGN_TEST_NODE20): the oldest supported Node is not tested here',
      );
      return;
    }
    // Prepare
    const proc = spawn(
      node20,
      ['bin/countersign.js', 'local', '--port', '0', '--data-dir', dataDir, '--config', TEST_CONFIG_PATH],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORT: undefined } },
    );
    child = proc;
    let output = '';
    proc.stdout!.on('data', (chunk) => (output += chunk));
    proc.stderr!.on('data', (chunk) => (output += chunk));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const ready = /Countersign is ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (ready) {
          clearInterval(timer);
          resolve(ready[1]!);
        }
      }, 100);
      proc.once('exit', (code) => {
        clearInterval(timer);
        reject(new Error(`exited with ${code} before it was ready:\n${output}`));
      });
    });

    // Act: the agent asks for a write the fixture sends to approvers, so a workflow starts.
    const minted = await fetch(`${url}/local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'node20-bot', groups: ['agents'] }),
    });
    const { token } = (await minted.json()) as { token: string };
    const created = await fetch(`${url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
        actions: ['dynamodb:PutItem'],
        reason: 'Node 20 smoke test',
      }),
    });
    const request = (await created.json()) as { id: string; status: string };
    // The workflow posts the approval message once it runs (the interpreter is what needs the polyfill).
    let posted = false;
    for (let i = 0; i < 200 && !posted; i++) {
      const messages = (await (await fetch(`${url}/local/slack/messages`)).json()) as unknown;
      posted = JSON.stringify(messages).includes(request.id);
      if (!posted) await new Promise((r) => setTimeout(r, 100));
    }
    const stopped = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');

    // Assess
    expect(nodeMajor(node20)).toBe(20);
    expect(created.status).toBe(201);
    expect(request.status).toBe('PENDING');
    expect(posted).toBe(true);
    expect(await stopped).toBe(0);
    expect(output).not.toMatch(/unexpected error|withResolvers is not a function/);
  }, 240_000);
});
