import { createInterface, type Interface } from 'node:readline';
import type { ServerChannel } from 'ssh2';
import { parseCommand } from '../core/command-language/parse-command.js';
import { splitCommandLine } from '../core/command-language/split-command-line.js';
import { AirlockError } from '../core/errors.js';
import type { CommandContext, CommandIo } from './command-context.js';
import { completeCommandLine, type PromptCompletion } from './command-language/complete-command-line.js';
import { EXIT_CODES, formatError } from './command-language/exit-codes.js';
import { formatTimeLeft } from './command-language/format-output.js';
import { runCommand } from './command-runner.js';
import { commandContext } from './executor-session.js';
import {
  type ConnectionState,
  type FrontendContext,
  fail,
  finish,
  type OpenedSession,
  verifiedScope,
} from './frontend-context.js';
import { type LineQueue, lineQueue } from './line-queue.js';
import { JOIN_COMMANDS, joinableSessionIds, runJoinAtPrompt } from './live/join-commands.js';

/** Pod names for tab completion; a scope that may not list pods just gets none. */
async function podNamesFor(opened: OpenedSession): Promise<string[]> {
  return opened.client
    .list({ kind: 'pods', namespace: opened.session.scope.namespace }, { traceparent: opened.traceparent })
    .then((list) =>
      ((JSON.parse(list.json) as { items?: { metadata?: { name?: string } }[] }).items ?? []).flatMap(
        (p) => p.metadata?.name ?? [],
      ),
    )
    .catch(() => [] as string[]);
}

/**
 * Whether the client's input has ended: typed-ahead lines are still
 * delivered after that (piped stdin in line mode), but a closed readline
 * throws on prompt()/resume().
 */
function isClosed(readline: Interface): boolean {
  return (readline as Interface & { closed?: boolean }).closed === true;
}

/** What a line at the prompt runs against. */
interface Prompt {
  readonly ctx: FrontendContext;
  readonly state: ConnectionState;
  readonly readline: Interface;
  readonly lines: LineQueue;
  readonly io: CommandIo;
  readonly context: CommandContext;
  readonly channel: ServerChannel;
  /** What Tab offers beyond the command language; `joined` while a `join` from this prompt lasts. */
  completion: { -readonly [K in keyof PromptCompletion]: PromptCompletion[K] };
}

/** Runs one line typed at the prompt; false when it was `exit` (or a join ended the connection). */
async function runLine(prompt: Prompt, line: string): Promise<boolean> {
  const { readline, io, context, channel } = prompt;
  try {
    const argv = splitCommandLine(line);
    // `sessions` / `join ID` read the prompt's own lines while joined (live/join-commands.ts).
    if ((JOIN_COMMANDS as readonly string[]).includes(argv[0] ?? '')) {
      const role = verifiedScope(prompt.state).moderator?.role === 'observer' ? 'observer' : 'moderator';
      if (argv[0] === 'join') prompt.completion.joined = role;
      try {
        return !(await runJoinAtPrompt(prompt.ctx, channel, argv, prompt.state, prompt.lines));
      } finally {
        delete prompt.completion.joined;
      }
    }
    const command = parseCommand(argv, { namespace: context.session.scope.namespace });
    if (command.kind === 'exit') return false;
    readline.pause();
    await runCommand(command, { ...io, stdin: channel }, context);
    if (!isClosed(readline)) readline.resume();
  } catch (error) {
    const airlock = error instanceof AirlockError ? error : new AirlockError('INTERNAL', 'internal error');
    // Line mode (no pty): the error goes where the prompt goes. OpenSSH
    // writes a channel's data and extended data to its stdout and stderr
    // from separate buffers, stdout first, so an error on stderr could show
    // after the next prompt; one stream keeps them in order.
    // On a pty, io.stderr ends its lines with CR LF (terminal-newlines.ts).
    (io.terminal === undefined ? channel : io.stderr).write(formatError(airlock, 'text'));
  }
  return true;
}

/**
 * Stage 4b, an interactive session (`ssh gw` with no command): a prompt
 * showing the time left, line editing, history and tab completion of pod
 * names; each line runs as a command. Warned before expiry while it runs.
 */
export async function runInteractive(
  ctx: FrontendContext,
  channel: ServerChannel,
  io: CommandIo,
  state: ConnectionState,
): Promise<void> {
  let opened: OpenedSession;
  try {
    opened = await state.opened!;
  } catch (error) {
    return fail(channel, error);
  }
  state.interactive.add(channel);
  const context = commandContext(ctx, opened, state);
  // A moderated session's reads wait for a moderator like every intent: no completion listing at start.
  const podNames = opened.session.scope.moderation ? [] : await podNamesFor(opened);
  const { session } = opened;
  const { scope } = session;
  const completion: Prompt['completion'] = verifiedScope(state).moderator
    ? { sessionIds: () => joinableSessionIds(ctx, state) }
    : {};
  const prompt = () =>
    `airlock ${session.user}@${scope.namespace} (${formatTimeLeft(session.expiresAtMs, ctx.deps.clock().getTime())} left)> `;
  const readline = createInterface({
    input: channel,
    output: channel,
    terminal: io.terminal !== undefined,
    historySize: 200,
    completer: (line: string): [string[], string] => [
      completeCommandLine(line, line.length, podNames, completion),
      line.slice(line.lastIndexOf(' ') + 1),
    ],
  });
  channel.write(
    `airlock: ${session.user} in ${scope.cluster}/${scope.namespace} (profile ${scope.profile}). Type help.\r\n`,
  );
  readline.setPrompt(prompt());
  readline.prompt();
  const lines = lineQueue(readline);
  const at: Prompt = { ctx, state, readline, lines, io, context, channel, completion };
  let ended = false;
  for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
    const trimmed = line.trim();
    if (trimmed !== '' && !(await runLine(at, trimmed))) {
      ended = true;
      break;
    }
    if (isClosed(readline)) continue;
    readline.setPrompt(prompt());
    readline.prompt();
  }
  readline.close();
  state.interactive.delete(channel);
  // A join that ended with the joiner's certificate has already sent its exit status.
  if (!ended || !channel.writableEnded) finish(channel, EXIT_CODES.OK);
}
