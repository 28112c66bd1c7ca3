import { webcrypto, X509Certificate } from 'node:crypto';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { createServer, type Server } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CertificatesV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  PortForward,
  type V1Status,
} from '@kubernetes/client-node';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImpersonatingKubeConfig,
  impersonatingConfiguration,
} from '../../services/executor/kube-impersonation.js';
import {
  adminKubeConfig,
  appendContainerLog,
  bindOncallDebug,
  createNamespace,
  createRunningPod,
  uniqueName,
  waitForAuditEvent,
} from '../support/kube.js';

x509.cryptoProvider.set(webcrypto);

/** Collects everything written to it as one string. */
class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

describe('hermetic cluster: a real kube-apiserver with RBAC, impersonation, streaming, CSRs and tokens', () => {
  const admin = adminKubeConfig();
  const payments = uniqueName('payments');
  const billing = uniqueName('billing');
  const pod = 'app';

  beforeAll(async () => {
    await createNamespace(admin, payments);
    await createNamespace(admin, billing);
    await bindOncallDebug(admin, payments, 'oncall-payments');
    await createRunningPod(admin, payments, pod, [{ name: 'main' }]);
  });

  it('lets an impersonated member of oncall-payments list pods and read logs in payments, and denies billing with 403', async () => {
    const asAlice = new CoreV1Api(
      impersonatingConfiguration(admin, { user: 'alice', groups: ['oncall-payments'], extra: {} }),
    );
    const list = await asAlice.listNamespacedPod({ namespace: payments });
    expect(list.items.map((p) => p.metadata?.name)).toEqual([pod]);

    appendContainerLog(payments, pod, 'main', 'hello from main');
    const logs = await asAlice.readNamespacedPodLog({ namespace: payments, name: pod, container: 'main' });
    expect(logs).toBe('hello from main\n');

    expect(await statusOf(asAlice.listNamespacedPod({ namespace: billing }))).toBe(403);
    const asNobody = new CoreV1Api(
      impersonatingConfiguration(admin, { user: 'alice', groups: [], extra: {} }),
    );
    expect(await statusOf(asNobody.listNamespacedPod({ namespace: payments }))).toBe(403);
  });

  it('records two groups and two extra values, each sent as its own header line, exactly in the audit log', async () => {
    const extra = {
      'airlock.dev/session-id': ['sess-123'],
      'airlock.dev/trace-id': ['4bf92f3577b34da6a3ce929d0e0e4736'],
    };
    const asBob = new CoreV1Api(
      impersonatingConfiguration(admin, {
        user: 'bob',
        groups: ['oncall-payments', 'jit:oncall:payments'],
        extra,
      }),
    );
    await asBob.listNamespacedPod({ namespace: payments });

    const event = await waitForAuditEvent(
      (e) =>
        e.impersonatedUser?.username === 'bob' && e.objectRef?.namespace === payments && e.verb === 'list',
    );
    expect(event.impersonatedUser).toEqual({
      username: 'bob',
      groups: ['oncall-payments', 'jit:oncall:payments', 'system:authenticated'],
      extra,
    });
  });

  it('runs exec over websocket v5: returns stdout, reports exit code 7, and delivers stdin EOF', async () => {
    const exec = new Exec(
      new ImpersonatingKubeConfig(admin, { user: 'carol', groups: ['system:masters'], extra: {} }),
    );
    const run = async (argv: string[], input?: string) => {
      const stdout = new Collector();
      const stderr = new Collector();
      const stdin = input === undefined ? null : new PassThrough();
      let status: V1Status | undefined;
      const done = new Promise<void>((resolve) => {
        void exec.exec(payments, pod, 'main', argv, stdout, stderr, stdin, false, (s) => {
          status = s;
          resolve();
        });
      });
      if (stdin) {
        await sleep(200);
        stdin.end(input);
      }
      await done;
      return { stdout: stdout.text, status };
    };

    const echo = await run(['echo', 'hello', 'world']);
    expect(echo.stdout).toBe('hello world\n');
    expect(echo.status?.status).toBe('Success');

    const exit7 = await run(['sh', '-c', 'exit 7']);
    expect(exit7.status?.reason).toBe('NonZeroExitCode');
    expect(exit7.status?.details?.causes).toEqual([{ reason: 'ExitCode', message: '7' }]);

    // `cat` only exits once its stdin is closed: EOF must travel end to end.
    const cat = await run(['cat'], 'line one\nline two\n');
    expect(cat.stdout).toBe('line one\nline two\n');
    expect(cat.status?.status).toBe('Success');

    const event = await waitForAuditEvent(
      (e) => e.impersonatedUser?.username === 'carol' && e.objectRef?.subresource === 'exec',
    );
    expect(event.impersonatedUser?.groups).toEqual(['system:masters', 'system:authenticated']);
  });

  it('follows a log: lines appended after the stream opened arrive', async () => {
    const followPod = 'follower';
    await createRunningPod(admin, payments, followPod, [{ name: 'follow' }]);
    appendContainerLog(payments, followPod, 'follow', 'before');
    const out = new Collector();
    // Over node:https as the executor streams logs, not client-node 2's Log: that one pipes undici's body
    // into `out` with no error listener, so its own abort() surfaces as an uncaught AbortError.
    const options: RequestOptions = { method: 'GET' };
    await admin.applyToHTTPSOptions(options);
    const url = `${admin.getCurrentCluster()!.server}/api/v1/namespaces/${payments}/pods/${followPod}/log?container=follow&follow=true`;
    const request = httpsRequest(url, options, (res) => res.on('error', () => {}).pipe(out));
    const stopped = new Promise<void>((resolve) => request.on('close', resolve));
    request.on('error', () => {}); // destroy() below ends the stream on purpose
    request.end();
    try {
      await until(() => out.text.includes('before\n'));
      appendContainerLog(payments, followPod, 'follow', 'after-1');
      appendContainerLog(payments, followPod, 'follow', 'after-2');
      await until(() => out.text.includes('after-2\n'));
      expect(out.text).toBe('before\nafter-1\nafter-2\n');
    } finally {
      request.destroy();
      await stopped;
    }
  });

  it('carries port-forward bytes both ways to a local server standing in for the pod port', async () => {
    const server: Server = createServer((socket) => {
      socket.on('data', (data) => socket.write(`echo:${data.toString()}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    const forwarded = 'forwarded';
    await createRunningPod(admin, payments, forwarded, [{ name: 'web' }], {
      'fake-kubelet.airlock.dev/ports': JSON.stringify({ 8080: `127.0.0.1:${address.port}` }),
    });

    const output = new Collector();
    const input = new PassThrough();
    const ws = await new PortForward(admin).portForward(payments, forwarded, [8080], output, null, input);
    try {
      input.write('ping');
      await until(() => output.text === 'echo:ping');
      expect(output.text).toBe('echo:ping');
    } finally {
      (ws as { close(): void }).close();
      server.close();
    }
  });

  it('signs a kube-apiserver-client CSR with expirationSeconds 600, and the certificate authenticates as CN/O', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=dave, O=jit:oncall:payments',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    const certificates = admin.makeApiClient(CertificatesV1Api);
    const name = uniqueName('dave');
    await certificates.createCertificateSigningRequest({
      body: {
        metadata: { name },
        spec: {
          request: Buffer.from(csr.toString('pem')).toString('base64'),
          signerName: 'kubernetes.io/kube-apiserver-client',
          expirationSeconds: 600,
          usages: ['client auth'],
        },
      },
    });
    const pending = await certificates.readCertificateSigningRequest({ name });
    pending.status = {
      conditions: [
        { type: 'Approved', status: 'True', reason: 'AirlockTest', message: 'approved by the test' },
      ],
    };
    await certificates.replaceCertificateSigningRequestApproval({ name, body: pending });

    let issued: string | undefined;
    for (let i = 0; i < 200 && issued === undefined; i++) {
      issued = (await certificates.readCertificateSigningRequest({ name })).status?.certificate;
      if (issued === undefined) await sleep(100);
    }
    expect(issued).toBeDefined();
    const pem = Buffer.from(issued!, 'base64').toString('utf8');
    const cert = new X509Certificate(pem);
    const secondsLeft = (Date.parse(cert.validTo) - Date.now()) / 1000;
    expect(secondsLeft).toBeGreaterThan(540);
    expect(secondsLeft).toBeLessThanOrEqual(600);

    const privateKey = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
      'base64',
    );
    const asDave = new KubeConfig();
    asDave.loadFromOptions({
      clusters: admin.clusters,
      users: [
        {
          name: 'dave',
          certData: Buffer.from(pem).toString('base64'),
          keyData: Buffer.from(
            `-----BEGIN PRIVATE KEY-----\n${privateKey}\n-----END PRIVATE KEY-----\n`,
          ).toString('base64'),
        },
      ],
      contexts: [{ name: 'dave', cluster: admin.getCurrentCluster()!.name, user: 'dave' }],
      currentContext: 'dave',
    });
    const review = await asDave.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe('dave');
    expect(review.status?.userInfo?.groups).toEqual(['jit:oncall:payments', 'system:authenticated']);
  });

  it('issues a TokenRequest token with the asked expiry that a TokenReview authenticates', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({
      namespace: payments,
      body: { metadata: { name: 'runbook' } },
    });
    const before = Date.now();
    const token = await core.createNamespacedServiceAccountToken({
      namespace: payments,
      name: 'runbook',
      body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 600 } },
    });
    const expiry = token.status?.expirationTimestamp
      ? new Date(token.status.expirationTimestamp).getTime()
      : 0;
    expect(Math.abs(expiry - before - 600_000)).toBeLessThan(10_000);

    const review = await admin.makeApiClient(AuthenticationV1Api).createTokenReview({
      body: { spec: { token: token.status?.token ?? '' } },
    });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe(`system:serviceaccount:${payments}:runbook`);

    const rejected = await admin.makeApiClient(AuthenticationV1Api).createTokenReview({
      body: { spec: { token: `${token.status?.token ?? ''}x` } },
    });
    expect(rejected.status?.authenticated).toBeFalsy();
  });

  it('answers SubjectAccessReviews consistently with the oncall-debug binding', async () => {
    const authz = admin.makeApiClient(AuthorizationV1Api);
    const ask = async (namespace: string, verb: string, resource: string, subresource?: string) => {
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: 'alice',
            groups: ['oncall-payments'],
            resourceAttributes: { namespace, verb, resource, subresource },
          },
        },
      });
      return review.status?.allowed === true;
    };
    expect(await ask(payments, 'list', 'pods')).toBe(true);
    expect(await ask(payments, 'get', 'pods', 'log')).toBe(true);
    expect(await ask(payments, 'create', 'pods', 'exec')).toBe(false);
    expect(await ask(billing, 'list', 'pods')).toBe(false);
  });

  afterAll(async () => {
    const core = admin.makeApiClient(CoreV1Api);
    await core.deleteNamespace({ name: payments }).catch(() => {});
    await core.deleteNamespace({ name: billing }).catch(() => {});
  });
});
