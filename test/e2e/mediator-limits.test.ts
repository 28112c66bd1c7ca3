import { type ChildProcess, spawn } from 'node:child_process';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  startGateway,
  testPolicy,
} from '../support/executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from '../support/kube.js';
import { type Mediator, ssh, sshArgs, sshUser, startMediator } from '../support/mediator-harness.js';
import { waitFor } from '../support/wait.js';

/** Resolves when the process exits, with its exit code. */
const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

/** A raw TCP connection that never speaks SSH: resolves with how long the server kept it open. */
function idleTcp(port: number): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    socket.on('data', () => {});
    socket.on('close', () => resolve(Date.now() - started));
    socket.on('error', () => {});
    setTimeout(() => socket.destroy(), 10_000);
  });
}

describe('mediator limits, concurrency and shutdown', () => {
  const suffix = uniqueName('ml');
  const payments = `payments-${suffix}`;
  let gateway: Gateway;
  const scope = {
    cluster: CLUSTER_NAME,
    namespace: payments,
    podPatterns: ['api-*'],
    profile: 'debug',
    requestId: 'req-limits',
    groups: [],
  };
  const policy = testPolicy([payments]);

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, payments);
    await createRunningPod(admin, payments, 'api-0', [{ name: 'main' }]);
    gateway = await startGateway(
      policy,
      await executorKubeConfig(suffix, [`jit:debug:${payments}`], [payments]),
    );
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('closes a connection that does not authenticate within the pre-auth timeout', async () => {
    const mediator = await startMediator(gateway, policy, { preAuthTimeoutMs: 500 });
    try {
      const open = await idleTcp(mediator.port);
      expect(open).toBeGreaterThanOrEqual(400);
      expect(open).toBeLessThan(5000);
    } finally {
      await mediator.stop();
    }
  });

  it('refuses more unauthenticated connections per source than allowed', async () => {
    const mediator = await startMediator(gateway, policy, {
      preAuthTimeoutMs: 3000,
      maxUnauthenticatedPerSource: 2,
    });
    try {
      const first = idleTcp(mediator.port);
      const second = idleTcp(mediator.port);
      await sleep(200);
      const third = await idleTcp(mediator.port);
      expect(third).toBeLessThan(1000);
      expect(await first).toBeGreaterThanOrEqual(2500);
      expect(await second).toBeGreaterThanOrEqual(2500);
      expect(
        mediator.audit.events().some((e) => e.event === 'connection.opened' && e.code === 'LIMIT_EXCEEDED'),
      ).toBe(true);
    } finally {
      await mediator.stop();
    }
  });

  it('refuses a principal beyond its concurrent-session limit, and admits it again once one ends', async () => {
    const mediator = await startMediator(gateway, policy, { maxSessionsPerPrincipal: 2 });
    const user = sshUser(gateway.sshCa, { scope });
    const held = [0, 1].map(() => spawn('ssh', sshArgs(mediator, user, ['-N']), { stdio: 'ignore' }));
    try {
      const accepted = () => mediator.audit.events().filter((e) => e.event === 'auth.accepted').length;
      expect(await waitFor(() => accepted() >= 2, 20_000)).toBe(true);
      const third = await ssh(mediator, user, ['whoami']);
      expect(third.code).toBe(255);
      expect(
        mediator.audit.events().some((e) => e.event === 'auth.denied' && e.code === 'LIMIT_EXCEEDED'),
      ).toBe(true);
      held[0]!.kill();
      await exited(held[0]!);
      // The mediator sees the connection end a moment after the client exits.
      let again = await ssh(mediator, user, ['whoami', '-o', 'json']);
      await waitFor(
        async () => {
          if (again.code !== 0) again = await ssh(mediator, user, ['whoami', '-o', 'json']);
          return again.code === 0;
        },
        10_000,
        200,
      );
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ user: 'alice' });
    } finally {
      for (const child of held) child.kill();
      await mediator.stop();
    }
  });

  it('closes an idle connection after the idle timeout', async () => {
    const mediator = await startMediator(gateway, policy, { idleTimeoutMs: 1000 });
    const user = sshUser(gateway.sshCa, { scope });
    try {
      const started = Date.now();
      const child = spawn('ssh', sshArgs(mediator, user, ['-N']), { stdio: 'ignore' });
      expect(await exited(child)).toBe(255);
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      await mediator.stop();
    }
  });

  it('serves 50 concurrent sessions from separate ssh processes', async () => {
    const mediator = await startMediator(gateway, policy, {
      maxSessionsPerPrincipal: 100,
      maxUnauthenticatedPerSource: 100,
    });
    try {
      const user = sshUser(gateway.sshCa, { scope });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          ssh(mediator, user, ['exec', 'api-0', '--', 'echo', `session-${i}`], { timeoutMs: 60_000 }),
        ),
      );
      expect(results.map((r) => r.code)).toEqual(Array(50).fill(0));
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `session-${i}\n`));
      await sleep(500);
      const opened = mediator.audit.events().filter((e) => e.event === 'session.opened').length;
      const closed = mediator.audit.events().filter((e) => e.event === 'session.closed').length;
      expect(opened).toBe(50);
      expect(closed).toBe(50);
    } finally {
      await mediator.stop();
    }
  });

  it('shuts down gracefully: refuses new connections, lets sessions drain, then ends them with a message', async () => {
    const mediator: Mediator = await startMediator(gateway, policy);
    const user = sshUser(gateway.sshCa, { scope });
    const running = ssh(mediator, user, ['exec', 'api-0', '--', 'sleep', '30'], { timeoutMs: 20_000 });
    // The command is running once the mediator has allowed it.
    const allowed = () => mediator.audit.events().some((e) => e.event === 'intent.allowed');
    expect(await waitFor(allowed, 15_000)).toBe(true);
    const stopping = mediator.frontend.stop(500);
    const late = await ssh(mediator, user, ['whoami']);
    expect(late.code).toBe(255);
    const result = await running;
    expect(result.code).toBe(69);
    expect(result.stderr).toContain('EXECUTOR_SHUTDOWN');
    await stopping;
  });

  it('answers EXECUTOR_UNAVAILABLE when the executor accepts connections but never answers (an OpenSession deadline)', async () => {
    // Accepts TCP and stays silent, as a dead pod's address or a wedged executor may:
    // without a deadline the TLS handshake, and the user's ssh, would wait forever.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as AddressInfo;
    const mediator = await startMediator(gateway, policy, {}, undefined, {
      address: `127.0.0.1:${address.port}`,
      openTimeoutMs: 1000,
    });
    try {
      const result = await ssh(mediator, sshUser(gateway.sshCa, { scope }), ['pods'], { timeoutMs: 30_000 });
      expect(result.code).toBe(69);
      expect(result.stderr).toMatch(/^airlock: EXECUTOR_UNAVAILABLE: /m);
      expect(sockets.size).toBeGreaterThan(0);
    } finally {
      await mediator.stop();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
