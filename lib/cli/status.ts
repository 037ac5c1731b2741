import { clientFor, parseFlags, positiveSeconds, requestId } from './args.js';
import { EXIT, UsageError } from './exit-codes.js';
import { type CliIo, formatRequest } from './output.js';
import { reportOutcome } from './request.js';
import { waitForDecision } from './wait.js';

/**
 * Shows a request as it is now: exits 0 whatever the status, the command itself succeeded. With
 * `--wait` it resumes waiting on a request made earlier (after Ctrl-C, or a `--timeout` that ran
 * out) and exits as `request --wait` would: 0 approved, 10 denied, 11 timed out, 14 still pending.
 */
export async function runStatus(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('status', argv, {
    request: { type: 'string' },
    json: { type: 'boolean' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const id = requestId('status', flags.request);
  const timeoutSeconds = positiveSeconds('status', 'timeout', flags.timeout);
  if (timeoutSeconds !== undefined && !flags.wait)
    throw new UsageError('--timeout only applies with --wait', 'status');
  const client = clientFor(flags, io);
  const current = await client.getRequest(id);
  if (!flags.wait) {
    io.out(flags.json ? `${JSON.stringify(current, null, 2)}\n` : formatRequest(current));
    return EXIT.ok;
  }
  const { request, gaveUp } = await waitForDecision(
    client,
    current,
    io,
    timeoutSeconds === undefined ? {} : { timeoutSeconds },
  );
  io.out(flags.json ? `${JSON.stringify(request, null, 2)}\n` : formatRequest(request));
  return reportOutcome(request, io, gaveUp, timeoutSeconds);
}
