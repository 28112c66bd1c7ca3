import { InMemoryAuditTrail } from '../core/audit/index.js';
import { testPolicy } from '../core/policy/testing.js';
import { formatPublicKeyLine, generateCaKey } from '../core/ssh-cert/index.js';
import { InMemoryDenyList } from './deny-list.js';
import type { Identity } from './identity.js';
import { InMemoryRequestStore } from './request-store.js';
import type { AccessBrokerDeps } from './requests/types.js';

/*
 * What the tests of the access broker on in-memory ports share (access-broker,
 * moderation-cert, kube-csr-broker, revocation-catch-up, launcher/tier-lifecycle):
 * people, a fresh user key, the shell request on api-0, and the broker's ports.
 */

export const person = (user: string, groups: string[]): Identity => ({
  user,
  groups,
  kind: 'human',
  via: 'oidc',
});

/** The public key line of a fresh ed25519 key, with `comment`. */
export const newKeyLine = (comment: string): string =>
  formatPublicKeyLine(generateCaKey('ed25519').publicKey, comment);

/** A ten-minute shell request on pod api-0 in dev/payments, for `sshPublicKey`. */
export const shellRequestFor = (sshPublicKey: string) => ({
  profile: 'shell',
  cluster: 'dev',
  namespace: 'payments',
  podPatterns: ['api-0'],
  reason: 'debug',
  ttlSeconds: 600,
  sshPublicKey,
});

/**
 * What createAccessBroker needs, on in-memory ports: the test policy, an empty
 * store, deny list and audit trail on `clock`, a fresh CA key and no admin
 * groups; `overrides` replace any of them.
 */
export function inMemoryBrokerDeps(
  clock: () => Date,
  overrides: Partial<AccessBrokerDeps> = {},
): AccessBrokerDeps {
  return {
    policy: testPolicy(),
    store: new InMemoryRequestStore(),
    audit: new InMemoryAuditTrail('broker', clock),
    denyList: new InMemoryDenyList(),
    caKey: generateCaKey('ed25519'),
    adminGroups: [],
    clock,
    ...overrides,
  };
}
