import { Command, CommanderError } from 'commander';
import { AirlockError } from '../core/errors.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBrokerClientCommands } from './commands/broker-client.js';
import { registerCaCommands } from './commands/ca.js';
import { registerDevCommands } from './commands/dev.js';
import { registerKubeCredentialCommands } from './commands/kube-credentials.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerSshCertCommands } from './commands/ssh-cert.js';

/** Exit statuses shared by every subcommand. */
export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export function buildProgram(): Command {
  const program = new Command('airlock')
    .description(
      'Just-in-time, scoped, audited access to Kubernetes for production debugging.\n' +
        'Run `airlock <command> --help` for the options of each command.',
    )
    .showHelpAfterError()
    .exitOverride();
  registerDevCommands(program);
  registerSshCertCommands(program);
  registerCaCommands(program);
  registerPolicyCommands(program);
  registerAuditCommands(program);
  registerBrokerClientCommands(program);
  registerKubeCredentialCommands(program);
  return program;
}

/**
 * A reader that goes away (`airlock status | head`) is not an error: writes
 * to a closed pipe fail with EPIPE, which Node reports as an 'error' event
 * and, unhandled, as a stack trace. Other Unix tools end quietly there (by
 * SIGPIPE, which Node ignores). From then on the stream's output is
 * discarded and the command finishes as it would have, so a long-running
 * command (`dev up | head -1`) still stops what it started when it ends.
 * Any other write error is left to crash as before.
 */
export function ignoreBrokenPipes(
  streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr],
): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
        stream.destroy();
        return;
      }
      throw error;
    });
  }
}

/**
 * Runs the CLI and returns the process exit status. Errors carrying an
 * airlock code are printed as `airlock: CODE: reason` on stderr; usage
 * errors exit 2.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof AirlockError) {
      process.stderr.write(`airlock: ${error.code}: ${error.message}\n`);
      if (error.detail) process.stderr.write(`${error.detail}\n`);
      return error.code === 'USAGE' ? EXIT.usage : EXIT.refused;
    }
    process.stderr.write(`airlock: INTERNAL: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.refused;
  }
}
