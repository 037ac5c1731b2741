import { clientFor, parseFlags, requestId } from './args.js';
import { EXIT } from './exit-codes.js';
import { type CliIo, formatRequest } from './output.js';

/** Gives access back (requester) or takes it away (approver, auditor); sessions already minted stop working. */
export async function runRevoke(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('revoke', argv, { request: { type: 'string' }, json: { type: 'boolean' } });
  const id = requestId('revoke', flags.request);
  const request = await clientFor(flags, io).revoke(id);
  io.out(flags.json ? `${JSON.stringify(request, null, 2)}\n` : formatRequest(request));
  return EXIT.ok;
}
