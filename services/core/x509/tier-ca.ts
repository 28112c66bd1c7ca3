/**
 * A tier CA: the self-signed ECDSA P-256 certificate authority each airlock
 * tier uses to issue its own short-lived certificates (docs/DESIGN.md,
 * "Credentials").
 *
 * Profile (RFC 5280 §4.2.1.9 and §4.2.1.3): basicConstraints critical with
 * cA=TRUE and pathLenConstraint 0, since a tier CA signs leaves only; keyUsage
 * critical with keyCertSign and cRLSign; a subject key identifier so leaves
 * can name it in their authority key identifier, which is what lets two CAs
 * with the same subject (a rotation on one day) coexist in a trust bundle.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { X509Certificate } from '@peculiar/x509';
import { AirlockError } from '../errors.js';
import {
  certificateFingerprint,
  certificatePem,
  floorToSecond,
  literalName,
  parseCertificate,
  pemBlocks,
  randomSerialNumber,
  subjectField,
  toPem,
} from './certificate-input.js';
import { type CryptoKey, type CryptoKeyPair, crypto, x509 } from './provider.js';
import {
  type AirlockTier,
  defaultTierCaCommonName,
  isAirlockTier,
  TIER_CA_ORGANIZATION,
  tierFromCaCommonName,
} from './tier.js';

/** ECDSA over P-256 with SHA-256, the only signing algorithm airlock CAs use. */
export const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
/** Signature algorithm for ECDSA P-256 keys (RFC 5758 §3.2 ecdsa-with-SHA256). */
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A tier CA with its signing key; what every issuing function takes. */
export interface TierCa {
  readonly tier: AirlockTier;
  /** CA certificate, PEM. Goes into trust bundles. */
  readonly certPem: string;
  /** CA private key, PKCS#8 PEM. A secret: store with mode 0600, never log. */
  readonly privateKeyPem: string;
  readonly certificate: X509Certificate;
  /** Non-extractable WebCrypto signing key imported from `privateKeyPem`. */
  readonly signingKey: CryptoKey;
  /** SHA-256 of the certificate DER, lowercase hex. */
  readonly fingerprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Options of {@link createTierCa}. */
export interface CreateTierCaOptions {
  readonly tier: AirlockTier;
  /** Defaults to `airlock <tier> CA <YYYY-MM-DD>`; must start with `airlock <tier> CA`. */
  readonly commonName?: string;
  /** Whole days from `now`; default 365, at most 3650. */
  readonly validityDays?: number;
  /**
   * Seconds from `now` instead of `validityDays` (at least 60): a CA made for
   * one access request (ephemeral tiers) ends with the request, and every
   * leaf it issues is capped at its end.
   */
  readonly validitySeconds?: number;
  readonly now: Date;
}

const MAX_CA_VALIDITY_DAYS = 3650;

function usage(message: string): never {
  throw new AirlockError('USAGE', message);
}

/** Creates a new self-signed tier CA with a fresh ECDSA P-256 key. */
export async function createTierCa(options: CreateTierCaOptions): Promise<TierCa> {
  const { tier, now, validityDays = 365 } = options;
  if (!isAirlockTier(tier)) usage(`unknown tier ${JSON.stringify(tier)}`);
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > MAX_CA_VALIDITY_DAYS) {
    usage(`validityDays must be an integer in 1..${MAX_CA_VALIDITY_DAYS}`);
  }
  const { validitySeconds } = options;
  if (
    validitySeconds !== undefined &&
    (!Number.isInteger(validitySeconds) || validitySeconds < 60 || validitySeconds > validityDays * 86_400)
  ) {
    usage(`validitySeconds must be an integer in 60..${validityDays * 86_400}`);
  }
  const commonName = options.commonName ?? defaultTierCaCommonName(tier, now);
  if (tierFromCaCommonName(commonName) !== tier) usage(`CA common name must start with "airlock ${tier} CA"`);

  const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = floorToSecond(now);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: literalName([
      ['CN', commonName],
      ['O', TIER_CA_ORGANIZATION],
    ]),
    notBefore,
    notAfter: new Date(notBefore.getTime() + (validitySeconds ?? validityDays * 86_400) * 1000),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return loadTierCa(certificatePem(certificate), toPem(pkcs8, 'PRIVATE KEY'));
}

/**
 * Loads a tier CA from its certificate and PKCS#8 private key, checking that
 * the certificate is an airlock tier CA and that the key belongs to it.
 * Throws `X509_INVALID` (bad PEM, not a CA, key mismatch).
 */
export async function loadTierCa(certPem: string, privateKeyPem: string): Promise<TierCa> {
  const certificate = parseCertificate(certPem, 'tier CA certificate');
  const invalid = (reason: string, cause?: unknown): never => {
    throw new AirlockError('X509_INVALID', 'tier CA is not usable', { detail: reason, cause });
  };
  const tier = tierFromCaCommonName(subjectField(certificate, 'CN'));
  if (tier === undefined) invalid(`subject ${certificate.subject} is not an airlock tier CA name`);
  if (certificate.getExtension(x509.BasicConstraintsExtension)?.ca !== true)
    invalid('certificate is not a CA');
  const keyUsage = certificate.getExtension(x509.KeyUsagesExtension);
  if (keyUsage !== null && (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    invalid('CA keyUsage lacks keyCertSign');
  }

  const pkcs8Blocks = pemBlocks(privateKeyPem, 'PRIVATE KEY');
  if (pkcs8Blocks.length !== 1) invalid('private key must be one PKCS#8 "PRIVATE KEY" PEM block');
  const pkcs8 = pkcs8Blocks[0]!;
  try {
    // The private key must match the certificate: derive its public half and compare SPKI bytes.
    const derived = createPublicKey(
      createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
    );
    const spki = derived.export({ format: 'der', type: 'spki' });
    if (!spki.equals(Buffer.from(certificate.publicKey.rawData)))
      invalid('private key does not match certificate');
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    invalid('private key does not parse', error);
  }
  let signingKey: CryptoKey;
  try {
    signingKey = await crypto.subtle.importKey('pkcs8', Buffer.from(pkcs8), ECDSA_P256, false, ['sign']);
  } catch (error) {
    return invalid('private key is not an ECDSA P-256 key', error);
  }
  return {
    tier: tier!,
    certPem: certificatePem(certificate),
    privateKeyPem,
    certificate,
    signingKey,
    fingerprint: certificateFingerprint(certificate),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
}
