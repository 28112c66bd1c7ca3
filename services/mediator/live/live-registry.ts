/**
 * Where a connection becomes a live session and stops being one: once its
 * executor session is open, a connection whose certificate scope requires
 * moderation is registered in `ctx.live` (what `sessions` lists and `join`
 * attaches to); when the connection closes, its moderators are told and
 * detached and the entry removed.
 */
import type { Connection } from 'ssh2';
import { EXIT_CODES } from '../command-language/exit-codes.js';
import {
  type ConnectionState,
  type FrontendContext,
  finish,
  type OpenedSession,
} from '../frontend-context.js';
import { createLiveSession } from './live-session.js';

export function registerLiveSession(
  ctx: FrontendContext,
  client: Connection,
  state: ConnectionState,
  opened: OpenedSession,
): void {
  const moderation = opened.session.scope.moderation;
  if (!moderation) return;
  const live = createLiveSession({
    session: opened.session,
    moderation,
    audit: (event) => ctx.deps.audit.append(event, { durable: true }),
    notify: (text) => {
      for (const channel of state.channels)
        if (!channel.destroyed && !channel.stderr.writableEnded) channel.stderr.write(text);
    },
    end: (line) => {
      for (const channel of state.channels) {
        if (!channel.destroyed && !channel.stderr.writableEnded) channel.stderr.write(line);
        finish(channel, EXIT_CODES.DENIED);
      }
      // Let the exit statuses reach the client before the connection goes.
      setTimeout(() => client.end(), 100);
    },
  });
  state.live = live;
  ctx.live.set(live.id, live);
}

export function endLiveSession(ctx: FrontendContext, state: ConnectionState): void {
  const live = state.live;
  if (!live) return;
  ctx.live.delete(live.id);
  live.end();
}
