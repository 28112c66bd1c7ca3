import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { CertificatesV1Api, type KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../services/core/errors.js';
import { loadExecutorService } from '../../services/core/rpc/executor-proto.js';
import { fromGrpcError } from '../../services/core/rpc/grpc-errors.js';
import { generateCaKey, parseDenyList } from '../../services/core/ssh-cert/index.js';
import { createTierCa } from '../../services/core/x509/index.js';
import { useExecutorFixture } from '../support/executor-fixture.js';
import {
  executorKubeConfig,
  type Gateway,
  newSession,
  runExec,
  startGateway,
  testPolicy,
} from '../support/executor-harness.js';
import {
  adminKubeConfig,
  createNamespace,
  type KubeAuditEvent,
  readAuditEvents,
  waitForAuditEvent,
} from '../support/kube.js';

/** The CSR object names csr mode uses for a session (kube-credentials.ts). */
function sessionCsrPrefix(sessionId: string): string {
  return `airlock-exec-${createHash('sha256').update(sessionId).digest('hex').slice(0, 16)}-`;
}

/** Names of the CertificateSigningRequest objects that exist now. */
async function existingCsrNames(): Promise<string[]> {
  const list = await adminKubeConfig().makeApiClient(CertificatesV1Api).listCertificateSigningRequest();
  return list.items.map((csr) => csr.metadata?.name ?? '');
}

// Every behaviour holds in both ways a session can reach Kubernetes (docs/executor.md).
// This file: how the session reaches Kubernetes, denials, revocation, TLS and the server's lifecycle.
describe.each(['impersonation', 'csr'] as const)(
  'executor (%s): mTLS gRPC, re-verification, Kubernetes calls as the session',
  (mode) => {
    const fixture = useExecutorFixture(mode);
    const { suffix, payments, billing, unbound, group, scope, openedSession } = fixture;
    let gateway: Gateway;
    let kube: KubeConfig;
    beforeAll(() => {
      gateway = fixture.gateway;
      kube = fixture.kube;
    });

    if (mode === 'impersonation') {
      it('impersonates airlock:session with the jit group and the session, request and trace extras', async () => {
        const session = await openedSession();
        await session.client.list(
          { kind: 'pods', namespace: '' },
          { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        );
        const event = await waitForAuditEvent(
          (e) =>
            e.impersonatedUser?.extra?.['airlock.dev/session-id']?.[0] === session.id && e.verb === 'list',
        );
        expect(event.impersonatedUser).toEqual({
          username: 'airlock:session',
          groups: [group(payments), 'system:authenticated'],
          extra: {
            'airlock.dev/user': ['alice'],
            'airlock.dev/session-id': [session.id],
            'airlock.dev/request-id': ['req-1'],
            'airlock.dev/trace-id': ['0af7651916cd43dd8448eb211c80319c'],
          },
        });
      });
    }

    if (mode === 'csr') {
      it('calls Kubernetes as the person with exactly the jit groups, from its own certificate, without impersonation', async () => {
        const session = await openedSession();
        await session.client.list({ kind: 'pods', namespace: '' });
        const event = await waitForAuditEvent(
          (e) => e.verb === 'list' && e.objectRef?.namespace === payments && e.user?.username === 'alice',
        );
        expect(event.user?.username).toBe('alice');
        expect(event.user?.groups).toEqual([group(payments), 'system:authenticated']);
        // Authenticated by an X.509 client certificate: the apiserver names it by fingerprint.
        expect(event.user?.extra).toEqual({
          'authentication.kubernetes.io/credential-id': [expect.stringMatching(/^X509SHA256=[0-9a-f]{64}$/)],
        });
        expect(event.impersonatedUser).toBeUndefined();
        expect(event.responseStatus?.code).toBe(200);
      });

      it("creates and approves the session's CSR, deletes it once signed, and leaves none after the session", async () => {
        const session = await openedSession();
        const prefix = sessionCsrPrefix(session.id);
        const forSession = (e: KubeAuditEvent) =>
          e.objectRef?.resource === 'certificatesigningrequests' &&
          (e.objectRef.name ?? '').startsWith(prefix) &&
          e.user?.username === `system:serviceaccount:${payments}:airlock-executor-${suffix}`;
        const approved = await waitForAuditEvent(
          (e) => forSession(e) && e.verb === 'update' && e.objectRef?.subresource === 'approval',
        );
        expect(approved.responseStatus?.code).toBe(200);
        const deleted = await waitForAuditEvent((e) => forSession(e) && e.verb === 'delete');
        expect(deleted.responseStatus?.code).toBe(200);
        // Signed, deleted, and the session still works with the certificate it holds.
        expect((await existingCsrNames()).filter((name) => name.startsWith(prefix))).toEqual([]);
        const echo = await runExec(session.client, {
          target: { namespace: '', pod: 'api-0', container: '' },
          argv: ['echo', 'still here'],
        });
        expect(echo.stdout.toString()).toBe('still here\n');

        await session.client.closeSession();
        // At the session's end the executor deletes by name again: the object is already gone (404).
        const again = await waitForAuditEvent(
          (e) => forSession(e) && e.verb === 'delete' && e.responseStatus?.code === 404,
        );
        expect(again.objectRef?.name).toBe(deleted.objectRef?.name);
        expect((await existingCsrNames()).filter((name) => name.startsWith(prefix))).toEqual([]);
      });

      it('fails closed with KUBE_CREDENTIALS_UNAVAILABLE when its identity may not create CSRs, and audits it', async () => {
        const namespace = `nocsr-${suffix}`;
        await createNamespace(adminKubeConfig(), namespace);
        const powerless = await executorKubeConfig(`${suffix}-nocsr`, [group(payments)], [namespace], 'none');
        const other = await startGateway(testPolicy([payments, unbound]), powerless, undefined, 'csr');
        try {
          const session = await newSession(other, { scope: scope() });
          await expect(session.client.openSession(session.request)).rejects.toMatchObject({
            code: 'KUBE_CREDENTIALS_UNAVAILABLE',
          });
          await expect(session.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
            code: 'SESSION_UNKNOWN',
          });
          const events = other.audit.appended().map((e) => e.event);
          expect(events.some((e) => e.event === 'session.opened')).toBe(false);
          expect(
            events.some(
              (e) =>
                e.event === 'auth.denied' &&
                e.code === 'KUBE_CREDENTIALS_UNAVAILABLE' &&
                e.session_id === session.id,
            ),
          ).toBe(true);
          // Refused by RBAC at the first step: nothing was created.
          const refused = await waitForAuditEvent(
            (e) =>
              e.objectRef?.resource === 'certificatesigningrequests' &&
              e.verb === 'create' &&
              e.user?.username === `system:serviceaccount:${namespace}:airlock-executor-${suffix}-nocsr`,
          );
          expect(refused.responseStatus?.code).toBe(403);
        } finally {
          await other.stop();
        }
      });

      it('refuses a system: principal before asking Kubernetes for anything', async () => {
        const session = await newSession(gateway, {
          scope: scope(),
          principal: 'system:kube-controller-manager',
        });
        await expect(session.client.openSession(session.request)).rejects.toMatchObject({
          code: 'KUBE_CREDENTIALS_UNAVAILABLE',
        });
        // The apiserver writes audit events before it answers (blocking mode): none names this session.
        const prefix = sessionCsrPrefix(session.id);
        expect(readAuditEvents().filter((e) => (e.objectRef?.name ?? '').startsWith(prefix))).toEqual([]);
      });
    }

    it.each([
      ['SCOPE_NAMESPACE', { namespace: 'billing', pod: 'api-0' }, ['echo', 'x']],
      ['SCOPE_POD', { namespace: '', pod: 'db-0' }, ['echo', 'x']],
      ['COMMAND_NOT_ALLOWED', { namespace: '', pod: 'api-0' }, ['ls', '/']],
      ['COMMAND_DENIED', { namespace: '', pod: 'api-0' }, ['cat', '/var/run/secrets/token']],
      ['SHELL_NOT_ALLOWED', { namespace: '', pod: 'api-0' }, ['bash']],
    ] as const)('denies %s before calling Kubernetes, and audits it', async (code, target, argv) => {
      const session = await openedSession();
      const realTarget = {
        ...target,
        namespace: target.namespace === 'billing' ? billing : target.namespace,
        container: '',
      };
      const result = await runExec(session.client, { target: realTarget, argv: [...argv] });
      expect(result.error?.code).toBe(code);
      expect(result.stdout.length).toBe(0);
      expect(
        gateway.audit
          .appended()
          .some(
            (e) =>
              e.event.event === 'intent.denied' &&
              e.event.code === code &&
              e.event.session_id === session.id &&
              e.durable,
          ),
      ).toBe(true);
    });

    it('denies an action the profile does not allow (port outside the list)', async () => {
      const session = await openedSession();
      const call = session.client.portForward();
      const error = await new Promise<AirlockError>((resolve) => {
        call.on('error', (e) => resolve(fromGrpcError(e)));
        call.on('data', () => {});
        call.write({ start: { target: { namespace: '', pod: 'api-0', container: '' }, port: 22 } });
      });
      expect(error.code).toBe('PORT_NOT_ALLOWED');
    });

    it('returns RBAC_DENIED with a readable reason when the policy allows but RBAC does not', async () => {
      const session = await openedSession({ namespace: unbound });
      await expect(session.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
        code: 'RBAC_DENIED',
        message: `user alice (groups ${group(unbound)}) cannot list pods in namespace ${unbound}`,
      });
      const exec = await runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: 'main' },
        argv: ['echo', 'x'],
      });
      expect(exec.error?.code).toBe('RBAC_DENIED');
    });

    it('cuts an open stream with SESSION_EXPIRED when the certificate expires', async () => {
      const session = await openedSession({}, 3);
      const result = await runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['sleep', '30'],
      });
      expect(result.error?.code).toBe('SESSION_EXPIRED');
      await expect(session.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
        code: 'SESSION_EXPIRED',
      });
    });

    it('refuses a revoked certificate', async () => {
      const session = await newSession(gateway, { scope: scope() });
      gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [session.serial.toString()] })));
      try {
        await expect(session.client.openSession(session.request)).rejects.toMatchObject({
          code: 'CERT_REVOKED',
        });
      } finally {
        gateway.revoked.pop();
      }
      expect(
        gateway.audit
          .appended()
          .some((e) => e.event.event === 'auth.denied' && e.event.code === 'CERT_REVOKED'),
      ).toBe(true);
    });

    it('cuts an open stream within 2 s when its certificate is revoked mid-session', async () => {
      const session = await newSession(gateway, { scope: scope() });
      await session.client.openSession(session.request);
      const running = runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['sleep', '30'],
      });
      await sleep(300);
      const revokedAt = Date.now();
      gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [session.serial.toString()] })));
      try {
        const result = await running;
        expect(result.error?.code).toBe('CERT_REVOKED');
        expect(Date.now() - revokedAt).toBeLessThan(2000);
        await expect(session.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
          code: 'CERT_REVOKED',
        });
      } finally {
        gateway.revoked.pop();
      }
      expect(
        gateway.audit
          .appended()
          .some(
            (e) =>
              e.event.event === 'session.closed' &&
              e.event.code === 'CERT_REVOKED' &&
              e.event.session_id === session.id,
          ),
      ).toBe(true);
    });

    it('refuses a forged session: a well-formed certificate signed by an untrusted CA', async () => {
      const session = await newSession(gateway, { scope: scope(), caKey: generateCaKey('ed25519') });
      await expect(session.client.openSession(session.request)).rejects.toMatchObject({
        code: 'CERT_UNTRUSTED_CA',
      });
    });

    it('refuses a grant issued for another session, and a grant bound to a widened scope', async () => {
      const other = await newSession(gateway, { scope: scope(), grantSessionId: 'another-session' });
      await expect(other.client.openSession(other.request)).rejects.toMatchObject({ code: 'GRANT_INVALID' });
      const widened = await newSession(gateway, { scope: scope(), grantScopeDigest: 'ab'.repeat(32) });
      await expect(widened.client.openSession(widened.request)).rejects.toMatchObject({
        code: 'GRANT_INVALID',
      });
    });

    it('refuses a client certificate from another CA, and a client without a certificate, at the TLS layer', async () => {
      const foreign = await createTierCa({ tier: 'mediator', now: new Date() });
      const session = await newSession(gateway, { scope: scope(), grantCa: foreign });
      await expect(session.client.openSession(session.request)).rejects.toMatchObject({
        code: 'EXECUTOR_UNAVAILABLE',
      });

      const Executor = loadExecutorService();
      const anonymous = new Executor(
        `127.0.0.1:${gateway.server.port}`,
        grpc.credentials.createSsl(Buffer.from(gateway.executorCa.certPem)),
        // A real TLS handshake that fails for want of a client certificate (SNI may not be an IP).
        { 'grpc.ssl_target_name_override': 'localhost' },
      ) as unknown as grpc.Client & { List: (r: object, cb: (e: grpc.ServiceError | null) => void) => void };
      const error = await new Promise<grpc.ServiceError | null>((resolve) =>
        anonymous.List({ kind: 'pods' }, resolve),
      );
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      anonymous.close();
      const openedAfter = gateway.audit.appended().filter((e) => e.event.event === 'session.opened').length;
      expect(gateway.audit.appended().filter((e) => e.event.event === 'session.opened').length).toBe(
        openedAfter,
      );
    });

    it('refuses intents on a session that was never opened', async () => {
      const session = await newSession(gateway, { scope: scope() });
      await expect(session.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
        code: 'SESSION_UNKNOWN',
      });
    });

    it('keeps serving open streams across a serving-certificate renewal', async () => {
      const session = await openedSession();
      const before = gateway.server.servingCertPem();
      const running = runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['sleep', '1'],
      });
      await sleep(200);
      await gateway.server.renewServingCertificate();
      expect(gateway.server.servingCertPem()).not.toBe(before);
      expect((await running).exit?.code).toBe(0);
      const fresh = await openedSession();
      expect(
        (
          await runExec(fresh.client, {
            target: { namespace: '', pod: 'api-0', container: '' },
            argv: ['echo', 'ok'],
          })
        ).stdout.toString(),
      ).toBe('ok\n');
    });

    it('shuts down gracefully: open streams end with EXECUTOR_SHUTDOWN after the drain time, new sessions are refused', async () => {
      const other = await startGateway(testPolicy([payments, unbound]), kube, undefined, mode);
      const session = await newSession(other, { scope: scope() });
      await session.client.openSession(session.request);
      const running = runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['sleep', '30'],
      });
      await sleep(300);
      const stopping = other.server.stop(500);
      const late = await newSession(other, { scope: scope() });
      await expect(late.client.openSession(late.request)).rejects.toBeInstanceOf(AirlockError);
      expect((await running).error?.code).toBe('EXECUTOR_SHUTDOWN');
      await stopping;
    });
  },
);
