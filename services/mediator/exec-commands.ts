import type { Command } from '../core/command-language/parse-command.js';
import { AirlockError } from '../core/errors.js';
import type { CallOptions } from '../core/rpc/executor-client.js';
import type { CommandContext, CommandIo } from './command-context.js';
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
  const { target } = command;
  const shell = command.kind === 'shell';
  const tty = shell || command.tty;
  if (tty && !io.permitPty)
    throw new AirlockError('SHELL_NOT_ALLOWED', 'this certificate does not permit a pty (permit-pty)');
  const argv = shell ? [] : command.argv;
  const container = target.container ?? '';
  await authorizeAndAudit(
    ctx,
    {
      action: shell ? 'shell' : 'exec',
      namespace: target.namespace,
      pod: target.pod,
      container,
      argv: shell ? undefined : argv,
      tty,
    },
    { namespace: target.namespace, pod: target.pod, resource: 'pods/exec', argv },
  );
  const size = sizeOf(io);
  const tracked = tty && io.terminal !== undefined;
  return await recorded(
    ctx,
    tracked ? size : null,
    { namespace: target.namespace, pod: target.pod, resource: 'pods/exec', argv },
    (recorder) =>
      pipeExec(
        ctx.client.exec(options),
        {
          start: {
            target: { namespace: target.namespace, pod: target.pod, container },
            argv,
            tty: tracked,
            size,
            shell,
          },
        },
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
  const { target } = command;
  const container = target.container ?? '';
  await authorizeAndAudit(
    ctx,
    { action: 'debug', namespace: target.namespace, pod: target.pod, image: command.image, container },
    { namespace: target.namespace, pod: target.pod, resource: 'pods/ephemeralcontainers' },
  );
  const tty = command.tty && io.terminal !== undefined;
  const size = sizeOf(io);
  return await recorded(
    ctx,
    tty ? size : null,
    {
      namespace: target.namespace,
      pod: target.pod,
      resource: 'pods/ephemeralcontainers',
      argv: command.argv,
    },
    (recorder) =>
      pipeExec(
        ctx.client.debug(options),
        {
          debug: {
            target: { namespace: target.namespace, pod: target.pod, container },
            image: command.image,
            argv: command.argv,
            tty,
            size,
          },
        },
        io,
        recorder,
      ),
  );
}
