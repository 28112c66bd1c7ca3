/**
 * admitSession(): the executor's pure admission decision, one refusal per
 * check, each with its stable code. (The effectful OpenSession stage around
 * it is covered end to end by test/integration/executor-access.test.ts and the
 * adversarial suite.)
 */
import { describe, expect, it } from 'vitest';
import { AirlockError, type ErrorCode } from '../core/errors.js';
import { loadPolicy } from '../core/policy/index.js';
import { testPolicyJson } from '../core/policy/testing.js';
import type { OpenSessionRequest } from '../core/rpc/messages.js';
import { sessionBindingDigest } from '../core/session/session-binding.js';
import { type AirlockScope, generateCaKey, verifyCertificateWithoutSession } from '../core/ssh-cert/index.js';
import { signedCertificateLogin } from '../core/ssh-cert/login-test-support.js';
import type { SessionGrant } from '../core/x509/index.js';
import { admitSession, type SessionAdmissionInput } from './session-admission.js';

const now = new Date('2030-01-01T00:00:00Z');
const ca = generateCaKey('ed25519');
const policy = loadPolicy(JSON.stringify(testPolicyJson()));
const scope: AirlockScope = {
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['api-*'],
  profile: 'debug',
  requestId: 'req-1',
  groups: ['jit:debug:prod-eu:payments'],
};

/** A login as the mediator forwards it, and the grant it would present, for `scope`. */
function login(
  overrides: { scope?: AirlockScope; grant?: Partial<SessionGrant> } = {},
): SessionAdmissionInput {
  const signed = signedCertificateLogin({
    caPrivateKey: ca,
    keyId: 'alice@test',
    principals: ['alice'],
    validAfter: new Date(now.getTime() - 60_000),
    validBefore: new Date(now.getTime() + 600_000),
    extensions: { 'permit-pty': '' },
    scope: overrides.scope ?? scope,
  });
  const identity = verifyCertificateWithoutSession(signed.blob, {
    trustedCAs: [ca.publicKey],
    principal: 'alice',
    now,
  });
  const request: OpenSessionRequest = {
    ssh_certificate: Buffer.from(signed.blob),
    auth_signature: Buffer.from(signed.signature),
    auth_signed_data: Buffer.from(signed.signedData),
    client_address: '127.0.0.1',
    session_id: 'sess-1',
    principal: 'alice',
  };
  const grant: SessionGrant = {
    sessionId: 'sess-1',
    user: 'alice',
    scopeDigest: sessionBindingDigest(identity),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 300_000),
    fingerprint: 'fp',
    ...overrides.grant,
  };
  return {
    request,
    grant,
    cluster: 'prod-eu',
    policy,
    trustedCAs: [ca.publicKey],
    revocation: [],
    now,
    sessionsOf: () => 0,
    maxSessionsPerUser: 2,
  };
}

function refusal(input: SessionAdmissionInput): ErrorCode | undefined {
  try {
    admitSession(input);
    return undefined;
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    return error.code;
  }
}

describe('admitSession', () => {
  it("admits a verified login bound to its grant, with the profile's groups, until the earlier expiry", () => {
    const admitted = admitSession(login());
    expect(admitted.identity.principal).toBe('alice');
    expect(admitted.groups).toEqual(['jit:debug:prod-eu:payments']);
    expect(admitted.expiresAt).toEqual(new Date(now.getTime() + 300_000));
  });

  it.each<[string, () => SessionAdmissionInput, ErrorCode]>([
    ['a grant for another session', () => login({ grant: { sessionId: 'sess-2' } }), 'GRANT_INVALID'],
    ['a grant for another user', () => login({ grant: { user: 'mallory' } }), 'GRANT_INVALID'],
    ['a grant for another scope', () => login({ grant: { scopeDigest: 'ab'.repeat(32) } }), 'GRANT_INVALID'],
    [
      'a grant that outlives the certificate',
      () => login({ grant: { notAfter: new Date(now.getTime() + 3_600_000) } }),
      'GRANT_INVALID',
    ],
    ['a scope for another cluster', () => ({ ...login(), cluster: 'dev' }), 'SCOPE_CLUSTER'],
    ['a profile the policy lacks', () => login({ scope: { ...scope, profile: 'gone' } }), 'PROFILE_UNKNOWN'],
    [
      'a certificate naming a group its profile does not grant',
      () => login({ scope: { ...scope, groups: [...scope.groups, 'jit:admin'] } }),
      'CERT_SCOPE_INVALID',
    ],
    [
      'one session more than the per-user limit',
      () => ({ ...login(), sessionsOf: () => 2 }),
      'LIMIT_EXCEEDED',
    ],
    [
      'a certificate from an untrusted CA',
      () => ({ ...login(), trustedCAs: [generateCaKey('ed25519').publicKey] }),
      'CERT_UNTRUSTED_CA',
    ],
  ])('refuses %s', (_name, input, code) => {
    expect(refusal(input())).toBe(code);
  });
});
