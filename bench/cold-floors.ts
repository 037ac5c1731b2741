import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { marshall } from '@aws-sdk/util-dynamodb';
import { build } from 'esbuild';
import { fromRequestItem, keys, toItem } from '../lambdas/adapters/dynamodb-store.js';
import { workflowInput } from '../lambdas/adapters/step-functions-workflow.js';
import { agentKey } from '../lambdas/core/access.js';
import { computeGrant } from '../lambdas/core/grants.js';
import { appendHistory } from '../lambdas/core/history.js';
import { newRequestId } from '../lambdas/core/ids.js';
import type { AccessRequest } from '../lambdas/core/model.js';
import { lambdaBuildOptions } from '../lib/bundling.js';
import { ALLOW_BODY, APPROVE_BODY, APPROVER, type BenchStack } from './lib/bench-stack.js';
import { type FloorStep, SECRET_ARN } from './lib/lambda-env.js';
import { replaceInput } from './slack-click.js';

/**
 * Cold floors: for a few handlers, a bundle that makes only the calls the handler's first event
 * must make (the JWKS fetch of a cold JWT verifier, the same AWS calls with the same inputs, the
 * same Slack call), raw with the SDK, built with the same esbuild options and run the same way (a
 * fresh process). What a handler's cold start costs beyond its floor is Countersign's own.
 */

const CLIENTS = {
  dynamodb: { pkg: '@aws-sdk/client-dynamodb', client: 'DynamoDBClient' },
  sfn: { pkg: '@aws-sdk/client-sfn', client: 'SFNClient' },
  secretsmanager: { pkg: '@aws-sdk/client-secrets-manager', client: 'SecretsManagerClient' },
} as const;

/** The floor bundle's source: imports only the clients and commands its steps use. */
function floorSource(steps: FloorStep[]): string {
  const used = new Map<keyof typeof CLIENTS, Set<string>>();
  for (const s of steps) {
    if ('client' in s) {
      const set = used.get(s.client) ?? new Set<string>();
      set.add(s.command);
      used.set(s.client, set);
    }
  }
  const imports = [...used].map(
    ([key, commands]) =>
      `import { ${CLIENTS[key].client}, ${[...commands].map((c) => `${c}Command`).join(', ')} } from '${CLIENTS[key].pkg}';`,
  );
  const clients = [...used.keys()].map((key) => `${key}: new ${CLIENTS[key].client}(options)`);
  const commands = [...used].flatMap(([key, set]) => [...set].map((c) => `'${key}:${c}': ${c}Command`));
  return `${imports.join('\n')}
let clients;
const commands = { ${commands.join(', ')} };
export const handler = async (event) => {
  // Built on the first event, as the handlers build theirs (lazyHandler).
  const options = { region: process.env.AWS_REGION, maxAttempts: 3 };
  clients ??= { ${clients.join(', ')} };
  for (const s of event.steps) {
    if (s.fetch) {
      const response = await fetch(s.fetch);
      await response.arrayBuffer();
    } else if (s.slack) {
      const response = await fetch('https://slack.com/api/' + s.slack, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: 'Bearer ' + s.token },
        body: JSON.stringify(s.body),
      });
      await response.json();
    } else {
      await clients[s.client].send(new commands[s.client + ':' + s.command](s.input));
    }
  }
  return { statusCode: 200 };
};
`;
}

export interface ColdFloor {
  /** The floor's steps for one run (fresh ids, real items). */
  steps: (stack: BenchStack, run: number) => Promise<FloorStep[]>;
}

const jwks = (stack: BenchStack): FloorStep => ({
  group: 'floor',
  fetch: `${stack.url}/.well-known/jwks.json`,
});

let template: AccessRequest | undefined;
async function requestTemplate(stack: BenchStack): Promise<AccessRequest> {
  if (!template) {
    const { id } = await stack.create(await stack.agent('cold-floor-template'), APPROVE_BODY);
    await stack.waitForTaskToken(id);
    template = fromRequestItem((await stack.getItem(id))!);
  }
  return template;
}

export const COLD_FLOORS: Record<string, ColdFloor> = {
  'get-request': {
    steps: async (stack, run) => {
      const { id } = await stack.create(await stack.agent(`cold-floor-agent-${run}`), ALLOW_BODY);
      return [
        jwks(stack),
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'GetItem',
          input: {
            TableName: stack.settings.tableName,
            Key: marshall(keys.request(id)),
            ConsistentRead: true,
          },
        },
      ];
    },
  },
  'request-access': {
    steps: async (stack, run) => {
      const base = await requestTemplate(stack);
      const now = new Date();
      const at = now.toISOString();
      const requester = { ...base.requester, sub: `cold-floor-agent-${run}` };
      const request = { ...base, id: newRequestId(), requester, createdAt: at, updatedAt: at };
      const table = stack.settings.tableName;
      return [
        jwks(stack),
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'UpdateItem',
          input: {
            TableName: table,
            Key: marshall(keys.rate(agentKey(requester), at.slice(0, 16))),
            UpdateExpression: 'ADD #count :one SET expiresAt = :ttl',
            ExpressionAttributeNames: { '#count': 'count' },
            ExpressionAttributeValues: marshall({
              ':one': 1,
              ':ttl': Math.floor(now.getTime() / 1000) + 120,
            }),
            ReturnValues: 'UPDATED_NEW',
          },
        },
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'PutItem',
          input: { TableName: table, Item: toItem(request), ConditionExpression: 'attribute_not_exists(PK)' },
        },
        {
          group: 'floor',
          client: 'sfn',
          command: 'StartExecution',
          input: {
            stateMachineArn: stack.settings.stateMachineArn,
            name: request.id,
            input: workflowInput(request),
          },
        },
      ];
    },
  },
  'slack-interactions': {
    steps: async (stack, run) => {
      const { id } = await stack.create(await stack.agent(`cold-floor-agent-${run}`), APPROVE_BODY);
      await stack.waitForTaskToken(id);
      const current = fromRequestItem((await stack.getItem(id))!);
      const token = await stack.tokenOf(id);
      const now = new Date();
      const at = now.toISOString();
      const draft: AccessRequest = {
        ...current,
        status: 'APPROVED',
        decisions: [
          ...current.decisions,
          { approver: APPROVER.sub, decision: 'approve', channel: 'slack', at, reviewSeconds: 1 },
        ],
        grant: computeGrant(stack.settings.config, current, now),
        updatedAt: at,
        version: current.version + 1,
      };
      const next = { ...draft, history: appendHistory(current.history ?? [], draft, 'approved', at) };
      const table = stack.settings.tableName;
      return [
        {
          group: 'floor',
          client: 'secretsmanager',
          command: 'GetSecretValue',
          input: { SecretId: SECRET_ARN },
        },
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'GetItem',
          input: { TableName: table, Key: marshall(keys.request(id)), ConsistentRead: true },
        },
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'UpdateItem',
          input: replaceInput(table, next, current.version),
        },
        {
          group: 'floor',
          client: 'dynamodb',
          command: 'GetItem',
          input: { TableName: table, Key: marshall(keys.token(id)), ConsistentRead: true },
        },
        {
          group: 'floor',
          client: 'sfn',
          command: 'SendTaskSuccess',
          input: {
            taskToken: token,
            output: JSON.stringify({ status: 'APPROVED', notAfter: next.grant?.notAfter }),
          },
        },
        {
          group: 'floor',
          slack: 'chat.postEphemeral',
          token: stack.settings.slack.botToken!,
          body: { channel: 'C0123456789', user: APPROVER.slackUser, text: 'Approved.' },
        },
      ];
    },
  },
};

/** Bundles each cold floor (production options) from the steps of a sample run. */
export async function buildColdFloors(
  stack: BenchStack,
  root: string,
  outDir: string,
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const [name, floor] of Object.entries(COLD_FLOORS)) {
    const dir = join(outDir, `floor-${name}`);
    mkdirSync(dir, { recursive: true });
    const entry = join(dir, 'floor.mjs');
    writeFileSync(entry, floorSource(await floor.steps(stack, -1)));
    const file = join(dir, 'index.mjs');
    await build({
      ...lambdaBuildOptions(entry, file, {}),
      absWorkingDir: root,
      nodePaths: [join(root, 'node_modules')],
      logLevel: 'error',
    });
    files[name] = file;
  }
  return files;
}
