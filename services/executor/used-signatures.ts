/**
 * The executor's record of the logins it has accepted, so that each is
 * accepted once (security review finding 3).
 *
 * What is remembered is SHA-256 of the signed userauth request, not of the
 * signature: the request holds the SSH session identifier (unique per
 * connection) and the certificate, so it names one login exactly, whereas
 * signature bytes can be varied without the key (an ECDSA `(r, s)` verifies
 * as `(r, n - s)` too). An honest client signs a fresh request on every
 * connection, so the rule never refuses one. Entries are kept until the
 * certificate expires; after that the certificate itself is refused.
 *
 * Persisted: with a `path`, every accepted login is appended (and fsynced)
 * to a JSON-lines file in the executor's state directory before the session
 * opens, and a restarted executor reads it back. The file's first line says
 * since when it is complete (`since`, Unix seconds). A certificate valid
 * from before that moment may have been used while no record was kept (the
 * file was lost: a new pod, a wiped volume, a corrupt file), so it is
 * refused with CERT_PREDATES_REPLAY_RECORD: fail closed, at the price of
 * such users fetching a new certificate. The file survives process and
 * container restarts; see docs/executor.md for what it does not cover.
 */
import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { AirlockError } from '../core/errors.js';

/** More live entries than this refuses new logins (LIMIT_EXCEEDED) rather than grow without bound. */
export const MAX_USED_SIGNATURES = 200_000;

/** One accepted login, as admit() is given it. */
export interface LoginRecord {
  /** The signed userauth request (RFC 4252 §7). */
  readonly signedData: Uint8Array;
  /** The certificate's validity, Unix seconds. */
  readonly validAfter: bigint;
  readonly validBefore: bigint;
}

export interface UsedSignaturesOptions {
  /** The JSON-lines file; absent: memory only (tests), complete since `since`. */
  readonly path?: string;
  /** Memory only: since when the record is complete. Default: now. */
  readonly since?: Date;
  /**
   * With a `path` and no file yet: since when the new record is complete,
   * instead of now (never later than now). Only for an executor that no
   * login could have reached before that moment, e.g. a per-request executor
   * whose mediator CA was made after it (ephemeral mode: the request's
   * approval, which is also its certificates' `valid_after`). A file that
   * exists keeps its own `since`; an unreadable one still starts from now.
   */
  readonly newRecordSince?: Date;
  readonly clock: () => Date;
  readonly logger?: Logger;
}

interface Header {
  v: 1;
  since: number;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/**
 * Accepts each login once. `admit` throws CERT_SIGNATURE_REPLAYED for a
 * login seen before, CERT_PREDATES_REPLAY_RECORD for a certificate valid
 * from before the record began, and records the login otherwise (durably,
 * when persisted, before it returns).
 */
export class UsedSignatures {
  /** sha256 hex -> expiry (Unix seconds). */
  readonly #entries = new Map<string, number>();
  readonly #clock: () => Date;
  readonly #path: string | undefined;
  readonly #logger: Logger | undefined;
  #since: number;
  #fd: number | undefined;
  /** Lines in the file, to know when rewriting it would pay. */
  #lines = 0;

  constructor(options: UsedSignaturesOptions) {
    this.#clock = options.clock;
    this.#path = options.path;
    this.#logger = options.logger;
    this.#since = seconds(options.since ?? options.clock());
    if (options.path !== undefined) this.#load(options.path, options.newRecordSince);
  }

  /** Unix seconds since which every accepted login is on record. */
  get since(): number {
    return this.#since;
  }

  get size(): number {
    return this.#entries.size;
  }

  admit(login: LoginRecord): void {
    const now = seconds(this.#clock());
    if (login.validAfter < BigInt(this.#since)) {
      throw new AirlockError(
        'CERT_PREDATES_REPLAY_RECORD',
        'this certificate was issued before the executor started keeping its login record; request a new certificate',
        { detail: `valid after ${login.validAfter}, record since ${this.#since}` },
      );
    }
    const key = createHash('sha256').update(login.signedData).digest('hex');
    const expiry = this.#entries.get(key);
    if (expiry !== undefined && expiry > now) {
      throw new AirlockError('CERT_SIGNATURE_REPLAYED', 'this login signature was already used', {
        detail: `signed data sha256 ${key}`,
      });
    }
    this.#prune(now);
    if (this.#entries.size >= MAX_USED_SIGNATURES) {
      throw new AirlockError('LIMIT_EXCEEDED', 'too many logins on record; try again later');
    }
    const until = Number(login.validBefore);
    this.#entries.set(key, until);
    try {
      if (this.#path !== undefined) this.#append({ h: key, exp: until });
    } catch (error) {
      // Not on disk: not accepted either (fail closed).
      this.#entries.delete(key);
      throw error;
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #prune(now: number): void {
    for (const [key, expiry] of this.#entries) if (expiry <= now) this.#entries.delete(key);
  }

  /** Reads the file back; anything unreadable starts a new, empty record from now (fail closed). */
  #load(path: string, newRecordSince: Date | undefined): void {
    const now = seconds(this.#clock());
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== undefined) {
      try {
        const [first, ...rest] = text.split('\n').filter((line) => line !== '');
        const header = JSON.parse(first ?? '') as Header;
        if (header.v !== 1 || !Number.isSafeInteger(header.since)) throw new Error('bad header');
        for (const line of rest) {
          const entry = JSON.parse(line) as { h: unknown; exp: unknown };
          if (
            typeof entry.h !== 'string' ||
            !/^[0-9a-f]{64}$/.test(entry.h) ||
            !Number.isSafeInteger(entry.exp)
          )
            throw new Error('bad entry');
          if ((entry.exp as number) > now) this.#entries.set(entry.h, entry.exp as number);
        }
        this.#since = header.since;
      } catch (error) {
        // A torn last line from a crash mid-append is the one benign case; still, refuse to guess.
        this.#logger?.error(
          { err: error, path },
          'login record unreadable; starting a new one (certificates issued before now are refused)',
        );
        this.#entries.clear();
        this.#since = now;
      }
    } else {
      this.#since = newRecordSince === undefined ? now : Math.min(now, seconds(newRecordSince));
    }
    this.#rewrite(path);
  }

  #append(entry: { h: string; exp: number }): void {
    if (this.#fd === undefined) throw new AirlockError('INTERNAL', 'the login record is closed');
    writeSync(this.#fd, `${JSON.stringify(entry)}\n`);
    fdatasyncSync(this.#fd);
    this.#lines += 1;
    if (this.#lines > 2 * this.#entries.size + 1000) {
      this.#prune(seconds(this.#clock()));
      this.#rewrite(this.#path!);
    }
  }

  /** Writes header and live entries to a new file and renames it into place. */
  #rewrite(path: string): void {
    this.close();
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    const lines = [JSON.stringify({ v: 1, since: this.#since } satisfies Header)];
    for (const [h, exp] of this.#entries) lines.push(JSON.stringify({ h, exp }));
    writeSync(fd, `${lines.join('\n')}\n`);
    fdatasyncSync(fd);
    closeSync(fd);
    renameSync(temporary, path);
    this.#fd = openSync(path, 'a', 0o600);
    this.#lines = lines.length;
  }
}
