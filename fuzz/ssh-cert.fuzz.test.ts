/**
 * Fuzz targets: the OpenSSH certificate, KRL, public key and signature
 * parsers (services/core/ssh-cert), fed mutations of real ssh-keygen output.
 * Whatever arrives, a parser returns a value or throws an AirlockError with a
 * CERT_* code: never a TypeError, RangeError or an endless loop. What a KRL
 * parses to can be evaluated against real certificates without throwing.
 *
 * The property tests beside the parsers (certificate-fuzz.test.ts) prove
 * that a changed certificate is never *accepted*; these targets drive the
 * parsers' structure (lengths, sections, bitmaps) harder and longer.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError, CERT_CODES } from '../services/core/errors.js';
import {
  certificateBlobFromLine,
  parseCertificate,
  parseCertificateLine,
} from '../services/core/ssh-cert/certificate.js';
import type { SshCertificate } from '../services/core/ssh-cert/index.js';
import { parsePublicKeyBlob, parsePublicKeyLine } from '../services/core/ssh-cert/public-key.js';
import { createKrlRevocationList, parseKrl } from '../services/core/ssh-cert/revocation.js';
import { parseSshSignature } from '../services/core/ssh-cert/ssh-signature.js';
import { KeygenWorkspace } from '../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { fuzz } from './fuzz-runs.js';
import { mutatedBytes } from './mutate.js';

const CERT_CODE_SET: ReadonlySet<string> = new Set(CERT_CODES);

/** Runs `parse`; anything but a value or a CERT_* AirlockError fails the property. */
function parsesOrRefuses<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (error instanceof AirlockError && CERT_CODE_SET.has(error.code)) return undefined;
    throw error;
  }
}

let ws: KeygenWorkspace;
const certs: Uint8Array[] = [];
const certLines: string[] = [];
const krls: Uint8Array[] = [];
const keys: Uint8Array[] = [];
const signatures: Uint8Array[] = [];
const parsedCerts: SshCertificate[] = [];

beforeAll(() => {
  ws = new KeygenWorkspace();
  const ca = ws.makeKey('ed25519', 'ca');
  const caEc = ws.makeKey('ecdsa-384', 'ca-ec');
  for (const [i, type] of (['ed25519', 'ecdsa-256', 'rsa'] as const).entries()) {
    const user = ws.makeKey(type, `user-${type}`);
    keys.push(parsePublicKeyLine(user.publicLine).key.blob);
    const line = ws.signCert(i === 1 ? caEc.path : ca.path, user.path, [
      '-I',
      `fuzz-${type}`,
      '-n',
      'alice,bob',
      '-z',
      String(100 + i),
      '-V',
      '20300101:20300102',
      '-O',
      'source-address=10.0.0.0/8,192.168.1.1',
      '-O',
      'force-command=true',
      ...(i === 2 ? ['-O', 'no-pty'] : []),
    ]);
    certLines.push(line);
    const blob = certificateBlobFromLine(line);
    certs.push(blob);
    parsedCerts.push(parseCertificate(blob));
    signatures.push(ws.sshsig(user.path, Buffer.from('session data')).signature);
  }
  // One KRL of every section kind ssh-keygen writes: serial lists, ranges and
  // bitmaps, key ids, explicit keys, SHA-1 and SHA-256 hashes.
  const dense = Array.from({ length: 60 }, (_, i) => `serial: ${2000 + 3 * i}\n`).join('');
  krls.push(ws.makeKrl(`serial: 1-50\nserial: 101\nid: mallory\n${dense}`, `${ca.path}.pub`));
  krls.push(ws.makeKrl(`${certLines[0]}\n`));
  krls.push(ws.makeKrl(`sha256: ${certLines[1]}\nsha1: ${certLines[2]}\n`));
});
afterAll(() => ws.cleanup());

describe('fuzz: ssh-cert parsers', () => {
  it('parseCertificate: a certificate or a CERT_* error for mutated certificates', async () => {
    await fuzz(
      'parseCertificate',
      fc.property(mutatedBytes(certs), (bytes) => {
        parsesOrRefuses(() => parseCertificate(bytes));
      }),
    );
  });

  it('parseKrl: a KRL or a CERT_* error for mutated KRLs, and a parsed one evaluates certificates', async () => {
    await fuzz(
      'parseKrl',
      fc.property(mutatedBytes(krls), (bytes) => {
        const krl = parsesOrRefuses(() => parseKrl(bytes));
        if (!krl) return;
        const list = createKrlRevocationList(krl);
        for (const certificate of parsedCerts) {
          const reason = list.revocationReason(certificate);
          expect(reason === undefined || typeof reason === 'string').toBe(true);
        }
      }),
    );
  });

  it('parsePublicKeyBlob and parseSshSignature: a value or a CERT_* error', async () => {
    await fuzz(
      'parsePublicKeyBlob+parseSshSignature',
      fc.property(mutatedBytes([...keys, ...signatures]), (bytes) => {
        parsesOrRefuses(() => parsePublicKeyBlob(bytes));
        parsesOrRefuses(() => parseSshSignature(bytes));
      }),
    );
  });

  it('parseCertificateLine and parsePublicKeyLine: a value or a CERT_* error for mutated text lines', async () => {
    const line = fc.oneof(
      mutatedBytes(certLines.map((l) => Buffer.from(l))).map((b) => b.toString('latin1')),
      fc.string({ unit: 'binary', maxLength: 300 }),
    );
    await fuzz(
      'parseCertificateLine+parsePublicKeyLine',
      fc.property(line, (text) => {
        parsesOrRefuses(() => parseCertificateLine(text));
        parsesOrRefuses(() => parsePublicKeyLine(text));
      }),
    );
  });
});
