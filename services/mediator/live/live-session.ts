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
 *
 * Observers (a moderator certificate whose role is `observer`) join the same
 * way but only watch: they do not count toward `min`, are not named to the
 * executor, and their `y`, `n` and `terminate` are refused with
 * OBSERVER_READ_ONLY.
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
  /** An observer (moderator role `observer`): watches only, does not count toward `min`. */
  readonly observer?: boolean;
}

/** Someone joined to a live session, as `sessions` lists them. */
export interface Watcher {
  readonly user: string;
  readonly role: 'moderator' | 'observer';
}

/** A joined moderator's side: where status lines and questions go. */
export interface ModeratorChannel {
  /** `done`, when given, runs once the chunk has left the channel's buffer (the fan-out's queue). */
  write(chunk: Buffer | string, done?: () => void): boolean;
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

/**
 * One live session. Built by {@link createLiveSession}; every method is
 * synchronous or awaits only the durable audit append, so the owner's and
 * the moderators' channels are never held by each other.
 */
export class LiveSession {
  readonly id: string;
  readonly owner: string;
  readonly scope: Session['scope'];
  readonly moderation: ModerationRule;
  readonly #deps: LiveSessionDeps;
  readonly #fanout: OutputFanout;
  readonly #joined = new Map<string, Joined>();
  readonly #pending: Pending[] = [];
  /** Open recordings of the owner's streams: joins, leaves and terminations are marked in them. */
  readonly #markers = new Set<(label: string) => void>();
  #changed: (() => void)[] = [];
  #terminated: { by: string; reason: string } | undefined;

  constructor(deps: LiveSessionDeps) {
    this.#deps = deps;
    this.id = deps.session.id;
    this.owner = deps.session.user;
    this.scope = deps.session.scope;
    this.moderation = deps.moderation;
    this.#fanout = createOutputFanout(deps.fanout);
  }

  /**
   * Output the owner's terminal showed; fanned out to the moderators. False
   * while a moderator is behind: pause the owner's source until
   * {@link whenReady} (bounded: output-fanout.ts).
   */
  publish(chunk: Buffer | string): boolean {
    return this.#fanout.publish(chunk);
  }

  /** Calls `listener` once no moderator holds the owner's output. */
  whenReady(listener: () => void): void {
    this.#fanout.whenReady(listener);
  }

  /** A status line for the watchers only; the owner's terminal is not touched. */
  status(text: string): void {
    this.#fanout.publish(`\r\n[airlock] ${sanitizeForTerminal(text)}\r\n`);
  }

  /** The joined moderators (observers are not moderators). */
  moderators(): string[] {
    return this.#moderating().map((j) => j.joiner.user);
  }

  /** The joined observers. */
  observers(): string[] {
    return [...this.#joined.values()].filter((j) => j.joiner.observer).map((j) => j.joiner.user);
  }

  /** Everyone joined, moderators and observers, in the order they joined. */
  watchers(): Watcher[] {
    return [...this.#joined.values()].map(({ joiner }) => ({
      user: joiner.user,
      role: joiner.observer ? 'observer' : 'moderator',
    }));
  }

  /** Marks joins, leaves and terminations in an open recording until the returned function is called. */
  onMarker(marker: (label: string) => void): () => void {
    this.#markers.add(marker);
    return () => this.#markers.delete(marker);
  }

  /**
   * May `joiner` moderate this session? Only in one of the required groups,
   * never the owner, once per person (the caller has matched the moderator
   * certificate's profile, cluster and namespace). Throws SESSION_JOIN_REFUSED.
   */
  async join(joiner: Joiner, channel: ModeratorChannel): Promise<string> {
    const { moderation } = this;
    if (this.#terminated) throw new AirlockError('SESSION_JOIN_REFUSED', 'the session has ended');
    if (sameUser(joiner.user, this.owner))
      throw new AirlockError('SESSION_JOIN_REFUSED', 'you cannot moderate your own session');
    // An observer's role was granted for this profile by the broker (observerGroups are not in the owner's scope).
    if (!joiner.observer && !joiner.groups.some((g) => moderation.requiredGroups.includes(g)))
      throw new AirlockError('SESSION_JOIN_REFUSED', `moderators come from ${this.#groups()}`);
    if ([...this.#joined.values()].some((j) => sameUser(j.joiner.user, joiner.user)))
      throw new AirlockError('SESSION_JOIN_REFUSED', 'you have already joined this session');
    const id = joiner.sessionId;
    await this.#record('moderation.joined', joiner, {
      details: {
        moderator_request_id: joiner.requestId,
        moderator_session_id: joiner.sessionId,
        ...(joiner.observer ? { role: 'observer' } : {}),
      },
    });
    const watch = this.#fanout.attach(channel, () => {
      channel.close('airlock: OBSERVER_DROPPED: you fell too far behind the output; join again\r\n');
      this.#leave(id, 'dropped');
    });
    const entry: Joined = { joiner, channel, detach: () => watch.detach() };
    this.#joined.set(id, entry);
    const as = joiner.observer ? 'observer' : 'moderator';
    this.#deps.notify(
      `\r\nairlock: ${joiner.user} joined as ${joiner.observer ? as : `${as} (${moderation.mode})`}\r\n`,
    );
    this.status(`${joiner.user} joined${joiner.observer ? ' (observer)' : ''}`);
    this.#mark(`${joiner.user} joined as ${as}`);
    for (const p of this.#pending) this.#ask(entry, p);
    this.#wake();
    return id;
  }

  /** The moderator quit or disconnected. */
  leave(id: string): void {
    this.#leave(id, 'detached');
  }

  /**
   * A moderator's `y` or `n`: decides the oldest question. False when nothing
   * was asked; throws OBSERVER_READ_ONLY for an observer.
   */
  answer(id: string, yes: boolean): boolean {
    const entry = this.#joined.get(id);
    if (entry?.joiner.observer) throw readOnly(yes ? 'approve' : 'reject');
    const p = entry ? this.#pending.shift() : undefined;
    if (!entry || !p) return false;
    p.decide(entry.joiner, yes);
    return true;
  }

  /** A moderator ends the session: recorded, shown to the owner, the owner's connection ended. */
  async terminate(id: string, reason: string): Promise<void> {
    const entry = this.#joined.get(id);
    if (entry?.joiner.observer) throw readOnly('terminate');
    if (!entry || this.#terminated) return;
    const why = reason || 'no reason given';
    this.#terminated = { by: entry.joiner.user, reason: why };
    await this.#record('moderation.terminated', entry.joiner, {
      decision: 'deny',
      code: 'MODERATION_TERMINATED',
      reason: why,
    });
    for (const p of this.#pending.splice(0)) p.decide(entry.joiner, false);
    this.status(`terminated by ${entry.joiner.user}: ${why}`);
    this.#mark(`terminated by ${entry.joiner.user}: ${why}`);
    this.#wake();
    this.#deps.end(
      `airlock: MODERATION_TERMINATED: ${sanitizeForTerminal(this.#terminatedError().message)}\r\n`,
    );
  }

  /**
   * The gate: resolves when the intent may proceed (with the approving
   * moderator in approve-each-command mode), throws MODERATION_REJECTED or
   * MODERATION_TERMINATED. The owner hears why it waits.
   */
  async admit(intent: GatedIntent): Promise<{ approvedBy?: string }> {
    let told = false;
    while (!this.#terminated && this.#moderating().length < this.moderation.min) {
      if (!told) this.#deps.notify(`airlock: waiting for a moderator from ${this.#groups()}\r\n`);
      told = true;
      await new Promise<void>((resolve) => this.#changed.push(resolve));
    }
    if (this.#terminated) throw this.#terminatedError();
    if (this.moderation.mode === 'observe') return {};
    this.#deps.notify('airlock: waiting for a moderator to approve\r\n');
    const { by, yes } = await new Promise<{ by: Joiner; yes: boolean }>((resolve) => {
      const p: Pending = { intent, decide: (who, answer) => resolve({ by: who, yes: answer }) };
      this.#pending.push(p);
      for (const entry of this.#joined.values()) this.#ask(entry, p);
    });
    if (this.#terminated) throw this.#terminatedError();
    const details = { action: intent.action };
    if (!yes) {
      await this.#record('moderation.rejected', by, {
        target: intent.target,
        decision: 'deny',
        code: 'MODERATION_REJECTED',
        reason: `rejected by ${by.user}`,
        details,
      });
      throw new AirlockError('MODERATION_REJECTED', `rejected by moderator ${by.user}`);
    }
    await this.#record('moderation.approved', by, { target: intent.target, decision: 'allow', details });
    return { approvedBy: by.user };
  }

  /** The owner's connection closed: every moderator is told and detached. */
  end(): void {
    for (const [id, entry] of [...this.#joined]) {
      entry.channel.close('\r\nairlock: the session ended\r\n');
      this.#leave(id, 'ended');
    }
    this.#terminated ??= { by: this.owner, reason: 'the session ended' };
    this.#wake();
  }

  #groups(): string {
    return this.moderation.requiredGroups.join(' or ');
  }

  #wake(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const resolve of waiting) resolve();
  }

  #mark(label: string): void {
    for (const marker of this.#markers) marker(label);
  }

  #moderating(): Joined[] {
    return [...this.#joined.values()].filter((j) => !j.joiner.observer);
  }

  #ask(entry: Joined, p: Pending): void {
    const question = entry.joiner.observer ? '(a moderator decides)\r\n' : 'approve? (y/n) ';
    entry.channel.write(
      `\r\n[airlock] ${this.owner} wants to run: ${sanitizeForTerminal(p.intent.text)}  ${question}`,
    );
  }

  #terminatedError(): AirlockError {
    return new AirlockError(
      'MODERATION_TERMINATED',
      `session terminated by ${this.#terminated?.by}: ${this.#terminated?.reason}`,
    );
  }

  #record(event: AuditEventInput['event'], joiner: Joiner, extra: Partial<AuditEventInput>): Promise<void> {
    const { session } = this.#deps;
    return this.#deps.audit({
      event,
      actor: {
        user: joiner.user,
        groups: [...joiner.groups],
        kind: joiner.observer ? 'observer' : 'moderator',
        address: joiner.address,
      },
      target: { cluster: session.scope.cluster, namespace: session.scope.namespace },
      ...sessionAuditIds(session),
      ...extra,
      details: { owner: session.user, ...extra.details },
    });
  }

  #leave(id: string, why: 'detached' | 'dropped' | 'ended'): void {
    const entry = this.#joined.get(id);
    if (!entry) return;
    this.#joined.delete(id);
    entry.detach();
    this.#deps.notify(`\r\nairlock: ${entry.joiner.user} left (${why})\r\n`);
    this.status(`${entry.joiner.user} left (${why})`);
    this.#mark(`${entry.joiner.user} left (${why})`);
    void this.#record('moderation.left', entry.joiner, { details: { why } });
    this.#wake();
  }
}

function readOnly(what: string): AirlockError {
  return new AirlockError('OBSERVER_READ_ONLY', `an observer cannot ${what}; observers only watch`);
}

export function createLiveSession(deps: LiveSessionDeps): LiveSession {
  return new LiveSession(deps);
}
