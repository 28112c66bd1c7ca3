import { AIRLOCK_SCOPE_EXTENSION, type AirlockScope, formatAirlockScope } from './airlock-scope.js';

/*
 * What the tests of certificates for the test policy's debug profile share
 * (certificate-admission, and the ssh-keygen made ones of cli/commands'
 * ca.test.ts and ssh-cert.test.ts): the scope the broker puts in them.
 */

/** The scope of request req-1: profile debug (of testPolicy) on dev/payments, pods api-*, no groups. */
export const devDebugScope = (): AirlockScope => ({
  cluster: 'dev',
  namespace: 'payments',
  podPatterns: ['api-*'],
  profile: 'debug',
  requestId: 'req-1',
  groups: [],
});

/** The ssh-keygen arguments that put devDebugScope() in a certificate as its airlock scope extension. */
export const devDebugScopeOption = (): string[] => [
  '-O',
  `extension:${AIRLOCK_SCOPE_EXTENSION}=${formatAirlockScope(devDebugScope())}`,
];
