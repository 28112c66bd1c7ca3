/**
 * The moderator's side of four-eyes sessions: `ssh gw sessions` lists the
 * live sessions the caller's moderator certificate covers, and
 * `ssh -t gw join SESSION_ID` (or `join SESSION_ID` at the interactive
 * prompt, `runJoinAtPrompt`) attaches to one read-only: a short replay,
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
import { EXIT_CODES, type ExitCode } from '../command-language/exit-codes.js';
import {
  type ConnectionState,
  type FrontendContext,
  fail,
  finish,
  verifiedScope,
} from '../frontend-context.js';
import { type LineQueue, lineQueue } from '../line-queue.js';
import type { LiveSession, ModeratorChannel } from './live-session.js';
import { formatSessionsTable } from './sessions-table.js';

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

/** The ids of the live sessions `sessions` would list to this connection (Tab after `join`). */
export function joinableSessionIds(ctx: FrontendContext, state: ConnectionState): string[] {
  const scope = verifiedScope(state);
  return scope.moderator ? joinable(ctx, scope, state.identity!.principal).map((live) => live.id) : [];
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
  const rows = joinable(ctx, scope, state.identity!.principal).map((live) => ({
    id: live.id,
    owner: live.owner,
    profile: live.scope.profile,
    namespace: live.scope.namespace,
    mode: live.moderation.mode,
    watchers: live.watchers(),
  }));
  channel.write(formatSessionsTable(rows));
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

/** How a join ended: the exit status, and whether the joiner's whole connection must end. */
interface JoinOutcome {
  readonly code: ExitCode;
  /** The joiner's certificate expired or was revoked: nothing more may run on it. */
  readonly fatal: boolean;
}

/** The live session `sessionId` if this certificate may join it; SESSION_JOIN_REFUSED otherwise. */
function joinTarget(ctx: FrontendContext, scope: Scope, user: string, sessionId: string | undefined) {
  // Unknown, out of scope and not permitted read the same, so ids cannot be probed.
  const live = joinable(ctx, scope, user).find((l) => l.id === sessionId);
  if (live) return live;
  const own = [...ctx.live.values()].some((l) => l.id === sessionId && l.owner === user);
  throw new AirlockError(
    'SESSION_JOIN_REFUSED',
    own
      ? 'you cannot moderate your own session'
      : `no live session ${JSON.stringify(sessionId ?? '')} you may join`,
  );
}

/** The joiner's channel as the live session writes to it. */
function moderatorChannel(channel: ServerChannel, close: (message: string) => void): ModeratorChannel {
  return {
    write: (chunk, done) => {
      if (channel.destroyed || channel.writableEnded) {
        // Nothing is queued for a channel that is going: the fan-out must not wait for it.
        done?.();
        return false;
      }
      return done ? channel.write(chunk, done) : channel.write(chunk);
    },
    close,
  };
}

/**
 * Joins session `sessionId` and reads the joiner's lines from `lines` until
 * they leave, are dropped, the session ends or their certificate does. The
 * caller ends the channel (one-shot) or goes back to the prompt.
 */
async function join(
  ctx: FrontendContext,
  channel: ServerChannel,
  sessionId: string | undefined,
  state: ConnectionState,
  lines: LineQueue,
): Promise<JoinOutcome> {
  const scope = moderatorScope(state);
  const identity = state.identity!;
  const live = joinTarget(ctx, scope, identity.principal, sessionId);
  const stop = new AbortController();
  let outcome: JoinOutcome = { code: EXIT_CODES.OK, fatal: false };
  const end = (message: string, next: JoinOutcome) => {
    outcome = next;
    tellJoiner(channel, message);
    stop.abort();
  };
  const observer = scope.moderator?.role === 'observer';
  const joiner = {
    user: identity.principal,
    groups: scope.moderator?.groups ?? [],
    address: state.address,
    requestId: identity.scope.requestId,
    sessionId: state.id,
    ...(observer ? { observer } : {}),
  };
  const id = await live.join(
    joiner,
    moderatorChannel(channel, (message) => {
      const dropped = message.includes('OBSERVER_DROPPED');
      end(message, { code: dropped ? EXIT_CODES.UNAVAILABLE : EXIT_CODES.OK, fatal: false });
    }),
  );
  const stopWatch = watchModeratorCertificate(ctx, state, (message) => {
    live.leave(id);
    const expired = message.includes('SESSION_EXPIRED');
    end(message, { code: expired ? EXIT_CODES.SESSION_EXPIRED : EXIT_CODES.AUTHENTICATION, fatal: true });
  });
  const as = observer ? 'observer, read-only' : live.moderation.mode;
  channel.write(`[airlock] joined ${live.owner}'s session ${live.id} (${as}); ${joinHelp(observer)}\r\n`);
  try {
    for (let line = await lines.next(stop.signal); line !== undefined; line = await lines.next(stop.signal))
      if (!(await moderateLine(live, id, channel, line, observer))) break;
  } finally {
    stopWatch();
    if (!stop.signal.aborted) live.leave(id);
  }
  return outcome;
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
 * Runs `sessions` or `join ID` as the whole of an `ssh gw …` command: the
 * channel ends with the exit status. The caller has matched the command
 * word against {@link JOIN_COMMANDS}.
 */
export async function runJoinCommand(
  ctx: FrontendContext,
  channel: ServerChannel,
  argv: readonly string[],
  state: ConnectionState,
): Promise<void> {
  try {
    if (argv[0] === 'sessions') {
      listSessions(ctx, channel, state);
      finish(channel, EXIT_CODES.OK);
      return;
    }
    if (argv.length !== 2) throw new AirlockError('USAGE', 'usage: join SESSION_ID');
    const readline = createInterface({ input: channel, crlfDelay: Number.POSITIVE_INFINITY });
    channel.once('close', () => readline.close());
    try {
      finish(channel, (await join(ctx, channel, argv[1], state, lineQueue(readline))).code);
    } finally {
      readline.close();
    }
  } catch (error) {
    fail(channel, error);
  }
}

/**
 * Runs `sessions` or `join ID` typed at the interactive prompt, reading the
 * joiner's lines from the prompt's own queue. Back at the prompt when the
 * join ends; true when the connection must end instead (the certificate
 * expired or was revoked: the channel has been finished). Errors are the
 * caller's to show.
 */
export async function runJoinAtPrompt(
  ctx: FrontendContext,
  channel: ServerChannel,
  argv: readonly string[],
  state: ConnectionState,
  lines: LineQueue,
): Promise<boolean> {
  if (argv[0] === 'sessions') {
    listSessions(ctx, channel, state);
    return false;
  }
  if (argv.length !== 2) throw new AirlockError('USAGE', 'usage: join SESSION_ID');
  const outcome = await join(ctx, channel, argv[1], state, lines);
  if (outcome.fatal) finish(channel, outcome.code);
  return outcome.fatal;
}
