import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import type { AirlockScope } from '../../services/core/ssh-cert/index.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  startGateway,
  testPolicy,
} from './executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from './kube.js';
import { type Mediator, startMediator } from './mediator-harness.js';

/**
 * What the mediator e2e tests (test/e2e/mediator*.test.ts) share: a
 * namespace `payments` with an `api-0` pod whose port 8080 echoes, a gateway
 * and a mediator in front of it, and a scope on that pod. `gateway` and
 * `mediator` are set once the beforeAll has run.
 */
export interface MediatorFixture {
  readonly payments: string;
  readonly scope: AirlockScope;
  readonly gateway: Gateway;
  readonly mediator: Mediator;
}

/** Registers the fixture's beforeAll and afterAll in the calling describe block. */
export function useMediatorFixture(): MediatorFixture {
  const suffix = uniqueName('md');
  const payments = `payments-${suffix}`;
  let gateway: Gateway;
  let mediator: Mediator;
  let echoServer: Server;
  const scope = {
    cluster: CLUSTER_NAME,
    namespace: payments,
    podPatterns: ['api-*'],
    profile: 'debug',
    requestId: 'req-e2e',
    groups: [],
  };

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, payments);
    echoServer = createServer((socket) => socket.on('data', (d) => socket.write(`echo:${d}`)));
    await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
    const port = (echoServer.address() as { port: number }).port;
    await createRunningPod(admin, payments, 'api-0', [{ name: 'main' }], {
      'fake-kubelet.airlock.dev/ports': JSON.stringify({ 8080: `127.0.0.1:${port}` }),
    });
    const policy = testPolicy([payments]);
    gateway = await startGateway(
      policy,
      await executorKubeConfig(suffix, [`jit:debug:${payments}`], [payments]),
    );
    mediator = await startMediator(gateway, policy);
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
    echoServer?.close();
  });

  return {
    payments,
    scope,
    get gateway() {
      return gateway;
    },
    get mediator() {
      return mediator;
    },
  };
}
