import { clientFor, parseFlags, requestId } from './args.js';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './output.js';

/**
 * The AWS `credential_process` contract: stdout carries the credentials JSON and nothing else, ever;
 * any failure goes to stderr with a non-zero exit, which the AWS CLI/SDK then reports.
 */
export async function runCredentialProcess(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('credential-process', argv, { request: { type: 'string' } });
  const id = requestId('credential-process', flags.request);
  const credentials = await clientFor(flags, io).claimCredentials(id);
  io.out(`${JSON.stringify(credentials)}\n`);
  return EXIT.ok;
}
