import { EXIT, UsageError } from '../lib/cli/exit-codes.js';
import { COMMAND_HELP, MAIN_HELP } from '../lib/cli/help.js';
import { type CliIo, describeFailure, processIo } from '../lib/cli/output.js';

/**
 * The countersign CLI (DESIGN.md §5). Each command parses its own flags with node:util parseArgs
 * (lib/cli/args.ts) and is loaded only when called, so `credential-process` — run by the AWS CLI
 * before every session — never loads the local stack or the other commands.
 */

type Command = (argv: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  request: async () => (await import('../lib/cli/request.js')).runRequest,
  'credential-process': async () => (await import('../lib/cli/credential-process.js')).runCredentialProcess,
  exec: async () => (await import('../lib/cli/exec.js')).runExec,
  status: async () => (await import('../lib/cli/status.js')).runStatus,
  revoke: async () => (await import('../lib/cli/revoke.js')).runRevoke,
  decide: async () => (await import('../lib/cli/decide.js')).runDecide,
  token: async () => (await import('../lib/cli/token.js')).runToken,
  'slack-click': async () => (await import('../lib/cli/slack-click.js')).runSlackClick,
  local: async () => runLocalCommand,
  mcp: async () => (await import('../lib/cli/mcp.js')).runMcp,
};

/**
 * `countersign local` hands its arguments, unparsed, to the local stack, which owns those flags
 * and its own --help.
 */
async function runLocalCommand(argv: string[]): Promise<number> {
  const { runLocal } = await import('../lib/local/run-local.js');
  await runLocal(argv);
  return EXIT.ok;
}

/** Runs one invocation and returns its exit code; never throws, never prints a stack trace. */
async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      if (name === undefined) {
        io.err(MAIN_HELP);
        return EXIT.usage;
      }
      const topic = name === 'help' ? rest[0] : undefined;
      io.out(topic && COMMAND_HELP[topic] ? COMMAND_HELP[topic] : MAIN_HELP);
      return EXIT.ok;
    }
    const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!load) throw new UsageError(`unknown command "${name}"`);
    if (name !== 'local' && wantsHelp(rest)) {
      io.out(COMMAND_HELP[name] ?? MAIN_HELP);
      return EXIT.ok;
    }
    return await (await load())(rest, io);
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    io.err(`countersign: ${message}\n`);
    return exitCode;
  }
}

/** `--help` anywhere before `--` (after it, the flag belongs to exec's command). */
function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

process.exitCode = await main(process.argv.slice(2));
