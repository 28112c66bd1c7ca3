import { AirlockError } from '../core/errors.js';
import type { AirlockScope, CertificateIdentity, SshCertificate } from '../core/ssh-cert/index.js';
import type { SessionKubeCredentials } from './kube-credentials.js';

/** A session the executor verified itself (OpenSession) and serves intents for. */
export interface ExecutorSession {
  readonly id: string;
  /** The access request the certificate was issued for (its scope's `requestId`). */
  readonly requestId: string;
  /** The SSH principal: the person the session acts for. */
  readonly user: string;
  readonly identity: CertificateIdentity;
  /** The verified certificate, re-checked while the session lives (revocation). */
  readonly certificate: SshCertificate;
  readonly scope: AirlockScope;
  /** The jit: groups rendered from the policy for this scope. */
  readonly groups: readonly string[];
  /** SHA-256 of the session grant (mTLS client certificate) bound to this session. */
  readonly grantFingerprint: string;
  readonly clientAddress: string;
  /** The earlier of certificate and grant expiry. */
  readonly expiresAt: Date;
  /** How this session's Kubernetes calls authenticate; released when the session ends. */
  readonly kube: SessionKubeCredentials;
}

interface Entry {
  session: ExecutorSession;
  /** One controller per open stream; aborted when the session ends. */
  streams: Set<AbortController>;
  timer: NodeJS.Timeout;
}

/**
 * Open sessions by id. A session ends at its expiry (every open stream is
 * aborted with SESSION_EXPIRED), on CloseSession, on revocation, when a
 * session with the same id replaces it, or at shutdown; `onEnded` hears of
 * every one of those, once.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, Entry>();
  /** Why recently ended sessions ended, so a late call hears SESSION_EXPIRED or CERT_REVOKED, not "unknown". */
  readonly #ended = new Map<string, AirlockError>();
  readonly #clock: () => Date;
  readonly #onExpired: (session: ExecutorSession) => void;
  readonly #onEnded: (session: ExecutorSession) => void;

  constructor(
    clock: () => Date,
    onExpired: (session: ExecutorSession) => void,
    onEnded: (session: ExecutorSession) => void = () => {},
  ) {
    this.#clock = clock;
    this.#onExpired = onExpired;
    this.#onEnded = onEnded;
  }

  open(session: ExecutorSession): void {
    this.close(session.id, new AirlockError('SESSION_UNKNOWN', 'the session was replaced'));
    const delay = Math.max(0, session.expiresAt.getTime() - this.#clock().getTime());
    const timer = setTimeout(
      () => {
        this.close(session.id, new AirlockError('SESSION_EXPIRED', 'session expired'));
        this.#onExpired(session);
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.#sessions.set(session.id, { session, streams: new Set(), timer });
  }

  /**
   * The live session with this id, checked against the presented grant.
   * Throws SESSION_UNKNOWN or SESSION_EXPIRED.
   */
  get(id: string, grantFingerprint: string): ExecutorSession {
    const entry = this.#sessions.get(id);
    const ended = this.#ended.get(id);
    if (!entry && ended) throw new AirlockError(ended.code, ended.message);
    if (!entry || entry.session.grantFingerprint !== grantFingerprint) {
      throw new AirlockError('SESSION_UNKNOWN', 'no open session for this grant', {
        detail: `session ${id} is not open or was opened with another grant`,
      });
    }
    if (this.#clock().getTime() >= entry.session.expiresAt.getTime()) {
      throw new AirlockError('SESSION_EXPIRED', 'session expired');
    }
    return entry.session;
  }

  /**
   * Registers a stream; the returned signal aborts when the session ends or
   * when `linked` aborts (the caller cancelled the call). Call `done` when
   * the stream ends.
   */
  track(id: string, linked?: AbortSignal): { signal: AbortSignal; done: () => void } {
    const entry = this.#sessions.get(id);
    const controller = new AbortController();
    if (!entry) {
      controller.abort(new AirlockError('SESSION_UNKNOWN', 'no open session'));
      return { signal: controller.signal, done: () => {} };
    }
    const follow = () => controller.abort(linked?.reason);
    if (linked?.aborted) follow();
    else linked?.addEventListener('abort', follow, { once: true });
    entry.streams.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        linked?.removeEventListener('abort', follow);
        entry.streams.delete(controller);
      },
    };
  }

  close(id: string, reason: AirlockError): ExecutorSession | undefined {
    const entry = this.#sessions.get(id);
    if (!entry) return undefined;
    this.#sessions.delete(id);
    clearTimeout(entry.timer);
    if (reason.code === 'SESSION_EXPIRED' || reason.code === 'CERT_REVOKED') {
      this.#ended.set(id, reason);
      // Bounded memory: forget the oldest.
      if (this.#ended.size > 10_000) this.#ended.delete(this.#ended.keys().next().value!);
    }
    for (const stream of entry.streams) stream.abort(reason);
    this.#onEnded(entry.session);
    return entry.session;
  }

  /**
   * Closes every session for which `check` returns an error (e.g. its
   * certificate was revoked since it opened); returns those sessions.
   */
  sweep(check: (session: ExecutorSession) => AirlockError | undefined): ExecutorSession[] {
    const closed: ExecutorSession[] = [];
    for (const { session } of [...this.#sessions.values()]) {
      const reason = check(session);
      if (reason && this.close(session.id, reason)) closed.push(session);
    }
    return closed;
  }

  closeAll(reason: AirlockError): void {
    for (const id of [...this.#sessions.keys()]) this.close(id, reason);
  }

  /** Open sessions of `user`. */
  countFor(user: string): number {
    let count = 0;
    for (const { session } of this.#sessions.values()) if (session.user === user) count += 1;
    return count;
  }

  get size(): number {
    return this.#sessions.size;
  }
}
