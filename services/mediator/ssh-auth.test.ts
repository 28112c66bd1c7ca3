import pino from 'pino';
import type { AuthContext } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { testPolicy } from '../core/policy/testing.js';
import { generateCaKey } from '../core/ssh-cert/index.js';
import { signedCertificateLogin } from '../core/ssh-cert/login-test-support.js';
import { devDebugScope } from '../core/ssh-cert/scope-test-support.js';
import { type AdmissionContext, type AdmissionState, authenticate } from './ssh-auth.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const ca = generateCaKey('ed25519');

function admissionContext(): AdmissionContext {
  return {
    deps: {
      trustedSshCas: () => [ca.publicKey],
      revocation: () => [],
      policy: () => testPolicy(),
      audit: { healthy: () => true } as AdmissionContext['deps']['audit'],
      clock: () => NOW,
      limits: { preAuthTimeoutMs: 20_000, maxUnauthenticatedPerSource: 10, maxSessionsPerPrincipal: 10 },
    },
    log: pino({ level: 'silent' }),
    metrics: { authFailures: { inc: () => {} } },
    audit: async () => {},
    sessionsByPrincipal: new Map(),
  };
}

/** A signed login as ssh2 hands it over: views of buffers it may reuse for later packets. */
function signedLogin() {
  const { blob, signedData, signature } = signedCertificateLogin({
    caPrivateKey: ca,
    keyId: 'alice',
    principals: ['alice'],
    validAfter: NOW,
    validBefore: new Date(NOW.getTime() + 600_000),
    scope: devDebugScope(),
  });
  let accepted = false;
  const auth = {
    method: 'publickey',
    username: 'alice',
    key: { algo: 'ssh-ed25519-cert-v01@openssh.com', data: Buffer.from(blob) },
    signature: Buffer.from(signature),
    blob: Buffer.from(signedData),
    accept: () => {
      accepted = true;
    },
    reject: () => {},
  };
  return { auth, accepted: () => accepted, originals: { blob, signature, signedData } };
}

describe('mediator authentication stage', () => {
  it('keeps its own copies of the certificate, signature and signed data (ssh2 reuses its packet buffers)', () => {
    const login = signedLogin();
    const state = { address: '127.0.0.1', authenticated: false, span: { addEvent: () => {} } };
    authenticate(
      admissionContext(),
      login.auth as unknown as AuthContext,
      state as unknown as AdmissionState,
    );
    expect(login.accepted()).toBe(true);
    // ssh2 overwrites the buffers with the next packets before the executor session opens.
    login.auth.key.data.fill(0);
    login.auth.signature.fill(0);
    login.auth.blob.fill(0);
    const kept = state as unknown as AdmissionState;
    expect(Buffer.from(kept.certificate!)).toEqual(Buffer.from(login.originals.blob));
    expect(Buffer.from(kept.signature!)).toEqual(Buffer.from(login.originals.signature));
    expect(Buffer.from(kept.signedData!)).toEqual(Buffer.from(login.originals.signedData));
  });
});
