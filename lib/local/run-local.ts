import { parseArgs } from 'node:util';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { ConfigError } from '../../lambdas/core/errors.js';
import { DEFAULT_CONFIG_PATH } from './config-file.js';
import { startLocalStack } from './stack.js';

const USAGE = `Usage: countersign local [--port N] [--config FILE] [--in-memory] [--data-dir DIR]

Synthesizes the CDK app with the configuration (cached while sources and configuration are
unchanged) and runs that assembly on 127.0.0.1: each function's bundle in its own Node process with
the template's environment and its role's credentials, the API routes of the template, the
workflow's definition, the EventBridge rules, and one local AWS endpoint that verifies SigV4,
enforces IAM and records CloudTrail (with DynamoDB Local behind it), an OIDC issuer and a Slack sink.

  --port N         port of the API (default: PORT or 8787)
  --config FILE    configuration file (default: COUNTERSIGN_CONFIG or ${DEFAULT_CONFIG_PATH})
  --in-memory      keep data in memory (nothing survives a restart)
  --data-dir DIR   where data is kept (default: .countersign/data); one instance per directory
  -h, --help       this help`;

/** `countersign local` (what `npm start` runs): start, print where everything is, stop on a signal. */
export async function runLocal(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      config: { type: 'string' },
      'in-memory': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const portText = values.port ?? process.env.PORT ?? '8787';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535)
    throw new ConfigError('--port', `"${portText}" is not a port number`);
  process.stderr.write(
    'Starting Countersign locally: synthesizing the CDK app and running its assembly...\n',
  );

  // Signals that arrive while starting stop the start too; nothing is left running.
  let stopping: (() => void) | undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      process.once(signal, () => resolve(signal));
  });
  const stack = await Promise.race([
    startLocalStack({
      port,
      configPath: values.config ?? process.env.COUNTERSIGN_CONFIG ?? DEFAULT_CONFIG_PATH,
      inMemory: values['in-memory'],
      ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
      log: (line) => process.stdout.write(`${line}\n`),
    }),
    signalled.then((signal) => {
      throw new Error(`interrupted by ${signal} while starting`);
    }),
  ]);
  const u = stack.url;
  process.stdout.write(
    [
      `Countersign is ready at ${u} (started in ${stack.startSeconds.toFixed(1)} s; assembly ${stack.assembly.cached ? 'from cache' : `synthesized in ${stack.assembly.synthSeconds.toFixed(1)} s`})`,
      `  Local AWS endpoint (AWS_ENDPOINT_URL): ${stack.endpoints.aws}   Slack sink: ${u}/local/slack/messages`,
      ...tryIt(u, stack.config),
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    stopping = resolve;
    void signalled.then(() => {
      process.stderr.write('Stopping Countersign...\n');
      stack.stop().then(resolve, resolve);
    });
  });
  void stopping;
}

/** A copy-paste example that the configuration actually allows: a read on the first target's account. */
function tryIt(url: string, config: CountersignConfig): string[] {
  const account = config.targets[0]!.account;
  const region = config.local?.region ?? 'us-east-1';
  const table = config.local?.demoTables?.[0] ?? 'orders';
  const resource = `arn:aws:dynamodb:${region}:${account}:table/${table}`;
  return [
    `  Try:  TOKEN=$(curl -s -X POST ${url}/local/token -H 'content-type: application/json' -d '{"sub":"deploy-bot","groups":["${config.roles.agents[0]}"]}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')`,
    `        curl -s -X POST ${url}/v1/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"resource":"${resource}","actions":["dynamodb:GetItem"],"reason":"Look up order 8812"}'`,
  ];
}
