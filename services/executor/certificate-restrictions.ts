/**
 * What the user's certificate itself restricts, checked by the executor on
 * every intent so that a compromised mediator cannot skip it (security
 * review finding 3): the `permit-pty` and `permit-port-forwarding`
 * extensions and the `force-command` critical option (OpenSSH
 * PROTOCOL.certkeys). The mediator checks the same for an early answer.
 *
 * force-command is a line of the mediator's command language: the session
 * may then make exactly the executor calls that command makes and no other.
 * As in OpenSSH, it governs sessions, not port forwarding, which
 * `permit-port-forwarding` governs.
 *
 * Pure: the decision only; intent-call.ts audits it like a policy denial.
 */

import { type Command, parseCommand, splitCommandLine } from '../core/command-language/index.js';
import type { AirlockError } from '../core/errors.js';
import type { Intent } from '../core/policy/index.js';
import type { CertificateIdentity } from '../core/ssh-cert/index.js';

/** A refusal, shaped like a policy denial. */
export interface CertificateDenial {
  readonly code: Extract<AirlockError['code'], 'ACTION_NOT_ALLOWED'>;
  readonly reason: string;
  readonly rule: string;
}

/** The executor calls a command of the mediator's language makes (none for whoami, help, ...). */
export function intentsOfCommand(command: Command): Intent[] {
  switch (command.kind) {
    case 'pods':
    case 'events':
      return [{ action: 'list', namespace: command.namespace, resource: command.kind }];
    case 'get': {
      const namespace = command.namespace || undefined;
      if (!command.name) return [{ action: 'list', namespace, resource: command.resource }];
      return [
        {
          action: 'get',
          namespace,
          resource: command.resource,
          ...(command.resource === 'pods' ? { pod: command.name } : {}),
        },
      ];
    }
    case 'describe':
      return [
        { action: 'get', namespace: command.target.namespace, resource: 'pods', pod: command.target.pod },
      ];
    case 'logs':
      return [{ action: 'logs', namespace: command.target.namespace, pod: command.target.pod }];
    case 'exec':
      return [
        { action: 'exec', namespace: command.target.namespace, pod: command.target.pod, argv: command.argv },
      ];
    case 'shell':
      return [{ action: 'shell', namespace: command.target.namespace, pod: command.target.pod }];
    case 'debug':
      return [
        {
          action: 'debug',
          namespace: command.target.namespace,
          pod: command.target.pod,
          image: command.image,
        },
      ];
    default:
      return [];
  }
}

function sameIntent(allowed: Intent, intent: Intent): boolean {
  const argv = (value: readonly string[] | undefined) => JSON.stringify(value ?? []);
  return (
    allowed.action === intent.action &&
    (allowed.namespace ?? '') === (intent.namespace ?? '') &&
    (allowed.pod ?? '') === (intent.pod ?? '') &&
    (allowed.resource ?? '') === (intent.resource ?? '') &&
    (allowed.image ?? '') === (intent.image ?? '') &&
    (allowed.action !== 'exec' || argv(allowed.argv) === argv(intent.argv))
  );
}

/** The intents a force-command allows; `undefined` when it does not parse (then none is allowed). */
function forcedIntents(forceCommand: string, namespace: string): Intent[] | undefined {
  try {
    return intentsOfCommand(parseCommand(splitCommandLine(forceCommand), { namespace }));
  } catch {
    return undefined;
  }
}

/**
 * The certificate's refusal of `intent`, or `undefined` when the
 * certificate allows it (the policy still decides). `namespace` is the
 * scope's, the default of the force-command's pod names.
 */
export function certificateDenial(
  identity: CertificateIdentity,
  intent: Intent,
  namespace: string,
): CertificateDenial | undefined {
  const extensions = identity.extensions;
  if (intent.action === 'port-forward') {
    if (extensions['permit-port-forwarding'] !== undefined) return undefined;
    return {
      code: 'ACTION_NOT_ALLOWED',
      reason: 'this certificate does not permit port forwarding',
      rule: 'certificate.permit-port-forwarding',
    };
  }
  if (intent.tty && extensions['permit-pty'] === undefined) {
    return {
      code: 'ACTION_NOT_ALLOWED',
      reason: 'this certificate does not permit a terminal (permit-pty)',
      rule: 'certificate.permit-pty',
    };
  }
  if (identity.forceCommand === undefined) return undefined;
  const allowed = forcedIntents(identity.forceCommand, namespace);
  if (allowed?.some((candidate) => sameIntent(candidate, intent))) return undefined;
  return {
    code: 'ACTION_NOT_ALLOWED',
    reason: 'this certificate allows only its force-command',
    rule: 'certificate.force-command',
  };
}
