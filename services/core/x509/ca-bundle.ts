/**
 * CA rotation with overlap (docs/DESIGN.md, "Credentials"): every verifier
 * trusts a set of CAs, a new CA is added and used for signing at once, and
 * the previous signer stays trusted until everything it signed has expired.
 *
 * `CaBundle` is an immutable value: every operation returns a new bundle,
 * takes time as an argument and does no I/O, so `airlock ca rotate` and the
 * in-process rotation of serving certificates can share it and tests can
 * replay a rotation step by step.
 */
import { AirlockError } from '../errors.js';
import {
  certificateFingerprint,
  certificatePem,
  parseCertificate,
  subjectField,
} from './certificate-input.js';
import { type AirlockTier, tierFromCaCommonName } from './tier.js';
import type { TierCa } from './tier-ca.js';

/** One trusted CA of a bundle. */
export interface CaBundleEntry {
  readonly certPem: string;
  /** SHA-256 of the CA certificate DER, lowercase hex; the entry's key. */
  readonly fingerprint: string;
  readonly tier: AirlockTier | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /**
   * Set when the CA stopped signing: the instant after which nothing it
   * signed can still be valid, so it may be removed. Undefined for the active
   * signer and for CAs that were only ever trusted.
   */
  readonly retireAt: Date | undefined;
}

/** Options of {@link CaBundle.rotate}. */
export interface RotateOptions {
  readonly now: Date;
  /** Longest lifetime of any certificate the outgoing signer may have issued (e.g. 12 h for grants). */
  readonly maxLeafLifetimeSeconds: number;
}

function entryOf(ca: TierCa | string): CaBundleEntry {
  const certificate = typeof ca === 'string' ? parseCertificate(ca, 'CA certificate') : ca.certificate;
  return {
    certPem: certificatePem(certificate),
    fingerprint: certificateFingerprint(certificate),
    tier: tierFromCaCommonName(subjectField(certificate, 'CN')),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    retireAt: undefined,
  };
}

/** A set of trusted CA certificates and, optionally, the one that signs. */
export class CaBundle {
  private constructor(
    /** Trusted CAs in the order they were added. */
    readonly entries: readonly CaBundleEntry[],
    /** The CA new certificates are issued from, if this process signs. */
    readonly activeSigner: TierCa | undefined,
  ) {}

  /** A bundle that trusts nothing. */
  static empty(): CaBundle {
    return new CaBundle([], undefined);
  }

  /** A bundle that trusts and signs with `signer`. */
  static of(signer: TierCa): CaBundle {
    return new CaBundle([entryOf(signer)], signer);
  }

  /** Whether the CA with this fingerprint is trusted. */
  has(fingerprint: string): boolean {
    return this.entries.some((entry) => entry.fingerprint === fingerprint);
  }

  /** Trusts one more CA (certificate PEM or a loaded CA) for verification only. Idempotent. */
  add(ca: TierCa | string): CaBundle {
    const entry = entryOf(ca);
    if (this.has(entry.fingerprint)) return this;
    return new CaBundle([...this.entries, entry], this.activeSigner);
  }

  /**
   * Makes `next` the signer (trusting it if needed). The previous signer stays
   * trusted with `retireAt = min(now + maxLeafLifetimeSeconds, its notAfter)`,
   * since leaves never outlive their CA.
   */
  rotate(next: TierCa, options: RotateOptions): CaBundle {
    const { now, maxLeafLifetimeSeconds } = options;
    if (!Number.isFinite(maxLeafLifetimeSeconds) || maxLeafLifetimeSeconds < 0) {
      throw new AirlockError('USAGE', 'maxLeafLifetimeSeconds must be a non-negative number');
    }
    if (next.notAfter.getTime() <= now.getTime()) {
      throw new AirlockError('X509_EXPIRED', 'cannot rotate to an expired CA', { detail: next.fingerprint });
    }
    const previous = this.activeSigner;
    const added = this.add(next);
    if (previous === undefined || previous.fingerprint === next.fingerprint) {
      return new CaBundle(
        added.entries.map((e) => (e.fingerprint === next.fingerprint ? { ...e, retireAt: undefined } : e)),
        next,
      );
    }
    const retireAt = new Date(
      Math.min(now.getTime() + maxLeafLifetimeSeconds * 1000, previous.notAfter.getTime()),
    );
    return new CaBundle(
      added.entries.map((entry) => {
        if (entry.fingerprint === previous.fingerprint) return { ...entry, retireAt };
        if (entry.fingerprint === next.fingerprint) return { ...entry, retireAt: undefined };
        return entry;
      }),
      next,
    );
  }

  /**
   * Stops trusting a CA. Refuses (`USAGE`) to remove the active signer, and
   * a retired signer before its `retireAt` unless `force` (key compromise:
   * everything it signed stops verifying at once).
   */
  remove(fingerprint: string, options: { readonly now: Date; readonly force?: boolean }): CaBundle {
    const entry = this.entries.find((e) => e.fingerprint === fingerprint);
    if (entry === undefined) return this;
    if (this.activeSigner?.fingerprint === fingerprint) {
      throw new AirlockError('USAGE', 'cannot remove the active signing CA; rotate to another CA first');
    }
    if (
      options.force !== true &&
      entry.retireAt !== undefined &&
      options.now.getTime() < entry.retireAt.getTime()
    ) {
      throw new AirlockError(
        'USAGE',
        `CA still has valid certificates until ${entry.retireAt.toISOString()}`,
        {
          detail: fingerprint,
        },
      );
    }
    return new CaBundle(
      this.entries.filter((e) => e.fingerprint !== fingerprint),
      this.activeSigner,
    );
  }

  /** Entries that may be removed at `now`: retired and past `retireAt`, or expired (never the signer). */
  removable(now: Date): readonly CaBundleEntry[] {
    const at = now.getTime();
    return this.entries.filter(
      (entry) =>
        entry.fingerprint !== this.activeSigner?.fingerprint &&
        ((entry.retireAt !== undefined && at >= entry.retireAt.getTime()) || at > entry.notAfter.getTime()),
    );
  }

  /** Removes every {@link removable} entry. */
  prune(now: Date): CaBundle {
    const drop = new Set(this.removable(now).map((entry) => entry.fingerprint));
    if (drop.size === 0) return this;
    return new CaBundle(
      this.entries.filter((entry) => !drop.has(entry.fingerprint)),
      this.activeSigner,
    );
  }

  /** The trusted CA certificates, PEM each; the `trustedCas` of `verifyPeerCertificate`. */
  certPems(): string[] {
    return this.entries.map((entry) => entry.certPem);
  }

  /** All trusted CA certificates concatenated, for the `ca` option of `tls`/grpc-js. */
  pemBundle(): string {
    return this.certPems().join('');
  }
}
