// The stand-in for Lambda's Node.js runtime in the benchmarks. Plain JavaScript on purpose: it runs
// under bare `node`, without the TypeScript loader the rest of bench/ uses, so a bundle loads and
// runs exactly as it would on Lambda.
//
//   node bench/lambda-runtime.mjs once <bundle.mjs>
//     Cold start: load the bundle, hand it the event in BENCH_EVENT, print one BENCH_RESULT line
//     (times from process start, and the CPU time the process used), exit.
//
//   node bench/lambda-runtime.mjs serve <name>=<bundle.mjs> ...
//     Warm: load each bundle, then on 127.0.0.1 answer
//       POST /invoke/<name>  body = the event       → {ms, result}  (the handler's own duration)
//       POST /floor          body = {steps: [...]}   → {ms: {group: ms}}
//     where a floor step is one raw AWS SDK call ({client, command, input, group}) or a Slack Web
//     API call ({slack: method, body, group}), issued in order (an array of steps: at once).
//     Prints `BENCH_READY <port>`.
//
// Lambda reaches slack.com; here BENCH_SLACK_API (the local Slack sink) answers instead.
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const started = performance.now();
const SLACK = 'https://slack.com/api';
const sink = process.env.BENCH_SLACK_API;
if (sink) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return realFetch(url.startsWith(`${SLACK}/`) ? sink + url.slice(SLACK.length) : input, init);
  };
}

const [mode, ...args] = process.argv.slice(2);

if (mode === 'once') {
  const module = await import(pathToFileURL(args[0]).href);
  const loaded = performance.now();
  let status;
  let error;
  try {
    const result = await module.handler(JSON.parse(process.env.BENCH_EVENT ?? '{}'), {});
    status = result && typeof result === 'object' && 'statusCode' in result ? result.statusCode : 'ok';
  } catch (e) {
    error = `${e?.name}: ${e?.message}`;
  }
  const done = performance.now();
  const cpu = process.cpuUsage();
  const result = {
    started,
    cpuMs: (cpu.user + cpu.system) / 1000,
    initMs: loaded - started,
    firstEventMs: done - loaded,
    totalMs: done,
    status,
    error,
  };
  process.stdout.write(`\nBENCH_RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
} else if (mode === 'serve') {
  const handlers = {};
  for (const arg of args) {
    const at = arg.indexOf('=');
    handlers[arg.slice(0, at)] = (await import(pathToFileURL(arg.slice(at + 1)).href)).handler;
  }
  const ddb = await import('@aws-sdk/client-dynamodb');
  const sfn = await import('@aws-sdk/client-sfn');
  // The same client options the handlers use (lambdas/adapters/settings.ts clientOptions): region and
  // 3 attempts; endpoints and credentials come from the environment, as theirs do.
  const options = { region: process.env.AWS_REGION, maxAttempts: 3 };
  const clients = {
    dynamodb: [new ddb.DynamoDBClient(options), ddb],
    sfn: [new sfn.SFNClient(options), sfn],
  };

  async function step(s) {
    if (s.slack) {
      const response = await fetch(`${SLACK}/${s.slack}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${s.token}` },
        body: JSON.stringify(s.body),
      });
      const json = await response.json();
      if (json.ok !== true) throw new Error(`slack ${s.slack}: ${JSON.stringify(json)}`);
      return;
    }
    const [client, module] = clients[s.client];
    await client.send(new module[`${s.command}Command`](s.input));
  }

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      const reply = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      try {
        if (req.url?.startsWith('/invoke/')) {
          const handler = handlers[req.url.slice('/invoke/'.length)];
          if (!handler) return reply(404, { error: `no handler ${req.url}` });
          const t = performance.now();
          const result = await handler(body, {});
          return reply(200, { ms: performance.now() - t, result });
        }
        if (req.url === '/floor') {
          const ms = {};
          for (const s of body.steps) {
            const t = performance.now();
            // An array of steps is issued at once and timed as one.
            const group = Array.isArray(s) ? s[0].group : s.group;
            await (Array.isArray(s) ? Promise.all(s.map(step)) : step(s));
            ms[group] = (ms[group] ?? 0) + performance.now() - t;
          }
          return reply(200, { ms });
        }
        reply(404, { error: 'unknown path' });
      } catch (e) {
        reply(500, { error: `${e?.name}: ${e?.message}` });
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`\nBENCH_READY ${server.address().port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  process.stderr.write('usage: lambda-runtime.mjs once <bundle> | serve <name>=<bundle> ...\n');
  process.exit(2);
}
