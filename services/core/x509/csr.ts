/**
 * PKCS#10 certificate signing requests (RFC 2986) for the Kubernetes CSR API
 * with the `kubernetes.io/kube-apiserver-client` signer, where the subject
 * is the identity: CN is the user name, each O is a group (Kubernetes docs,
 * "Certificates and Certificate Signing Requests" → "Normal user").
 *
 * Key types: ECDSA P-256 (signature ecdsa-with-SHA256) and Ed25519 (RFC 8410).
 * Node 20's WebCrypto implements Ed25519 (`{ name: 'Ed25519' }`), and
 * `@peculiar/x509` 2.2 both writes and verifies Ed25519 requests;
 * `openssl req -verify` accepts them (see csr.test.ts).
 */
import { AirlockError } from '../errors.js';
import { literalName, pemBlocks, toPem } from './certificate-input.js';
import {
  type Algorithm,
  type CryptoKeyPair,
  crypto,
  type EcdsaParams,
  type EcKeyGenParams,
  x509,
} from './provider.js';
import { ECDSA_P256, ECDSA_SHA256 } from './tier-ca.js';

/** Key types a CSR can be made for. */
export type CsrKeyType = 'ecdsa-p256' | 'ed25519';

/** Options of {@link createCsr}. */
export interface CreateCsrOptions {
  /** Kubernetes user name. */
  readonly commonName: string;
  /** Kubernetes groups, one O attribute each, in this order. */
  readonly organizations: readonly string[];
  readonly keyType: CsrKeyType;
}

/** A signing request and the private key that signed it. */
export interface CreatedCsr {
  readonly csrPem: string;
  /** PKCS#8 PEM. A secret. */
  readonly privateKeyPem: string;
}

/** What a CSR asks for. `signatureValid` is false when the self-signature does not verify. */
export interface ParsedCsr {
  readonly commonName: string | undefined;
  readonly organizations: readonly string[];
  /** `ecdsa-p256`, `ed25519`, or a description of anything else (e.g. `ECDSA P-384`, `RSASSA-PKCS1-v1_5`). */
  readonly publicKeyAlgorithm: CsrKeyType | string;
  readonly signatureValid: boolean;
  /** SubjectPublicKeyInfo of the requested key, PEM. */
  readonly publicKeyPem: string;
}

const ED25519 = { name: 'Ed25519' } as const;
const MAX_NAME_LENGTH = 256;

function checkName(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_NAME_LENGTH ||
    /[\u0000-\u001f\u007f]/.test(value)
  ) {
    throw new AirlockError(
      'USAGE',
      `${field} must be 1..${MAX_NAME_LENGTH} characters without control characters`,
    );
  }
  return value;
}

/** Generates a key pair of `keyType` and a CSR for `CN=<commonName>, O=<each organization>`. */
export async function createCsr(options: CreateCsrOptions): Promise<CreatedCsr> {
  const commonName = checkName(options.commonName, 'commonName');
  const organizations = options.organizations.map((o, index) => checkName(o, `organizations[${index}]`));
  let generate: EcKeyGenParams | Algorithm;
  let signingAlgorithm: EcdsaParams | Algorithm;
  if (options.keyType === 'ecdsa-p256') {
    generate = ECDSA_P256;
    signingAlgorithm = ECDSA_SHA256;
  } else if (options.keyType === 'ed25519') {
    generate = ED25519;
    signingAlgorithm = ED25519;
  } else {
    throw new AirlockError('USAGE', `unsupported keyType ${JSON.stringify(options.keyType)}`);
  }
  const keys = (await crypto.subtle.generateKey(generate, true, ['sign', 'verify'])) as CryptoKeyPair;
  // Literal values: commas, plus signs or quotes in a user name need no escaping.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: literalName([['CN', commonName], ...organizations.map((o) => ['O', o] as const)]),
    keys,
    signingAlgorithm,
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { csrPem: toPem(csr.rawData, 'CERTIFICATE REQUEST'), privateKeyPem: toPem(pkcs8, 'PRIVATE KEY') };
}

function describeKey(algorithm: Algorithm & { namedCurve?: string }): string {
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256') return 'ecdsa-p256';
  if (algorithm.name === 'Ed25519') return 'ed25519';
  return algorithm.namedCurve === undefined ? algorithm.name : `${algorithm.name} ${algorithm.namedCurve}`;
}

/**
 * Reads a CSR's subject and key and checks its self-signature. Throws
 * `X509_INVALID` when the text is not one parseable `CERTIFICATE REQUEST`;
 * a bad signature is reported, not thrown, so callers can say why they refuse.
 */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  const blocks = typeof csrPem === 'string' ? pemBlocks(csrPem, 'CERTIFICATE REQUEST') : [];
  if (blocks.length !== 1) {
    throw new AirlockError('X509_INVALID', 'not a certificate signing request', {
      detail: `expected one PEM CERTIFICATE REQUEST block, found ${blocks.length}`,
    });
  }
  let request: x509.Pkcs10CertificateRequest;
  let algorithm: Algorithm & { namedCurve?: string };
  try {
    request = new x509.Pkcs10CertificateRequest(Uint8Array.from(blocks[0]!));
    algorithm = request.publicKey.algorithm as Algorithm & { namedCurve?: string };
  } catch (error) {
    throw new AirlockError('X509_INVALID', 'not a certificate signing request', {
      detail: String(error),
      cause: error,
    });
  }
  let signatureValid: boolean;
  try {
    signatureValid = await request.verify();
  } catch {
    signatureValid = false;
  }
  return {
    commonName: request.subjectName.getField('CN')[0],
    organizations: request.subjectName.getField('O'),
    publicKeyAlgorithm: describeKey(algorithm),
    signatureValid,
    publicKeyPem: toPem(request.publicKey.rawData, 'PUBLIC KEY'),
  };
}
