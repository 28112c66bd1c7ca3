/**
 * Whatever bytes a peer sends, the parsers and the verifier fail only with
 * an AirlockError: never a TypeError, RangeError or an asn1js exception that
 * would escape the error catalogue (and turn into an INTERNAL at the edge).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { parseCsr } from './csr.js';
import { verifyPeerCertificate } from './peer-verifier.js';
import { parseSessionGrant } from './session-grant.js';
import { mediatorCaWithGrant } from './testing.js';
import type { TierCa } from './tier-ca.js';

const NOW = new Date('2026-03-01T12:00:00Z');
let ca: TierCa;
let grantDer: Uint8Array;

beforeAll(async () => {
  ({ ca, grantDer } = await mediatorCaWithGrant(NOW, { sessionId: 'fuzz', scopeDigest: '12'.repeat(32) }));
});

function onlyAirlockErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
  }
}

async function onlyAirlockRejections(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
  }
}

/** A grant with a few bytes overwritten, so parsing gets deep before it fails. */
const mutatedGrant = () =>
  fc
    .array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
      minLength: 1,
      maxLength: 4,
    })
    .map((mutations) => {
      const copy = Uint8Array.from(grantDer);
      for (const { at, value } of mutations) copy[at % copy.length] = value;
      return copy;
    });

const anyBytes = () => fc.oneof(fc.uint8Array({ maxLength: 2048 }), mutatedGrant());
const asPem = (bytes: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(bytes).toString('base64')}\n-----END CERTIFICATE-----\n`;

describe('x509 fuzz', () => {
  it('parseSessionGrant throws only AirlockError, for DER and PEM input', () => {
    fc.assert(
      fc.property(anyBytes(), (bytes) => {
        onlyAirlockErrors(() => parseSessionGrant(bytes));
        onlyAirlockErrors(() => parseSessionGrant(asPem(bytes)));
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => onlyAirlockErrors(() => parseSessionGrant(text))),
    );
  });

  it('verifyPeerCertificate rejects only with AirlockError', async () => {
    await fc.assert(
      fc.asyncProperty(anyBytes(), fc.boolean(), async (bytes, pem) => {
        await onlyAirlockRejections(() =>
          verifyPeerCertificate(pem ? asPem(bytes) : bytes, {
            trustedCas: [ca.certPem],
            usage: 'client',
            now: NOW,
          }),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('verifyPeerCertificate rejects only with AirlockError when the trusted CA itself is garbage', async () => {
    await fc.assert(
      fc.asyncProperty(anyBytes(), async (bytes) => {
        await onlyAirlockRejections(() =>
          verifyPeerCertificate(grantDer, { trustedCas: [bytes], usage: 'client', now: NOW }),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('no mutated grant both verifies and differs from the original', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedGrant(), async (bytes) => {
        const verified = await verifyPeerCertificate(bytes, {
          trustedCas: [ca.certPem],
          usage: 'client',
          now: NOW,
        }).catch((error: unknown) => {
          expect(error).toBeInstanceOf(AirlockError);
          return undefined;
        });
        // A mutation that survives must be one that does not change the DER's meaning (e.g. a no-op overwrite).
        if (verified !== undefined) expect(Buffer.from(bytes).equals(Buffer.from(grantDer))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('parseCsr rejects only with AirlockError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 1024 }), async (bytes) => {
        const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(bytes).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
        await onlyAirlockRejections(() => parseCsr(pem));
      }),
      { numRuns: 200 },
    );
  });
});
