/**
 * The moderator's side of four-eyes sessions: `ssh gw sessions` lists the
 * live sessions the caller's moderator certificate covers, and
 * `ssh -t gw join SESSION_ID` attaches to one read-only: a short replay,
 * the live output, a status line per decision, and a question per intent in
 * approve-each-command mode. Typed lines: `y` / `n` answer the question,
 * `terminate [REASON]` ends the owner's session, `leave` (or EOF) detaches.
 *
 * Neither command needs the executor: the moderator certificate acts on no
 * pod (authorizeIntent refuses it with MODERATOR_ONLY), and the caller is
 * checked against the certificate the mediator verified at login.
 */
import { createInterface } from 'node:readline';
import type { ServerChannel } from 'ssh2';
import { sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import { AirlockError } from '../../core/errors.js';
import type { Scope } from '../../core/policy/index.js';
import { parseCertificate } from '../../core/ssh-cert/index.js';
import { EXIT_CODES } from '../command-language/exit-codes.js';
import {
  type ConnectionState,
  type FrontendContext,
  fail,
  finish,
  verifiedScope,
} from '../frontend-context.js';
import type { LiveSession } from './live-session.js';

/** The command words handled here, before the command language. */
export const JOIN_COMMANDS = ['sessions', 'join'] as const;

/**
 * Live sessions this moderator certificate may join (never the caller's
 * own). A moderator's groups must be among the session's required groups; an
 * observer's role was granted for the profile by the broker, whose observer
 * groups the owner's certificate does not carry.
 */
function joinable(ctx: FrontendContext, scope: Scope, user: string): LiveSession[] {
  const groups = scope.moderator?.groups ?? [];
  const observer = scope.moderator?.role === 'observer';
  return [...ctx.live.values()].filter(
    (live) =>
      live.scope.profile === scope.profile &&
      live.scope.cluster === scope.cluster &&
      live.scope.namespace === scope.namespace &&
      live.owner !== user &&
      (observer || live.moderation.requiredGroups.some((g) => groups.includes(g))),
  );
}

function moderatorScope(state: ConnectionState): Scope {
  const scope = verifiedScope(state);
  if (!scope.moderator)
    throw new AirlockError(
      'SESSION_JOIN_REFUSED',
      'this certificate carries no moderator role (airlock request --moderate)',
    );
  return scope;
}

function listSessions(ctx: FrontendContext, channel: ServerChannel, state: ConnectionState): void {
  const scope = moderatorScope(state);
  const rows = joinable(ctx, scope, state.identity!.principal).map((live) =>
    [
      live.id,
      live.owner,
      live.scope.profile,
      live.scope.namespace,
      live.moderation.mode,
      live.moderators().join(',') || '-',
    ].map(sanitizeForTerminal),
  );
  const header = ['SESSION', 'OWNER', 'PROFILE', 'NAMESPACE', 'MODE', 'MODERATORS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows])
    channel.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\r\n`,
    );
  finish(channel, EXIT_CODES.OK);
}

/** What a joiner may type. */
function joinHelp(observer: boolean): string {
  return observer ? 'leave' : 'y | n | terminate [REASON] | leave';
}

/** One typed line; false once the joiner leaves. A refusal (OBSERVER_READ_ONLY) is shown, not fatal. */
async function moderateLine(
  live: LiveSession,
  id: string,
  channel: ServerChannel,
  raw: string,
  observer: boolean,
) {
  const line = raw.trim();
  const [word, ...rest] = line.split(/\s+/);
  try {
    if (word === 'y' || word === 'yes' || word === 'n' || word === 'no') {
      if (!live.answer(id, word.startsWith('y'))) channel.write('[airlock] nothing to approve\r\n');
    } else if (word === 'terminate') {
      await live.terminate(id, rest.join(' ').slice(0, 200));
    } else if (word === 'leave' || word === 'exit' || word === 'quit') {
      return false;
    } else if (line !== '') {
      channel.write(`[airlock] ${joinHelp(observer)}\r\n`);
    }
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    channel.write(`[airlock] ${error.code}: ${sanitizeForTerminal(error.message)}\r\n`);
  }
  return true;
}

/** Reads the joiner's lines until they leave, are dropped or the session ends. */
async function moderate(
  live: LiveSession,
  id: string,
  channel: ServerChannel,
  observer: boolean,
): Promise<void> {
  const lines = createInterface({ input: channel, crlfDelay: Number.POSITIVE_INFINITY });
  channel.once('close', () => lines.close());
  for await (const raw of lines) if (!(await moderateLine(live, id, channel, raw, observer))) break;
  lines.close();
}

/**
 * The last line a joiner sees (dropped, ended, expired, revoked), written
 * after the output already queued for them, on the same stream. Not on
 * stderr: ssh2 discards an extended-data write made while the channel's
 * window is closed (`ServerStderr._write` keeps no byte that does not fit),
 * which is exactly the case of a watcher dropped for not reading, and stderr
 * is not ordered with the queued output anyway. The joiner's terminal shows
 * both streams alike.
 */
function tellJoiner(channel: ServerChannel, message: string): void {
  if (!channel.destroyed && !channel.writableEnded) channel.write(message);
}

async function join(
  ctx: FrontendContext,
  channel: ServerChannel,
  sessionId: string | undefined,
  state: ConnectionState,
): Promise<void> {
  const scope = moderatorScope(state);
  const identity = state.identity!;
  // Unknown, out of scope and not permitted read the same, so ids cannot be probed.
  const live = joinable(ctx, scope, identity.principal).find((l) => l.id === sessionId);
  if (!live) {
    const own = [...ctx.live.values()].some((l) => l.id === sessionId && l.owner === identity.principal);
    throw new AirlockError(
      'SESSION_JOIN_REFUSED',
      own
        ? 'you cannot moderate your own session'
        : `no live session ${JSON.stringify(sessionId ?? '')} you may join`,
    );
  }
  let closedWith: string | undefined;
  const observer = scope.moderator?.role === 'observer';
  const id = await live.join(
    {
      user: identity.principal,
      groups: scope.moderator?.groups ?? [],
      address: state.address,
      requestId: identity.scope.requestId,
      sessionId: state.id,
      ...(observer ? { observer } : {}),
    },
    {
      write: (chunk, done) => {
        if (channel.destroyed || channel.writableEnded) {
          // Nothing is queued for a channel that is going: the fan-out must not wait for it.
          done?.();
          return false;
        }
        return done ? channel.write(chunk, done) : channel.write(chunk);
      },
      close: (message) => {
        closedWith = message;
        tellJoiner(channel, message);
        finish(channel, message.includes('OBSERVER_DROPPED') ? EXIT_CODES.UNAVAILABLE : EXIT_CODES.OK);
      },
    },
  );
  const stopWatch = watchModeratorCertificate(ctx, state, (message) => {
    closedWith = message;
    live.leave(id);
    tellJoiner(channel, message);
    finish(
      channel,
      message.includes('SESSION_EXPIRED') ? EXIT_CODES.SESSION_EXPIRED : EXIT_CODES.AUTHENTICATION,
    );
  });
  const as = observer ? 'observer, read-only' : live.moderation.mode;
  channel.write(`[airlock] joined ${live.owner}'s session ${live.id} (${as}); ${joinHelp(observer)}\r\n`);
  try {
    await moderate(live, id, channel, observer);
  } finally {
    stopWatch();
    if (closedWith === undefined) {
      live.leave(id);
      finish(channel, EXIT_CODES.OK);
    }
  }
}

/**
 * A joined moderator uses no executor stream, so neither the executor's
 * revocation sweep nor its expiry cuts reach them: the join checks its own
 * certificate once a second and ends at its expiry (SESSION_EXPIRED) or
 * revocation (CERT_REVOKED). Returns the function that stops the check.
 */
function watchModeratorCertificate(
  ctx: FrontendContext,
  state: ConnectionState,
  end: (message: string) => void,
): () => void {
  const certificate = parseCertificate(state.certificate!);
  const validBefore = state.identity!.validBefore;
  const timer = setInterval(() => {
    const now = BigInt(Math.floor(ctx.deps.clock().getTime() / 1000));
    let message: string | undefined;
    if (now >= validBefore) message = 'airlock: SESSION_EXPIRED: your moderator certificate expired\r\n';
    else if (ctx.deps.revocation().some((list) => list.revocationReason(certificate) !== undefined))
      message = 'airlock: CERT_REVOKED: your moderator certificate has been revoked\r\n';
    if (message === undefined) return;
    clearInterval(timer);
    end(message);
  }, 1000);
  return () => clearInterval(timer);
}

/**
 * Runs `sessions` or `join ID` on this channel. The caller has matched the
 * command word against {@link JOIN_COMMANDS}.
 */
export async function runJoinCommand(
  ctx: FrontendContext,
  channel: ServerChannel,
  argv: readonly string[],
  state: ConnectionState,
): Promise<void> {
  try {
    if (argv[0] === 'sessions') return listSessions(ctx, channel, state);
    if (argv.length !== 2) throw new AirlockError('USAGE', 'usage: join SESSION_ID');
    await join(ctx, channel, argv[1], state);
  } catch (error) {
    fail(channel, error);
  }
}
