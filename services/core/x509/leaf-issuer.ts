/**
 * Issuing leaf certificates from a tier CA: serving certificates for the
 * gRPC servers, and session grants (client certificates) for one SSH session.
 *
 * Both profiles (RFC 5280 §4.2.1): basicConstraints cA=FALSE (critical),
 * keyUsage digitalSignature only (critical; ECDSA keys sign, they never
 * encipher), exactly one extendedKeyUsage (serverAuth or clientAuth, never
 * both, so a credential cannot be replayed in the other direction), subject
 * and authority key identifiers, and subjectAltName. A leaf never outlives
 * its CA: notAfter is capped at the CA's notAfter.
 */
import { createHash, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { AirlockError } from '../errors.js';
import {
  certificatePem,
  floorToSecond,
  literalName,
  pemBlocks,
  randomSerialNumber,
  toPem,
} from './certificate-input.js';
import {
  bitString,
  booleanTrue,
  explicit,
  objectIdentifier,
  octetString,
  sequence,
  set,
  tlv,
  unsignedInteger,
  utf8String,
  x509Time,
} from './der-writer.js';
import { type CryptoKey, type CryptoKeyPair, crypto, type EcKeyAlgorithm, x509 } from './provider.js';
import {
  formatSessionGrantUri,
  SESSION_GRANT_CN_PREFIX,
  SESSION_GRANT_ORGANIZATION,
  type SessionGrantIdentity,
} from './session-grant.js';
import { ECDSA_P256, ECDSA_SHA256, type TierCa } from './tier-ca.js';

/** Longest lifetime of a session grant: 12 hours. */
export const MAX_SESSION_GRANT_SECONDS = 12 * 3600;
/** Default lifetime of a serving certificate: 24 hours. */
export const DEFAULT_SERVING_LIFETIME_SECONDS = 86_400;
/** Longest lifetime of a serving certificate: 30 days (they rotate in process). */
export const MAX_SERVING_LIFETIME_SECONDS = 30 * 86_400;

/**
 * The subject public key of a leaf: a WebCrypto ECDSA P-256 public key, or
 * its SubjectPublicKeyInfo as PEM (`-----BEGIN PUBLIC KEY-----`).
 */
export type LeafPublicKey = CryptoKey | string;

/** An issued leaf. `privateKeyPem` is set only when the key pair was generated here. */
export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM of the generated key, or undefined when the caller supplied `publicKey`. */
  readonly privateKeyPem: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Serial number, lowercase hex. */
  readonly serialNumber: string;
}

/** Options of {@link issueServingCertificate}. */
export interface IssueServingCertificateOptions {
  /** DNS names for the SAN; at least one DNS name or IP address overall. */
  readonly dnsNames?: readonly string[];
  /** IPv4/IPv6 literals for the SAN. */
  readonly ipAddresses?: readonly string[];
  /** Default 86400; at most {@link MAX_SERVING_LIFETIME_SECONDS}. */
  readonly lifetimeSeconds?: number;
  readonly now: Date;
  /** Certify this key instead of generating a new pair. */
  readonly publicKey?: LeafPublicKey;
}

/** Options of {@link issueSessionGrant}. */
export interface IssueSessionGrantOptions extends SessionGrantIdentity {
  /** Requested end (typically the SSH certificate's valid-before); capped at now + 12 h. */
  readonly notAfter: Date;
  readonly now: Date;
  /** Certify this key instead of generating a new pair. */
  readonly publicKey?: LeafPublicKey;
}

const DNS_NAME =
  /^(?=.{1,253}$)(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function usage(message: string): never {
  throw new AirlockError('USAGE', message);
}

async function subjectKey(publicKey: LeafPublicKey | undefined) {
  if (publicKey === undefined) {
    const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    return { publicKey: keys.publicKey, privateKeyPem: toPem(pkcs8, 'PRIVATE KEY') };
  }
  if (typeof publicKey !== 'string') {
    const algorithm = publicKey.algorithm as EcKeyAlgorithm;
    if (publicKey.type !== 'public' || algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
      throw new AirlockError('X509_INVALID', 'subject public key must be an ECDSA P-256 public key');
    }
    return { publicKey, privateKeyPem: undefined };
  }
  const blocks = pemBlocks(publicKey, 'PUBLIC KEY');
  if (blocks.length !== 1)
    throw new AirlockError('X509_INVALID', 'subject public key must be one PUBLIC KEY PEM block');
  try {
    const key = await crypto.subtle.importKey('spki', Uint8Array.from(blocks[0]!), ECDSA_P256, true, [
      'verify',
    ]);
    return { publicKey: key, privateKeyPem: undefined };
  } catch (error) {
    throw new AirlockError('X509_INVALID', 'subject public key must be an ECDSA P-256 public key', {
      cause: error,
    });
  }
}

/** The end of a leaf from `ca` starting at `notBefore`: `requested`, capped at the CA's notAfter; throws if none is left. */
function cappedNotAfter(ca: TierCa, request: { notBefore: Date; notAfter: Date }): Date {
  if (request.notBefore.getTime() < ca.notBefore.getTime()) {
    throw new AirlockError('X509_NOT_YET_VALID', 'the issuing CA is not yet valid', {
      detail: `CA ${ca.fingerprint} notBefore ${ca.notBefore.toISOString()}`,
    });
  }
  const notAfter = new Date(Math.min(request.notAfter.getTime(), ca.notAfter.getTime()));
  if (notAfter.getTime() <= request.notBefore.getTime()) {
    throw new AirlockError(
      'X509_EXPIRED',
      'the issuing CA has expired or expires before the certificate would start',
      {
        detail: `CA ${ca.fingerprint} notAfter ${ca.notAfter.toISOString()}`,
      },
    );
  }
  return notAfter;
}

async function issueLeaf(
  ca: TierCa,
  request: {
    subject: x509.Name;
    notBefore: Date;
    notAfter: Date;
    extendedKeyUsage: x509.ExtendedKeyUsage;
    altNames: x509.JsonGeneralName[];
    publicKey: LeafPublicKey | undefined;
  },
): Promise<IssuedCertificate> {
  const notAfter = cappedNotAfter(ca, request);
  const key = await subjectKey(request.publicKey);
  const serialNumber = randomSerialNumber();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: request.subject,
    issuer: ca.certificate.subjectName,
    notBefore: request.notBefore,
    notAfter,
    publicKey: key.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([request.extendedKeyUsage], false),
      await x509.SubjectKeyIdentifierExtension.create(key.publicKey, false),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate, false),
      new x509.SubjectAlternativeNameExtension(request.altNames, false),
    ],
  });
  return {
    certPem: certificatePem(certificate),
    privateKeyPem: key.privateKeyPem,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    serialNumber: certificate.serialNumber.toLowerCase(),
  };
}

/**
 * Issues a serving certificate (extendedKeyUsage serverAuth) for a gRPC
 * server of the CA's tier: subject `CN=<first SAN>, O=airlock-<tier>`, the
 * given DNS names and IP addresses as SANs, valid from `now` for
 * `lifetimeSeconds`. Throws `USAGE` for bad names or lifetime.
 */
export async function issueServingCertificate(
  ca: TierCa,
  options: IssueServingCertificateOptions,
): Promise<IssuedCertificate> {
  const {
    dnsNames = [],
    ipAddresses = [],
    lifetimeSeconds = DEFAULT_SERVING_LIFETIME_SECONDS,
    now,
  } = options;
  if (dnsNames.length + ipAddresses.length === 0)
    usage('a serving certificate needs at least one DNS name or IP');
  for (const name of dnsNames) if (!DNS_NAME.test(name)) usage(`not a DNS name: ${JSON.stringify(name)}`);
  for (const ip of ipAddresses) if (isIP(ip) === 0) usage(`not an IP address: ${JSON.stringify(ip)}`);
  if (
    !Number.isInteger(lifetimeSeconds) ||
    lifetimeSeconds < 60 ||
    lifetimeSeconds > MAX_SERVING_LIFETIME_SECONDS
  ) {
    usage(`lifetimeSeconds must be an integer in 60..${MAX_SERVING_LIFETIME_SECONDS}`);
  }
  const notBefore = floorToSecond(now);
  return issueLeaf(ca, {
    subject: literalName([
      ['CN', dnsNames[0] ?? ipAddresses[0] ?? ''],
      ['O', `airlock-${ca.tier}`],
    ]),
    notBefore,
    notAfter: new Date(notBefore.getTime() + lifetimeSeconds * 1000),
    extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
    altNames: [
      ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ],
    publicKey: options.publicKey,
  });
}

/**
 * Issues a session grant (extendedKeyUsage clientAuth only) binding one SSH
 * session to its user and scope digest; see session-grant.ts for the
 * encoding. Valid from `now` (whole seconds) until the earliest of the
 * requested `notAfter`, `now + 12 h` and the CA's notAfter. Throws
 * `SESSION_EXPIRED` when the requested end is not after `now`, `USAGE` for a
 * bad identity.
 */
export async function issueSessionGrant(
  ca: TierCa,
  options: IssueSessionGrantOptions,
): Promise<IssuedCertificate> {
  const { sessionId, user, scopeDigest, now } = options;
  const uri = formatSessionGrantUri({ sessionId, user, scopeDigest });
  const notBefore = floorToSecond(now);
  const requestedEnd = floorToSecond(options.notAfter).getTime();
  if (Number.isNaN(requestedEnd) || requestedEnd <= notBefore.getTime()) {
    throw new AirlockError('SESSION_EXPIRED', 'the session has no validity left to grant', {
      detail: `requested notAfter ${String(options.notAfter)} is not after now ${now.toISOString()}`,
    });
  }
  const notAfter = cappedNotAfter(ca, {
    notBefore,
    notAfter: new Date(Math.min(requestedEnd, notBefore.getTime() + MAX_SESSION_GRANT_SECONDS * 1000)),
  });
  return encodeSessionGrant(
    ca,
    { sessionId, uri, notBefore, notAfter: floorToSecond(notAfter) },
    options.publicKey,
  );
}

// The grant profile in DER, written directly (see der-writer.ts for why). The
// bytes are those the `@peculiar/x509` path of issueLeaf produces for the same
// inputs: same fields, extensions and order, so one verifier reads both.
const OID_TEXT = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
} as const;
/** The OIDs above, DER-encoded once. */
const OID = Object.fromEntries(
  Object.entries(OID_TEXT).map(([name, dotted]) => [name, objectIdentifier(dotted)]),
) as Record<keyof typeof OID_TEXT, Buffer>;
/** SubjectPublicKeyInfo of an ECDSA P-256 key up to its uncompressed point (RFC 5480 §2). */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/** The EC point of a P-256 SubjectPublicKeyInfo, the input of RFC 5280 §4.2.1.2 key identifiers (method 1). */
function p256Point(spki: Uint8Array): Buffer {
  const der = Buffer.from(spki);
  if (
    der.length !== P256_SPKI_PREFIX.length + 65 ||
    !der.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)
  )
    throw new AirlockError('X509_INVALID', 'subject public key must be an ECDSA P-256 public key');
  return der.subarray(P256_SPKI_PREFIX.length);
}

const keyIdentifier = (spki: Uint8Array) => createHash('sha1').update(p256Point(spki)).digest();

/** What every grant from one CA shares, computed once per CA. */
interface GrantIssuer {
  issuerName: Buffer;
  authorityKeyId: Buffer;
  signingKey: KeyObject;
}
const grantIssuers = new WeakMap<TierCa, GrantIssuer>();

function grantIssuer(ca: TierCa): GrantIssuer {
  let issuer = grantIssuers.get(ca);
  if (!issuer) {
    issuer = {
      issuerName: Buffer.from(ca.certificate.subjectName.toArrayBuffer()),
      authorityKeyId: keyIdentifier(new Uint8Array(ca.certificate.publicKey.rawData)),
      signingKey: KeyObject.from(ca.signingKey),
    };
    grantIssuers.set(ca, issuer);
  }
  return issuer;
}

function extension(oid: Buffer, critical: boolean, value: Uint8Array): Buffer {
  return sequence(oid, ...(critical ? [booleanTrue()] : []), octetString(value));
}

async function encodeSessionGrant(
  ca: TierCa,
  grant: { sessionId: string; uri: string; notBefore: Date; notAfter: Date },
  publicKey: LeafPublicKey | undefined,
): Promise<IssuedCertificate> {
  let spki: Buffer;
  let privateKeyPem: string | undefined;
  if (publicKey === undefined) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    spki = pair.publicKey.export({ type: 'spki', format: 'der' });
    privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  } else {
    // The supplied key goes through the same checks as for any other leaf.
    spki = KeyObject.from((await subjectKey(publicKey)).publicKey).export({ type: 'spki', format: 'der' });
  }
  const issuer = grantIssuer(ca);
  const serialNumber = randomSerialNumber();
  const signatureAlgorithm = sequence(OID.ecdsaWithSha256);
  const name = (oid: Buffer, value: string) => set(sequence(oid, utf8String(value)));
  const tbs = sequence(
    explicit(0, tlv(0x02, Buffer.from([2]))), // version v3
    unsignedInteger(Buffer.from(serialNumber, 'hex')),
    signatureAlgorithm,
    issuer.issuerName,
    sequence(x509Time(grant.notBefore), x509Time(grant.notAfter)),
    sequence(
      name(OID.commonName, `${SESSION_GRANT_CN_PREFIX}${grant.sessionId}`),
      name(OID.organization, SESSION_GRANT_ORGANIZATION),
    ),
    spki,
    explicit(
      3,
      sequence(
        extension(OID.basicConstraints, true, sequence()), // cA FALSE (the DEFAULT, so omitted)
        extension(OID.keyUsage, true, Buffer.from([0x03, 0x02, 0x07, 0x80])), // digitalSignature
        extension(OID.extKeyUsage, false, sequence(OID.clientAuth)),
        extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))),
        extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, issuer.authorityKeyId))),
        extension(OID.subjectAltName, false, sequence(tlv(0x86, Buffer.from(grant.uri, 'ascii')))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key: issuer.signingKey, dsaEncoding: 'der' });
  return {
    certPem: toPem(sequence(tbs, signatureAlgorithm, bitString(signature)), 'CERTIFICATE'),
    privateKeyPem,
    notBefore: grant.notBefore,
    notAfter: grant.notAfter,
    serialNumber: serialNumber.toLowerCase(),
  };
}
