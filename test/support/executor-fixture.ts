import { createServer, type Server } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import type { AirlockScope } from '../../services/core/ssh-cert/index.js';
import type { KubeCredentialMode } from '../../services/executor/kube-credentials.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  newSession,
  startGateway,
  type TestSession,
  testPolicy,
} from './executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from './kube.js';

/**
 * What the executor integration tests (test/integration/executor-*.test.ts)
 * share per credentials mode: namespaces `payments` and `billing` with RBAC
 * for the jit group, `unbound` in the policy's scope without RBAC, an `api-0`
 * pod in each whose port 8080 echoes, a `db-0` pod outside the pod patterns,
 * and a gateway. `gateway` and `kube` are set once the beforeAll has run.
 */
export interface ExecutorFixture {
  readonly suffix: string;
  readonly payments: string;
  readonly billing: string;
  /** In the policy's scope but with no RBAC for the jit group: RBAC must still deny. */
  readonly unbound: string;
  readonly gateway: Gateway;
  readonly kube: KubeConfig;
  group(ns: string): string;
  scope(overrides?: Partial<AirlockScope>): AirlockScope;
  openedSession(overrides?: Partial<AirlockScope>, validSeconds?: number): Promise<TestSession>;
}

/** Registers the fixture's beforeAll and afterAll in the calling describe block. */
export function useExecutorFixture(mode: KubeCredentialMode): ExecutorFixture {
  const suffix = uniqueName('ex');
  const payments = `payments-${suffix}`;
  const billing = `billing-${suffix}`;
  /** In the policy's scope but with no RBAC for the jit group: RBAC must still deny. */
  const unbound = `unbound-${suffix}`;
  const group = (ns: string) => `jit:debug:${ns}`;
  let gateway: Gateway;
  let kube: KubeConfig;
  let echoServer: Server;
  const scope = (overrides: Partial<AirlockScope> = {}): AirlockScope => ({
    cluster: CLUSTER_NAME,
    namespace: payments,
    podPatterns: ['api-*'],
    profile: 'debug',
    requestId: 'req-1',
    groups: [],
    ...overrides,
  });

  beforeAll(async () => {
    const admin = adminKubeConfig();
    for (const ns of [payments, billing, unbound]) await createNamespace(admin, ns);
    echoServer = createServer((socket) => socket.on('data', (d) => socket.write(`echo:${d}`)));
    await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
    const port = (echoServer.address() as { port: number }).port;
    for (const ns of [payments, billing, unbound]) {
      await createRunningPod(admin, ns, 'api-0', [{ name: 'main' }], {
        'fake-kubelet.airlock.dev/ports': JSON.stringify({ 8080: `127.0.0.1:${port}` }),
      });
    }
    await createRunningPod(admin, payments, 'db-0', [{ name: 'main' }]);
    kube = await executorKubeConfig(suffix, [group(payments), group(unbound)], [payments, billing], mode);
    gateway = await startGateway(testPolicy([payments, unbound]), kube, undefined, mode);
  });

  afterAll(async () => {
    await gateway?.stop();
    echoServer?.close();
  });

  async function openedSession(overrides: Partial<AirlockScope> = {}, validSeconds?: number) {
    const session = await newSession(gateway, { scope: scope(overrides), validSeconds });
    await session.client.openSession(session.request);
    return session;
  }

  return {
    suffix,
    payments,
    billing,
    unbound,
    get gateway() {
      return gateway;
    },
    get kube() {
      return kube;
    },
    group,
    scope,
    openedSession,
  };
}
