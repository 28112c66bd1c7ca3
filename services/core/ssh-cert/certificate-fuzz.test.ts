/**
 * Robustness properties: whatever bytes arrive, the parser and verifier only
 * ever throw AirlockError with a CERT_* code, and a certificate or signature
 * that differs from a valid one in any way is never accepted.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError, CERT_CODES } from '../errors.js';
import { type VerifyCertificateOptions, verifyUserCertificate } from './cert-verifier.js';
import { certificateBlobFromLine, parseCertificate } from './certificate.js';
import { parseOpenSshPrivateKey } from './private-key.js';
import { parsePublicKeyBlob, parsePublicKeyLine } from './public-key.js';
import { parseKrl } from './revocation.js';
import { parseSshSignature } from './ssh-signature.js';

interface Vector {
  readonly name: string;
  readonly cert: Uint8Array;
  readonly signature: Uint8Array;
  readonly signedData: Uint8Array;
}

const NOW = new Date('2030-01-01T12:00:00Z');
let ws: KeygenWorkspace;
let options: VerifyCertificateOptions;
const vectors: Vector[] = [];

beforeAll(() => {
  ws = new KeygenWorkspace();
  const cas = [ws.makeKey('ed25519', 'ca-ed'), ws.makeKey('ecdsa-256', 'ca-ec'), ws.makeKey('rsa', 'ca-rsa')];
  const users = [ws.makeKey('ed25519', 'u-ed'), ws.makeKey('ecdsa-384', 'u-ec'), ws.makeKey('rsa', 'u-rsa')];
  options = {
    trustedCAs: cas.map((ca) => parsePublicKeyLine(ca.publicLine).key),
    principal: 'alice',
    now: NOW,
    clientAddress: '10.1.2.3',
  };
  for (const [i, ca] of cas.entries()) {
    const user = users[i]!;
    const line = ws.signCert(ca.path, user.path, [
      ...(i === 2 ? ['-t', 'rsa-sha2-512'] : []),
      '-I',
      'fuzz',
      '-n',
      'alice',
      '-V',
      '20300101:20300102',
      '-O',
      'source-address=10.0.0.0/8',
      '-O',
      'force-command=true',
    ]);
    const { signature, signedData } = ws.sshsig(user.path, Buffer.from('data'));
    vectors.push({
      name: `${user.path.split('/').pop()} by ${ca.path.split('/').pop()}`,
      cert: certificateBlobFromLine(line),
      signature,
      signedData,
    });
  }
});
afterAll(() => ws.cleanup());

/** Runs `fn`; returns the CERT code thrown, or 'accepted'. Any other throw fails the test. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    if (!(error instanceof AirlockError))
      throw new Error(`non-airlock error escaped: ${String(error)}`, { cause: error });
    if (!(CERT_CODES as readonly string[]).includes(error.code))
      throw new Error(`unexpected code ${error.code}`);
    return error.code;
  }
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('overwrite' as const),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 254 }),
    count: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const b = Buffer.from(bytes);
  const at = 'at' in m ? m.at % (b.length + 1) : 0;
  switch (m.kind) {
    case 'overwrite': {
      const out = Buffer.from(b);
      for (let i = 0; i < m.count && at + i < out.length; i++)
        out[at + i] = (out[at + i]! + m.value + 1) & 0xff;
      return out;
    }
    case 'insert':
      return Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
    case 'truncate':
      return b.subarray(0, Math.min(at, b.length - 1));
    default:
      return Buffer.concat([b, Buffer.from(m.bytes)]);
  }
}

describe('robustness', () => {
  it('the unmodified vectors are accepted', () => {
    for (const v of vectors) {
      expect(
        outcome(() => verifyUserCertificate(v.cert, v.signature, v.signedData, options)),
        v.name,
      ).toBe('accepted');
    }
  });

  // Exhaustive over every bit (~20k verifications), so allow more than the default timeout on a loaded machine.
  it('every single flipped bit in a certificate or its session signature is refused', {
    timeout: 120_000,
  }, () => {
    for (const v of vectors) {
      for (let bit = 0; bit < v.cert.length * 8; bit++) {
        const result = outcome(() =>
          verifyUserCertificate(flipBit(v.cert, bit), v.signature, v.signedData, options),
        );
        if (result === 'accepted') expect.fail(`${v.name}: flipping certificate bit ${bit} was accepted`);
      }
      for (let bit = 0; bit < v.signature.length * 8; bit++) {
        const result = outcome(() =>
          verifyUserCertificate(v.cert, flipBit(v.signature, bit), v.signedData, options),
        );
        if (result === 'accepted') expect.fail(`${v.name}: flipping signature bit ${bit} was accepted`);
      }
    }
  });

  it('every truncation of a certificate is CERT_MALFORMED', () => {
    for (const v of vectors) {
      for (let length = 0; length < v.cert.length; length++) {
        expect(outcome(() => parseCertificate(v.cert.subarray(0, length)))).toBe('CERT_MALFORMED');
      }
    }
  });

  it('random bytes never escape as anything but CERT_MALFORMED from any parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        for (const parse of [parseCertificate, parsePublicKeyBlob, parseSshSignature, parseKrl]) {
          const result = outcome(() => parse(bytes));
          expect(['CERT_MALFORMED', 'accepted']).toContain(result);
        }
        expect(outcome(() => parseOpenSshPrivateKey(Buffer.from(bytes).toString('latin1')))).toBe(
          'CERT_MALFORMED',
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('random mutations (overwrite, insert, delete, truncate, extend) of valid blobs are never accepted', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 }), fc.boolean(), mutation, (index, onCert, m) => {
        const v = vectors[index]!;
        const cert = onCert ? applyMutation(v.cert, m) : v.cert;
        const signature = onCert ? v.signature : applyMutation(v.signature, m);
        if (Buffer.from(cert).equals(v.cert) && Buffer.from(signature).equals(v.signature)) return;
        expect(outcome(() => verifyUserCertificate(cert, signature, v.signedData, options))).not.toBe(
          'accepted',
        );
      }),
      { numRuns: 3000 },
    );
  });
});
