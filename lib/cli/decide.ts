import { clientFor, parseFlags, requestId } from './args.js';
import { EXIT, UsageError } from './exit-codes.js';
import { type CliIo, formatRequest } from './output.js';

/** An approver's decision through the API (channel `api`), for those who do not use Slack. */
export async function runDecide(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('decide', argv, {
    request: { type: 'string' },
    approve: { type: 'boolean' },
    deny: { type: 'boolean' },
    comment: { type: 'string' },
    json: { type: 'boolean' },
  });
  const id = requestId('decide', flags.request);
  if (flags.approve === flags.deny) throw new UsageError('give exactly one of --approve or --deny', 'decide');
  const request = await clientFor(flags, io).decide(id, flags.approve ? 'approve' : 'deny', flags.comment);
  io.out(flags.json ? `${JSON.stringify(request, null, 2)}\n` : formatRequest(request));
  return EXIT.ok;
}
