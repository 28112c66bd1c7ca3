/**
 * What a compromised mediator can do with what it saw: present a login
 * (certificate, signature, signed data) it captured to the executor again,
 * with a fresh session grant from the mediator CA it holds and bound to
 * that certificate, so nothing but the executor's own login checks stands
 * in the way.
 */
import { randomBytes } from 'node:crypto';
import { ExecutorClient } from '../../../services/core/rpc/executor-client.js';
import type { OpenSessionRequest, OpenSessionResponse } from '../../../services/core/rpc/messages.js';
import { sessionBindingDigest } from '../../../services/core/session/session-binding.js';
import { verifyCertificateWithoutSession } from '../../../services/core/ssh-cert/index.js';
import { issueSessionGrant } from '../../../services/core/x509/index.js';
import type { Gateway } from '../../support/executor-harness.js';

/** Records every OpenSession request this process's mediator forwards (the calls still go through). */
export function captureOpenSessions(): { captured: OpenSessionRequest[]; restore(): void } {
  const captured: OpenSessionRequest[] = [];
  const original = ExecutorClient.prototype.openSession;
  ExecutorClient.prototype.openSession = function (
    this: ExecutorClient,
    request: OpenSessionRequest,
    ...rest: unknown[]
  ): Promise<OpenSessionResponse> {
    captured.push(structuredClone(request));
    return original.call(this, request, ...(rest as []));
  };
  return {
    captured,
    restore: () => {
      ExecutorClient.prototype.openSession = original;
    },
  };
}

/**
 * Opens a session at the executor with `login` under a new session id and
 * a grant the mediator CA issues for it (`grantSeconds` from now; default:
 * until the certificate ends). Resolves with the session or rejects with
 * the executor's AirlockError.
 */
export async function presentLogin(
  gateway: Gateway,
  login: Pick<OpenSessionRequest, 'ssh_certificate' | 'auth_signature' | 'auth_signed_data' | 'principal'>,
  options: { grantSeconds?: number } = {},
): Promise<{ client: ExecutorClient; response: OpenSessionResponse }> {
  const now = new Date();
  const identity = verifyCertificateWithoutSession(login.ssh_certificate, {
    trustedCAs: [gateway.sshCa.publicKey],
    principal: login.principal,
    now,
  });
  const sessionId = randomBytes(8).toString('hex');
  const grant = await issueSessionGrant(gateway.mediatorCa, {
    sessionId,
    user: login.principal,
    scopeDigest: sessionBindingDigest(identity),
    notAfter:
      options.grantSeconds === undefined
        ? new Date(Number(identity.validBefore) * 1000)
        : new Date(now.getTime() + options.grantSeconds * 1000),
    now,
  });
  const client = new ExecutorClient({
    address: `127.0.0.1:${gateway.server.port}`,
    executorCaPem: gateway.executorCa.certPem,
    grantCertPem: grant.certPem,
    grantKeyPem: grant.privateKeyPem!,
    sessionId,
  });
  try {
    const response = await client.openSession({
      ...login,
      client_address: '127.0.0.1',
      session_id: sessionId,
    });
    return { client, response };
  } catch (error) {
    client.close();
    throw error;
  }
}
