/**
 * A live, moderated session at the mediator (issue 24, four-eyes sessions):
 * the owner's SSH connection whose certificate scope carries `moderation`,
 * the moderators who joined it, and the gate every intent of the owner
 * passes before it is allowed.
 *
 * - Until `min` moderators from `requiredGroups` have joined, the owner's
 *   intents wait (`waiting for a moderator from payments-leads`). If the last
 *   moderator leaves, new intents wait again; a running command keeps running.
 * - `approve-each-command`: each intent is shown to the moderators; the
 *   first answer decides (y: allowed, n: MODERATION_REJECTED).
 * - A moderator can terminate the session: waiting and later intents fail
 *   with MODERATION_TERMINATED and the owner's connection is ended.
 *
 * Every join, leave, approval, rejection and termination is a durable
 * record in the mediator's trail naming both people (`moderation.*`).
 */
import type { AuditEventInput, AuditTarget } from '../../core/audit/types.js';
import { sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import { AirlockError } from '../../core/errors.js';
import type { ModerationRule } from '../../core/policy/index.js';
import { type Session, sessionAuditIds } from '../../core/session/session.js';
import { createOutputFanout, type OutputFanout, type OutputFanoutOptions } from './output-fanout.js';

/** Who joins: the verified moderator certificate of another connection. */
export interface Joiner {
  readonly user: string;
  /** The certificate's moderator groups. */
  readonly groups: readonly string[];
  readonly address: string;
  readonly requestId: string;
  /** The joiner's own connection (session) id. */
  readonly sessionId: string;
}

/** A joined moderator's side: where status lines and questions go. */
export interface ModeratorChannel {
  write(chunk: Buffer | string): boolean;
  readonly writableLength: number;
  /** Called once when the moderator is dropped or the session ends; the joiner's command ends. */
  close(message: string): void;
}

/** What the gate asks about: one intent of the owner. */
export interface GatedIntent {
  readonly action: string;
  readonly target: AuditTarget;
  /** How the intent reads to a moderator, e.g. `exec api-0 -- ps aux`. */
  readonly text: string;
}

/** Dependencies of {@link createLiveSession}. */
export interface LiveSessionDeps {
  readonly session: Session;
  readonly moderation: ModerationRule;
  /** Appends to the mediator's trail; resolves once durable for records with a decision. */
  readonly audit: (event: AuditEventInput) => Promise<void>;
  /** Ends the owner's connection after a termination; `line` is shown on every running channel. */
  readonly end: (line: string) => void;
  /** Writes a notice to the owner's running channels (stderr): joins, leaves, waits. */
  readonly notify: (text: string) => void;
  readonly fanout?: OutputFanoutOptions;
}

interface Joined {
  readonly joiner: Joiner;
  readonly channel: ModeratorChannel;
  detach(): void;
}

interface Pending {
  readonly intent: GatedIntent;
  decide(by: Joiner, yes: boolean): void;
}

/** User names compare case-insensitively after NFKC, as approvals do (`canApprove`). */
function sameUser(a: string, b: string): boolean {
  return a.normalize('NFKC').toLowerCase() === b.normalize('NFKC').toLowerCase();
}

export type LiveSession = ReturnType<typeof createLiveSession>;

export function createLiveSession(deps: LiveSessionDeps) {
  const { session, moderation } = deps;
  const fanout: OutputFanout = createOutputFanout(deps.fanout);
  const joined = new Map<string, Joined>();
  const pending: Pending[] = [];
  /** Open recordings of the owner's streams: joins, leaves and terminations are marked in them. */
  const markers = new Set<(label: string) => void>();
  const mark = (label: string) => {
    for (const marker of markers) marker(label);
  };
  let changed: (() => void)[] = [];
  let terminated: { by: string; reason: string } | undefined;
  const groups = moderation.requiredGroups.join(' or ');

  const wake = () => {
    const waiting = changed;
    changed = [];
    for (const resolve of waiting) resolve();
  };
  const tellOwner = deps.notify;
  /** A status line for the watchers only; the owner's terminal is not touched. */
  const status = (text: string) => {
    fanout.publish(`\r\n[airlock] ${sanitizeForTerminal(text)}\r\n`);
  };
  const record = (event: AuditEventInput['event'], joiner: Joiner, extra: Partial<AuditEventInput>) =>
    deps.audit({
      event,
      actor: { user: joiner.user, groups: [...joiner.groups], kind: 'moderator', address: joiner.address },
      target: { cluster: session.scope.cluster, namespace: session.scope.namespace },
      ...sessionAuditIds(session),
      ...extra,
      details: { owner: session.user, ...extra.details },
    });
  const ask = (entry: Joined, p: Pending) =>
    entry.channel.write(
      `\r\n[airlock] ${session.user} wants to run: ${sanitizeForTerminal(p.intent.text)}  approve? (y/n) `,
    );
  const terminatedError = () =>
    new AirlockError(
      'MODERATION_TERMINATED',
      `session terminated by ${terminated?.by}: ${terminated?.reason || 'no reason given'}`,
    );

  const leave = (id: string, why: 'detached' | 'dropped' | 'ended') => {
    const entry = joined.get(id);
    if (!entry) return;
    joined.delete(id);
    entry.detach();
    tellOwner(`\r\nairlock: ${entry.joiner.user} left (${why})\r\n`);
    status(`${entry.joiner.user} left (${why})`);
    mark(`${entry.joiner.user} left (${why})`);
    void record('moderation.left', entry.joiner, { details: { why } });
    wake();
  };

  return {
    id: session.id,
    owner: session.user,
    scope: session.scope,
    moderation,
    /** Output the owner's terminal showed; fanned out to the moderators. */
    publish: (chunk: Buffer | string) => fanout.publish(chunk),
    status,
    moderators: () => [...joined.values()].map((j) => j.joiner.user),
    /** Marks joins, leaves and terminations in an open recording until the returned function is called. */
    onMarker(marker: (label: string) => void): () => void {
      markers.add(marker);
      return () => markers.delete(marker);
    },

    /**
     * May `joiner` moderate this session? Only a moderator certificate for
     * the same profile, cluster and namespace, in one of the required
     * groups, never the owner. Throws SESSION_JOIN_REFUSED.
     */
    async join(joiner: Joiner, channel: ModeratorChannel): Promise<string> {
      if (terminated) throw new AirlockError('SESSION_JOIN_REFUSED', 'the session has ended');
      if (sameUser(joiner.user, session.user))
        throw new AirlockError('SESSION_JOIN_REFUSED', 'you cannot moderate your own session');
      if (!joiner.groups.some((g) => moderation.requiredGroups.includes(g)))
        throw new AirlockError('SESSION_JOIN_REFUSED', `moderators come from ${groups}`);
      if ([...joined.values()].some((j) => sameUser(j.joiner.user, joiner.user)))
        throw new AirlockError('SESSION_JOIN_REFUSED', 'you have already joined this session');
      const id = joiner.sessionId;
      await record('moderation.joined', joiner, {
        details: { moderator_request_id: joiner.requestId, moderator_session_id: joiner.sessionId },
      });
      const watch = fanout.attach(channel, () => {
        channel.close('airlock: OBSERVER_DROPPED: you fell too far behind the output; join again\r\n');
        leave(id, 'dropped');
      });
      joined.set(id, { joiner, channel, detach: () => watch.detach() });
      tellOwner(`\r\nairlock: ${joiner.user} joined as moderator (${moderation.mode})\r\n`);
      status(`${joiner.user} joined`);
      mark(`${joiner.user} joined as moderator`);
      const entry = joined.get(id)!;
      for (const p of pending) ask(entry, p);
      wake();
      return id;
    },
    /** The moderator quit or disconnected. */
    leave: (id: string) => leave(id, 'detached'),

    /** A moderator's `y` or `n`: decides the oldest question. False when nothing was asked. */
    answer(id: string, yes: boolean): boolean {
      const entry = joined.get(id);
      const p = pending.shift();
      if (!entry || !p) return false;
      p.decide(entry.joiner, yes);
      return true;
    },

    /** A moderator ends the session: recorded, shown to the owner, the owner's connection ended. */
    async terminate(id: string, reason: string): Promise<void> {
      const entry = joined.get(id);
      if (!entry || terminated) return;
      terminated = { by: entry.joiner.user, reason };
      await record('moderation.terminated', entry.joiner, {
        decision: 'deny',
        code: 'MODERATION_TERMINATED',
        reason: reason || 'no reason given',
      });
      const error = terminatedError();
      for (const p of pending.splice(0)) p.decide(entry.joiner, false);
      status(`terminated by ${entry.joiner.user}: ${reason || 'no reason given'}`);
      mark(`terminated by ${entry.joiner.user}: ${reason || 'no reason given'}`);
      wake();
      deps.end(`airlock: MODERATION_TERMINATED: ${sanitizeForTerminal(error.message)}\r\n`);
    },

    /**
     * The gate: resolves when the intent may proceed (with the approving
     * moderator in approve-each-command mode), throws MODERATION_REJECTED or
     * MODERATION_TERMINATED. The owner hears why it waits.
     */
    async admit(intent: GatedIntent): Promise<{ approvedBy?: string }> {
      const say = tellOwner;
      let told = false;
      while (!terminated && joined.size < moderation.min) {
        if (!told) say(`airlock: waiting for a moderator from ${groups}\r\n`);
        told = true;
        await new Promise<void>((resolve) => changed.push(resolve));
      }
      if (terminated) throw terminatedError();
      if (moderation.mode === 'observe') return {};
      say('airlock: waiting for a moderator to approve\r\n');
      const { by, yes } = await new Promise<{ by: Joiner; yes: boolean }>((resolve) => {
        const p: Pending = { intent, decide: (who, answer) => resolve({ by: who, yes: answer }) };
        pending.push(p);
        for (const entry of joined.values()) ask(entry, p);
      });
      if (terminated) throw terminatedError();
      const details = { action: intent.action };
      if (!yes) {
        await record('moderation.rejected', by, {
          target: intent.target,
          decision: 'deny',
          code: 'MODERATION_REJECTED',
          reason: `rejected by ${by.user}`,
          details,
        });
        throw new AirlockError('MODERATION_REJECTED', `rejected by moderator ${by.user}`);
      }
      await record('moderation.approved', by, { target: intent.target, decision: 'allow', details });
      return { approvedBy: by.user };
    },

    /** The owner's connection closed: every moderator is told and detached. */
    end(): void {
      for (const [id, entry] of [...joined]) {
        entry.channel.close('\r\nairlock: the session ended\r\n');
        leave(id, 'ended');
      }
      terminated ??= { by: session.user, reason: 'the session ended' };
      wake();
    },
  };
}
