/**
 * Micro-benchmark of services/core/ssh-cert: certificate verification (parse +
 * CA signature + session signature + all policy checks) and issuance.
 *
 * A plain node script, not a test: `npm run build && node dist/bench/ssh-cert.bench.js`.
 * Prints one JSON object with the median microseconds per operation and the
 * derived operations per second. Results are recorded, never asserted.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  type CaKeyKind,
  fromKeyObject,
  generateCaKey,
  signSshData,
  signUserCertificate,
  verifyUserCertificate,
} from '../services/core/ssh-cert/index.js';

const WARMUP = 200;
const ITERATIONS = 3000;

function measure(operation: () => void): { medianMicros: number; opsPerSecond: number } {
  for (let i = 0; i < WARMUP; i++) operation();
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = process.hrtime.bigint();
    operation();
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  samples.sort((a, b) => a - b);
  const medianMicros = samples[Math.floor(samples.length / 2)]!;
  return { medianMicros: Math.round(medianMicros * 10) / 10, opsPerSecond: Math.round(1e6 / medianMicros) };
}

function scenario(kind: CaKeyKind) {
  const ca = generateCaKey(kind);
  const { privateKey } =
    kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const userKey = fromKeyObject(privateKey);
  const now = new Date();
  const request = {
    caPrivateKey: ca,
    publicKey: userKey,
    keyId: 'bench',
    principals: ['alice'],
    validAfter: new Date(now.getTime() - 60_000),
    validBefore: new Date(now.getTime() + 3_600_000),
    extensions: { 'permit-pty': '' },
    scope: {
      cluster: 'c',
      namespace: 'ns',
      podPatterns: ['api-*'],
      profile: 'debug',
      requestId: 'r-1',
      groups: ['jit:x'],
    },
  };
  const { blob } = signUserCertificate(request);
  const sessionData = new Uint8Array(64).fill(7);
  const signature = signSshData(userKey, privateKey, sessionData);
  const options = { trustedCAs: [ca.publicKey], principal: 'alice', now };
  // Sanity: the measured path really accepts.
  verifyUserCertificate(blob, signature, sessionData, options);
  return {
    verify: measure(() => verifyUserCertificate(blob, signature, sessionData, options)),
    sign: measure(() => signUserCertificate(request)),
  };
}

const results = {
  node: process.version,
  iterations: ITERATIONS,
  ed25519: scenario('ed25519'),
  'ecdsa-p256': scenario('ecdsa-p256'),
};
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
