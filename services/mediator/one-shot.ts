import type { ServerChannel } from 'ssh2';
import { parseCommand, requestedOutputFormat } from '../core/command-language/parse-command.js';
import { splitCommandLine } from '../core/command-language/split-command-line.js';
import type { CommandIo } from './command-context.js';
import { runCommand } from './command-runner.js';
import { commandContext } from './executor-session.js';
import { type ConnectionState, type FrontendContext, fail, finish } from './frontend-context.js';
import { JOIN_COMMANDS, runJoinCommand } from './live/join-commands.js';

/**
 * Stage 4a, `ssh gw <command>` (an exec request, or the certificate's
 * force-command): one command line parsed, run, its exit status sent, done.
 * Errors before the command runs (a bad line, no executor session) are
 * printed in the output format the line asked for.
 */
export async function runOneShot(
  ctx: FrontendContext,
  channel: ServerChannel,
  line: string,
  io: CommandIo,
  state: ConnectionState,
): Promise<void> {
  let output: 'text' | 'json' = 'text';
  const started = performance.now();
  let kind = 'unparsed';
  try {
    const argv = splitCommandLine(line);
    if ((JOIN_COMMANDS as readonly string[]).includes(argv[0] ?? '')) {
      kind = argv[0]!;
      return await runJoinCommand(ctx, channel, argv, state);
    }
    output = requestedOutputFormat(argv);
    const opened = await state.opened!;
    const command = parseCommand(argv, { namespace: opened.session.scope.namespace });
    output = command.output;
    kind = command.kind;
    const code = await runCommand(command, io, commandContext(ctx, opened, state));
    finish(channel, code);
  } catch (error) {
    fail(channel, error, output);
  } finally {
    ctx.metrics.commandSeconds.observe((performance.now() - started) / 1000, { command: kind });
  }
}
