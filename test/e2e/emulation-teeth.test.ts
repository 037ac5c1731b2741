import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { LAMBDA_BUNDLING } from '../../lib/bundling.js';
import { eventually, TABLE, TestStack } from '../support/local-stack.js';

/**
 * The local assembly has teeth: a template that would break on AWS breaks here the same way. Each
 * test runs a deliberately broken copy of the synthesized assembly (and, as the control, the
 * unbroken one where the contrast is the point). Nothing here fixes a broken template up: what
 * the template lacks, the function lacks.
 */

// biome-ignore lint/suspicious/noExplicitAny: these tests walk CloudFormation JSON freely
type Json = Record<string, any>;
type Resources = Record<string, { Type: string; Properties?: Json; Metadata?: Json }>;

const resourcesOf = (template: Json) => template.Resources as Resources;
const functionByHandler = (template: Json, file: string): [string, Json] => {
  for (const [id, r] of Object.entries(resourcesOf(template))) {
    if (r.Type === 'AWS::Lambda::Function' && String(r.Properties?.Description ?? '').length > 0) {
      if (id.toLowerCase().startsWith(file.replace(/-/g, '').toLowerCase())) return [id, r];
    }
  }
  throw new Error(`no function for ${file}`);
};
const roleOf = (fn: Json): string => fn.Properties!.Role['Fn::GetAtt'][0];

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe('the local assembly fails as AWS would', () => {
  it('a function missing an environment variable its code reads answers 5xx, as its Lambda would', async () => {
    stack = await TestStack.start({
      assemblyTransform: (template) => {
        const [, fn] = functionByHandler(template, 'request-access');
        delete fn.Properties!.Environment.Variables.TABLE_NAME;
        return template;
      },
    });
    const agent = await stack.agentToken();
    const answer = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    expect(answer.status).toBeGreaterThanOrEqual(500);
    // The gateway's own 5xx body, not a handler answer: the function never got as far as answering.
    expect(answer.body).toMatchObject({ error: { code: 'DependencyUnavailable' } });
  });

  it('a role missing a permission its code uses is refused by IAM in the local AWS', async () => {
    stack = await TestStack.start({
      assemblyTransform: (template) => {
        const [, fn] = functionByHandler(template, 'request-access');
        const role = roleOf(fn);
        for (const r of Object.values(resourcesOf(template))) {
          if (r.Type !== 'AWS::IAM::Policy') continue;
          if (!JSON.stringify(r.Properties!.Roles).includes(role)) continue;
          for (const statement of r.Properties!.PolicyDocument.Statement as Json[]) {
            const actions = ([] as string[]).concat(statement.Action);
            statement.Action = actions.filter(
              (a) => !/^dynamodb:(PutItem|TransactWriteItems|UpdateItem|BatchWriteItem)$/.test(a),
            );
            if (statement.Action.length === 0) statement.Action = ['dynamodb:DescribeTable'];
          }
        }
        return template;
      },
    });
    const agent = await stack.agentToken();
    const answer = await stack.request(agent, { resource: TABLE('orders'), actions: ['dynamodb:GetItem'] });
    expect(answer.status).toBeGreaterThanOrEqual(500);
    // Nothing was stored: the refusal came from IAM, before DynamoDB.
    const list = await stack.call('GET', '/local/sts/sessions');
    expect(list.status).toBe(200);
    expect(stack.logs.join('\n')).toMatch(/AccessDenied/);
  });

  it('an AssumeRole rule in state ENABLED never sees the AssumeRole events (read-only management events)', async () => {
    const linkedAssumeRole = async (broken: boolean) => {
      stack = await TestStack.start({
        ...(broken
          ? {
              assemblyTransform: (template: Json) => {
                for (const r of Object.values(resourcesOf(template))) {
                  if (
                    r.Type === 'AWS::Events::Rule' &&
                    JSON.stringify(r.Properties!.EventPattern).includes('AssumeRole')
                  ) {
                    r.Properties!.State = 'ENABLED';
                  }
                }
                return template;
              },
            }
          : {}),
      });
      const agent = await stack.agentToken();
      const id = await stack.approvedRequest(agent, 'orders');
      const claim = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
      expect(claim.status).toBe(200);
      await stack.stack.delivery.idle();
      const auditor = await stack.token('audit@example.com', ['auditors']);
      const evidence = await stack.call<Json>('GET', `/v1/reports/requests/${id}`, { token: auditor });
      const names = (evidence.body.evidence.activity as Json[]).map((a) => a.eventName);
      await stack.stop();
      stack = undefined;
      return names.includes('AssumeRole');
    };
    expect(await linkedAssumeRole(false)).toBe(true);
    expect(await linkedAssumeRole(true)).toBe(false);
  }, 120_000);

  it('a bundle whose error names were minified away never matches the workflow’s Retry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-names-'));
    const attemptsOf = async (literal: boolean) => {
      const counter = join(dir, `${literal ? 'literal' : 'minified'}.log`);
      writeFileSync(counter, '');
      // A stand-in for notify-approvers that fails the way a DynamoDB blip makes it fail. Its error
      // spells its name literally, as lambdas/core/errors.ts does, or takes it from the class, which
      // minification without keepNames (lib/bundling.ts) renames.
      const name = literal ? "'DependencyError'" : 'this.constructor.name';
      const source = `import { appendFileSync } from 'node:fs';
        class DependencyError extends Error {
          constructor(message) {
            super(message);
            this.name = ${name};
          }
        }
        export const handler = async () => {
          appendFileSync(${JSON.stringify(counter)}, 'x');
          throw new DependencyError('DynamoDB did not answer');
        };`;
      stack = await TestStack.start({
        retryIntervalOverrides: { RequestApproval: 50 },
        assemblyTransform: (template, assemblyDir) => {
          const [, fn] = functionByHandler(template, 'notify-approvers');
          const asset = join(assemblyDir, fn.Metadata!['aws:asset:path']);
          buildSync({
            stdin: { contents: source, loader: 'js', resolveDir: asset },
            bundle: true,
            minify: LAMBDA_BUNDLING.minify,
            keepNames: LAMBDA_BUNDLING.keepNames,
            format: 'esm',
            platform: 'node',
            outfile: join(asset, 'index.mjs'),
            allowOverwrite: true,
          });
          return template;
        },
      });
      const agent = await stack.agentToken();
      const created = await stack.request(agent, {
        resource: TABLE('orders'),
        actions: ['dynamodb:PutItem'],
      });
      const id = String(created.body.id);
      const execution = await eventually(
        () => stack!.stack.sfn.executions().find((e) => e.name === id && e.status !== 'RUNNING'),
        30_000,
      );
      await stack.stop();
      stack = undefined;
      return { attempts: readFileSync(counter, 'utf8').length, status: execution.status };
    };
    const literal = await attemptsOf(true);
    const minified = await attemptsOf(false);
    // With its name, DependencyError is retried as the ASL says; without, it is caught as anything else at once.
    expect(literal.attempts).toBeGreaterThan(1);
    expect(minified.attempts).toBe(1);
  }, 120_000);
});
