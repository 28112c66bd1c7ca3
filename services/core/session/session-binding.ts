import { createHash } from 'node:crypto';
import type { CertificateIdentity } from '../ssh-cert/index.js';

/**
 * The digest a session grant carries to bind it to exactly one SSH
 * certificate: principal, key id, serial and scope, as canonical JSON
 * (keys in a fixed order), SHA-256, hex. The mediator puts it in the grant;
 * the executor recomputes it from the certificate it verified itself, so a
 * grant cannot be paired with another certificate or a widened scope.
 */
export function sessionBindingDigest(identity: CertificateIdentity): string {
  const scope = identity.scope;
  const canonical = JSON.stringify([
    identity.principal,
    identity.keyId,
    identity.serial.toString(10),
    scope
      ? [
          scope.cluster,
          scope.namespace,
          [...scope.podPatterns],
          scope.profile,
          scope.requestId,
          [...scope.groups],
          // The optional members only when present: a certificate without
          // them binds to the same digest as before they existed.
          ...(scope.runbook ? [['runbook', scope.runbook.name, scope.runbook.stepsDigest]] : []),
          ...(scope.containerPatterns ? [['containers', ...scope.containerPatterns]] : []),
        ]
      : null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
