/**
 * Every action airlock offers, through the real executor, with exactly the
 * RBAC `airlock policy rbac` renders for the policy (constrained
 * impersonation, the default): the executor's `impersonate-on:user-info:<verb>`
 * rules are derived from the profiles' actions, so a Kubernetes call the
 * executor makes for an action but the render forgot would show up here as a
 * 403 (RBAC_DENIED) on the real apiserver.
 */
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Role,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRbac } from '../../services/core/policy/index.js';
import { fromGrpcError } from '../../services/core/rpc/grpc-errors.js';
import {
  CLUSTER_NAME,
  type Gateway,
  newSession,
  runExec,
  startGateway,
  type TestSession,
  testPolicy,
} from '../support/executor-harness.js';
import {
  adminKubeConfig,
  appendContainerLog,
  clusterInfo,
  createNamespace,
  createRunningPod,
  uniqueName,
} from '../support/kube.js';

describe('executor with exactly the rendered constrained-impersonation RBAC: every action works', () => {
  const admin = adminKubeConfig();
  const namespace = uniqueName('rendered');
  const suffix = uniqueName('r');
  const policy = testPolicy([namespace]);
  const objects = renderRbac(policy, {
    cluster: CLUSTER_NAME,
    namespaces: [namespace],
    executorServiceAccount: { name: 'airlock-executor', namespace },
  });
  const clusterScoped: { kind: 'ClusterRole' | 'ClusterRoleBinding'; name: string }[] = [];
  let gateway: Gateway;
  let echoServer: Server;
  let session: TestSession;
  const target = { namespace: '', pod: 'api-0', container: '' };

  beforeAll(async () => {
    await createNamespace(admin, namespace);
    echoServer = createServer((socket) => socket.on('data', (d) => socket.write(`echo:${d}`)));
    await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
    const port = (echoServer.address() as { port: number }).port;
    await createRunningPod(admin, namespace, 'api-0', [{ name: 'main' }], {
      'fake-kubelet.airlock.dev/ports': JSON.stringify({ 8080: `127.0.0.1:${port}` }),
    });
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: 'airlock-executor' } },
    });
    for (const object of objects) {
      const body = structuredClone(object) as unknown as Record<string, { name: string }>;
      if (object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding') {
        body.metadata!.name = `${object.metadata.name}-${suffix}`;
        clusterScoped.push({ kind: object.kind, name: body.metadata!.name });
      }
      if (object.kind === 'ClusterRole')
        await rbac.createClusterRole({ body: body as unknown as V1ClusterRole });
      if (object.kind === 'ClusterRoleBinding') {
        body.roleRef!.name = `${object.roleRef.name}-${suffix}`;
        await rbac.createClusterRoleBinding({ body: body as unknown as V1ClusterRoleBinding });
      }
      if (object.kind === 'Role')
        await rbac.createNamespacedRole({ namespace, body: body as unknown as V1Role });
      if (object.kind === 'RoleBinding')
        await rbac.createNamespacedRoleBinding({ namespace, body: body as unknown as V1RoleBinding });
    }
    const token = await core.createNamespacedServiceAccountToken({
      namespace,
      name: 'airlock-executor',
      body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
    });
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
      users: [{ name: 'executor', token: token.status?.token ?? '' }],
      contexts: [{ name: 'executor', cluster: 'hermetic', user: 'executor' }],
      currentContext: 'executor',
    });
    gateway = await startGateway(policy, kc);
    session = await newSession(gateway, {
      scope: {
        cluster: CLUSTER_NAME,
        namespace,
        podPatterns: ['api-*'],
        profile: 'debug',
        requestId: 'req-rendered',
        groups: [],
      },
    });
    await session.client.openSession(session.request);
  });

  afterAll(async () => {
    session?.client.close();
    await gateway?.stop();
    echoServer?.close();
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    for (const { kind, name } of clusterScoped) {
      if (kind === 'ClusterRole') await rbac.deleteClusterRole({ name }).catch(() => {});
      else await rbac.deleteClusterRoleBinding({ name }).catch(() => {});
    }
  });

  it('renders no classic impersonate verb for the executor', () => {
    const role = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'airlock-executor');
    const verbs = role && 'rules' in role ? role.rules.flatMap((r) => r.verbs) : [];
    expect(verbs).toContain('impersonate:user-info');
    expect(verbs).not.toContain('impersonate');
  });

  it('list and get', async () => {
    const list = await session.client.list({ kind: 'pods', namespace: '' });
    expect((JSON.parse(list.json) as { items: unknown[] }).items).toHaveLength(1);
    await session.client.list({ kind: 'events', namespace: '' });
    const got = await session.client.get({ kind: 'pods', namespace: '', name: 'api-0' });
    expect(got.json).toContain('"api-0"');
  });

  it('logs', async () => {
    appendContainerLog(namespace, 'api-0', 'main', 'rendered rbac log line');
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = session.client.logs({
        target,
        follow: false,
        since_seconds: 0,
        tail_lines: -1,
        timestamps: false,
      });
      call.on('data', (c: { data: Buffer }) => chunks.push(c.data));
      call.on('end', resolve);
      call.on('error', reject);
    });
    expect(Buffer.concat(chunks).toString()).toContain('rendered rbac log line\n');
  });

  it('exec and shell', async () => {
    const echo = await runExec(session.client, { target, argv: ['echo', 'exec-ok'] });
    expect(echo.error).toBeUndefined();
    expect(echo.stdout.toString()).toBe('exec-ok\n');
    const shell = await runExec(
      session.client,
      { target, argv: ['sh'], shell: true },
      Buffer.from('echo shell-ok\n'),
    );
    expect(shell.error).toBeUndefined();
    expect(shell.stdout.toString()).toBe('shell-ok\n');
  });

  it('port-forward', async () => {
    const call = session.client.portForward();
    const received: Buffer[] = [];
    call.on('data', (c: { data: Buffer }) => received.push(c.data));
    call.on('error', () => {});
    call.write({ start: { target, port: 8080 } });
    call.write({ data: Buffer.from('ping') });
    const deadline = Date.now() + 10_000;
    while (Buffer.concat(received).toString() !== 'echo:ping' && Date.now() < deadline) await sleep(20);
    expect(Buffer.concat(received).toString()).toBe('echo:ping');
    call.end();
    call.cancel();
  });

  it('debug (ephemeral container)', async () => {
    const result = await new Promise<{ out: string; exit?: number; error?: unknown }>((resolve) => {
      const call = session.client.debug();
      let out = '';
      let exit: number | undefined;
      call.on('data', (frame: { stdout?: Buffer; exit?: { code: number } }) => {
        if (frame.stdout) out += frame.stdout.toString();
        if (frame.exit) exit = frame.exit.code;
      });
      call.on('error', (error) => resolve({ out, exit, error: fromGrpcError(error) }));
      call.on('end', () => resolve({ out, exit }));
      call.write({
        debug: { target, image: 'busybox:1.36', argv: ['echo', 'debug-ok'], tty: false, size: null },
      });
      call.write({ stdin_eof: true });
    });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ out: 'debug-ok\n', exit: 0 });
  });
});
