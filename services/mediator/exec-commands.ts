import type { Command } from '../core/command-language/parse-command.js';
import { AirlockError } from '../core/errors.js';
import type { CallOptions } from '../core/rpc/executor-client.js';
import { type CommandContext, type CommandIo, podAuditTarget, wireTarget } from './command-context.js';
import { pipeExec, recorded } from './exec-stream.js';
import { authorizeAndAudit } from './intent-audit.js';

/** The terminal size of the channel, or null without a pty. */
function sizeOf(io: CommandIo): { width: number; height: number } | null {
  return io.terminal ? { width: io.terminal.width, height: io.terminal.height } : null;
}

/**
 * `exec POD -- ARGV` and `shell POD`: authorized and audited, then one
 * executor Exec stream piped to the channel (recorded when it has a tty).
 * Returns the remote command's exit status.
 */
export async function runExec(
  command: Extract<Command, { kind: 'exec' | 'shell' }>,
  io: CommandIo,
  ctx: CommandContext,
  options: CallOptions,
): Promise<number> {
  const shell = command.kind === 'shell';
  const tty = shell || command.tty;
  if (tty && !io.permitPty)
    throw new AirlockError('SHELL_NOT_ALLOWED', 'this certificate does not permit a pty (permit-pty)');
  const argv = shell ? [] : command.argv;
  const pod = wireTarget(command.target);
  const audited = podAuditTarget(command.target, 'pods/exec', argv);
  const action = shell ? 'shell' : 'exec';
  await authorizeAndAudit(ctx, { action, ...pod, argv: shell ? undefined : argv, tty }, audited);
  const size = sizeOf(io);
  const tracked = tty && io.terminal !== undefined;
  return await recorded(ctx, tracked ? size : null, audited, (recorder) =>
    pipeExec(
      ctx.client.exec(options),
      { start: { target: pod, argv, tty: tracked, size, shell } },
      io,
      recorder,
    ),
  );
}

/** `debug POD --image IMAGE`: an ephemeral container, then the same stream as exec. */
export async function runDebug(
  command: Extract<Command, { kind: 'debug' }>,
  io: CommandIo,
  ctx: CommandContext,
  options: CallOptions,
): Promise<number> {
  const pod = wireTarget(command.target);
  await authorizeAndAudit(
    ctx,
    { action: 'debug', ...pod, image: command.image },
    podAuditTarget(command.target, 'pods/ephemeralcontainers'),
  );
  const tty = command.tty && io.terminal !== undefined;
  const size = sizeOf(io);
  const { image, argv } = command;
  return await recorded(
    ctx,
    tty ? size : null,
    podAuditTarget(command.target, 'pods/ephemeralcontainers', argv),
    (recorder) =>
      pipeExec(ctx.client.debug(options), { debug: { target: pod, image, argv, tty, size } }, io, recorder),
  );
}
