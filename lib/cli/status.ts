import { clientFor, parseFlags, requestId } from './args.js';
import { EXIT } from './exit-codes.js';
import { type CliIo, formatRequest } from './output.js';

/** Shows a request as it is now. Exits 0 whatever the status: the command itself succeeded. */
export async function runStatus(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('status', argv, { request: { type: 'string' }, json: { type: 'boolean' } });
  const id = requestId('status', flags.request);
  const request = await clientFor(flags, io).getRequest(id);
  io.out(flags.json ? `${JSON.stringify(request, null, 2)}\n` : formatRequest(request));
  return EXIT.ok;
}
