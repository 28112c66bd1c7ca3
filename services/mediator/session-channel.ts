import type { Writable } from 'node:stream';
import type { ServerChannel, Session } from 'ssh2';
import { AirlockError } from '../core/errors.js';
import type { CommandIo } from './command-context.js';
import { type ConnectionState, type FrontendContext, fail } from './frontend-context.js';
import { runInteractive } from './interactive.js';
import { runOneShot } from './one-shot.js';
import { createOnlcr, type Onlcr } from './terminal-newlines.js';

/** Environment variables a client may set; everything else is refused. */
const ALLOWED_ENV = new Set(['TERM', 'LANG']);

type Terminal = { width: number; height: number };
type ResizeListener = (width: number, height: number) => void;

/**
 * `stream` whose writes are also published to the connection's live session
 * (moderated sessions: what moderators watch), looked up at each write since
 * the session may register after the channel opened. On a pty, bare LFs
 * become CR LF first (`terminal-newlines.ts`).
 *
 * Backpressure is the stream's own plus the live session's: `write` answers
 * false while a moderator is behind too, and a `'drain'` listener (what
 * `forwardChunk` puts on to resume the executor stream) runs once the stream
 * has drained, if it had to, and no moderator holds the output any more. The
 * fan-out bounds that hold (output-fanout.ts).
 */
export function watched<T extends Writable>(stream: T, state: ConnectionState, onlcr?: Onlcr): T {
  const once = (event: string | symbol, listener: (...args: unknown[]) => void) => {
    if (event !== 'drain') return stream.once(event, listener);
    const live = state.live;
    const afterOwn = () => (live ? live.whenReady(() => listener()) : listener());
    if (stream.writableNeedDrain) stream.once('drain', afterOwn);
    else afterOwn();
    return stream;
  };
  return new Proxy(stream, {
    get(target, property) {
      if (property === 'write') {
        return (written: Buffer | string, ...rest: unknown[]) => {
          // Ended by expiry, shutdown or a moderator's terminate: a late error line has nowhere to go.
          if (target.writableEnded || target.destroyed) return false;
          const chunk = onlcr ? onlcr(written) : written;
          const free = state.live?.publish(chunk) ?? true;
          return (target.write as (...args: unknown[]) => boolean)(chunk, ...rest) && free;
        };
      }
      if (property === 'once') return once;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The channel as the command language sees it. */
function channelIo(
  channel: ServerChannel,
  state: ConnectionState,
  terminal: Terminal | undefined,
  resizeListeners: ResizeListener[],
): CommandIo {
  return {
    stdin: channel,
    stdout: watched(channel, state, terminal ? createOnlcr() : undefined),
    stderr: watched(channel.stderr, state, terminal ? createOnlcr() : undefined),
    permitPty: state.identity?.extensions['permit-pty'] !== undefined,
    ...(terminal
      ? {
          terminal: {
            ...terminal,
            onResize: (listener: ResizeListener) => resizeListeners.push(listener),
          },
        }
      : {}),
  };
}

/** A pty was asked for without permit-pty: the reason on stderr, exit 77, audited. */
function refusePty(ctx: FrontendContext, channel: ServerChannel, state: ConnectionState): void {
  const error = new AirlockError(
    'SHELL_NOT_ALLOWED',
    'this certificate does not permit a pty (permit-pty); run one command without -t: ssh GATEWAY pods',
  );
  void ctx.audit({
    event: 'intent.denied',
    actor: { user: state.identity?.principal, address: state.address },
    target: { resource: 'pty' },
    decision: 'deny',
    code: error.code,
    reason: error.message,
  });
  fail(channel, error, 'text');
  channel.resume();
}

/**
 * Stage 4, the session channel (RFC 4254 §6): a pty only with permit-pty,
 * `TERM`/`LANG` as the only environment, no agent, X11 or subsystem; then an
 * exec request runs one command (`one-shot.ts`) and a shell request an
 * interactive session (`interactive.ts`). A certificate's force-command
 * replaces whatever the client asked to run.
 */
export function handleSessionChannel(ctx: FrontendContext, session: Session, state: ConnectionState): void {
  let terminal: Terminal | undefined;
  let ptyRefused = false;
  const resizeListeners: ResizeListener[] = [];
  session.on('pty', (accept, _reject, info) => {
    // Without permit-pty the request is answered with success but no
    // terminal, and the command that follows is refused with the reason: a
    // refused pty-req would make OpenSSH (-t) close the channel with only
    // "PTY allocation request failed" and no word from airlock.
    if (state.identity?.extensions['permit-pty'] === undefined) ptyRefused = true;
    else terminal = { width: info.cols, height: info.rows };
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    if (terminal) {
      terminal.width = info.cols;
      terminal.height = info.rows;
      for (const listener of resizeListeners) listener(info.cols, info.rows);
    }
    accept?.();
  });
  session.on('env', (accept, reject, info) => (ALLOWED_ENV.has(info.key) ? accept?.() : reject?.()));
  session.on('auth-agent', (_accept, reject) => reject?.());
  session.on('x11', (_accept, reject) => reject?.());
  session.on('subsystem', (_accept, reject) => reject?.());
  session.on('signal', (accept) => accept?.());

  const start = (accept: () => ServerChannel, line: string | undefined) => {
    const channel = accept();
    if (ptyRefused) return refusePty(ctx, channel, state);
    state.channels.add(channel);
    // ssh2 emits a server channel's 'close' only once its input has emitted
    // 'end', i.e. once something read stdin to EOF. Most commands never read
    // it (pods, logs, a denied exec), so 'close' alone would keep every such
    // channel, and all it references, until the connection closes: with
    // ControlMaster that is every command of a long-lived session.
    const forget = () => state.channels.delete(channel);
    channel.on('close', forget);
    const io = channelIo(channel, state, terminal, resizeListeners);
    const command = state.identity?.forceCommand ?? line;
    const ran =
      command !== undefined
        ? runOneShot(ctx, channel, command, io, state)
        : runInteractive(ctx, channel, io, state);
    void ran.finally(() => {
      // The exit status is sent: nothing more to tell this channel at expiry
      // or shutdown. Drain what stdin is left so ssh2 can end the channel.
      forget();
      channel.resume();
    });
  };
  session.on('exec', (accept, _reject, info) => start(accept, info.command));
  session.on('shell', (accept) => start(accept, undefined));
}
