import { clientFor, parseFlags, required } from './args.js';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './output.js';

/**
 * Local mode only: asks the embedded issuer for a token (POST /local/token) and prints it alone, so
 * `export COUNTERSIGN_TOKEN=$(countersign token --sub deploy-bot --group agents)` works.
 */
export async function runToken(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('token', argv, {
    sub: { type: 'string' },
    group: { type: 'string', multiple: true },
  });
  const sub = required('token', 'sub', flags.sub);
  const token = await clientFor(flags, io, { auth: false }).localToken(
    sub,
    required('token', 'group', flags.group),
  );
  io.out(`${token}\n`);
  return EXIT.ok;
}
