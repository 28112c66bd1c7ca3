import { createCipheriv, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { CertificatesV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../services/core/errors.js';
import { loadExecutorService } from '../../services/core/rpc/executor-proto.js';
import { fromGrpcError } from '../../services/core/rpc/grpc-errors.js';
import { type AirlockScope, generateCaKey, parseDenyList } from '../../services/core/ssh-cert/index.js';
import { createTierCa } from '../../services/core/x509/index.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  newSession,
  runExec,
  startGateway,
  testPolicy,
} from '../support/executor-harness.js';
import {
  adminKubeConfig,
  appendContainerLog,
  createNamespace,
  createRunningPod,
  type KubeAuditEvent,
  readAuditEvents,
  uniqueName,
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

/** Array-buffer bytes still referenced after a full garbage collection: what the process really holds. */
function retainedBufferBytes(): number {
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
}
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** `size` bytes that differ at every position of a 64 KiB block and from block to block, so loss or reordering changes a hash. */
function patterned(size: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, 1), Buffer.alloc(16, 2)).update(Buffer.alloc(size));
}

/**
 * Writes `total` bytes as input frames in 256 KiB chunks (slices of
 * `payload`, or zeros), honouring the call's backpressure like the
 * mediator does. Stops early once the call has accepted nothing for 3 s
 * (the far side stopped reading). Resolves with the bytes accepted.
 */
async function sendUntilStalled(
  call: {
    write(frame: object): boolean;
    once(event: 'drain', listener: () => void): unknown;
    off(event: 'drain', listener: () => void): unknown;
  },
  frame: (chunk: Buffer) => object,
  total: number,
  payload?: Buffer,
): Promise<number> {
  const chunkSize = 256 * 1024;
  const zeros = Buffer.alloc(chunkSize);
  let sent = 0;
  while (sent < total) {
    const chunk = payload ? payload.subarray(sent, sent + chunkSize) : zeros.subarray(0, total - sent);
    sent += chunk.length;
    if (call.write(frame(chunk))) continue;
    let onDrain = () => {};
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        onDrain = () => resolve(true);
        call.once('drain', onDrain);
      }),
      sleep(3000).then(() => false),
    ]);
    if (!drained) {
      call.off('drain', onDrain);
      break;
    }
  }
  return sent;
}

// Every behaviour holds in both ways a session can reach Kubernetes (docs/executor.md).
describe.each(['impersonation', 'csr'] as const)(
  'executor (%s): mTLS gRPC, re-verification, Kubernetes calls as the session',
  (mode) => {
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

    it('opens a session from a verified certificate and runs an allowed exec end to end', async () => {
      const session = await newSession(gateway, { scope: scope() });
      const opened = await session.client.openSession(session.request);
      expect(opened).toMatchObject({
        user: 'alice',
        groups: [group(payments)],
        namespace: payments,
        profile: 'debug',
      });

      const echo = await runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['echo', 'hello'],
      });
      expect(echo.error).toBeUndefined();
      expect(echo.stdout.toString()).toBe('hello\n');
      expect(echo.exit).toEqual({ code: 0, signal: '' });

      const seven = await runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['sh', '-c', 'exit 7'],
      });
      expect(seven.exit?.code).toBe(7);

      const cat = await runExec(
        session.client,
        { target: { namespace: '', pod: 'api-0', container: '' }, argv: ['cat'] },
        Buffer.from('through stdin\n'),
      );
      expect(cat.stdout.toString()).toBe('through stdin\n');
      expect(cat.exit?.code).toBe(0);
    });

    it('returns large outputs intact', async () => {
      const session = await openedSession();
      const size = 8 * 1024 * 1024;
      const big = await runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['head', '-c', String(size), '/dev/zero'],
      });
      expect(big.exit?.code).toBe(0);
      expect(big.stdout.length).toBe(size);
      expect(createHash('sha256').update(big.stdout).digest('hex')).toBe(
        createHash('sha256').update(Buffer.alloc(size)).digest('hex'),
      );
    });

    it('applies backpressure: a reader that stops reading stops the pod, and executor memory stays bounded; the output then arrives whole or ends with OUTPUT_INCOMPLETE, never short with exit 0', async () => {
      const session = await openedSession();
      const size = 64 * 1024 * 1024;
      const call = session.client.exec();
      const chunks: Buffer[] = [];
      let received = 0;
      call.on('data', (frame: { stdout?: Buffer }) => {
        if (frame.stdout) {
          chunks.push(frame.stdout);
          received += frame.stdout.length;
        }
      });
      let exitCode: number | undefined;
      call.on('data', (frame: { exit?: { code: number } }) => {
        if (frame.exit) exitCode = frame.exit.code;
      });
      // Resolves with the stream's error code, or undefined when it ended with an exit status.
      const ended = new Promise<string | undefined>((resolve) => {
        call.on('end', () => resolve(undefined));
        call.on('error', (error) => resolve(fromGrpcError(error).code));
      });
      call.write({
        start: {
          target: { namespace: '', pod: 'api-0', container: '' },
          argv: ['head', '-c', String(size), '/dev/zero'],
          tty: false,
          size: null,
          shell: false,
        },
      });
      call.write({ stdin_eof: true });
      await sleep(300);
      call.pause();
      const pausedAt = received;
      const baseline = process.memoryUsage().arrayBuffers;
      await sleep(2000);
      // While nobody reads, neither the executor nor the pod races ahead.
      const growth = process.memoryUsage().arrayBuffers - baseline;
      expect(growth).toBeLessThan(16 * 1024 * 1024);
      expect(received - pausedAt).toBeLessThan(16 * 1024 * 1024);
      call.resume();
      const failure = await ended;
      // Reading again lets the pod run on to its end. Kubernetes can drop the
      // last bytes of an exec that stalled across its 5 s SPDY ping and still
      // report success (docs/executor.md, "Known Kubernetes limitation"); the
      // executor then cannot vouch for the output and says so. Either every
      // byte arrived with exit 0, or the stream ends with OUTPUT_INCOMPLETE
      // (and no exit status); a short output with exit 0 fails here.
      expect(received).toBeGreaterThan(pausedAt + 16 * 1024 * 1024);
      expect(Buffer.concat(chunks).equals(Buffer.alloc(received))).toBe(true);
      if (failure === undefined) {
        expect(exitCode).toBe(0);
        expect(received).toBe(size);
      } else {
        expect(failure).toBe('OUTPUT_INCOMPLETE');
        expect(exitCode).toBeUndefined();
        expect(received).toBeLessThanOrEqual(size);
      }
    });

    it('reports OUTPUT_INCOMPLETE, audited, instead of exit 0 when a reader slower than the pod held the output back past the API server ping', async () => {
      const session = await openedSession();
      const size = 16 * 1024 * 1024;
      const call = session.client.exec();
      const chunks: Buffer[] = [];
      let exitCode: number | undefined;
      let stalled = true;
      call.on('data', (frame: { stdout?: Buffer; exit?: { code: number } }) => {
        if (frame.exit) exitCode = frame.exit.code;
        if (!frame.stdout) return;
        chunks.push(frame.stdout);
        // Slower than the pod to the end: a pause after every message.
        call.pause();
        setTimeout(() => {
          if (!stalled) call.resume();
        }, 30);
      });
      const failure = new Promise<string | undefined>((resolve) => {
        call.on('end', () => resolve(undefined));
        call.on('error', (error) => resolve(fromGrpcError(error).code));
      });
      call.write({
        start: {
          target: { namespace: '', pod: 'api-0', container: '' },
          argv: ['head', '-c', String(size), '/dev/zero'],
          tty: false,
          size: null,
          shell: false,
        },
      });
      call.write({ stdin_eof: true });
      // Not reading at all past the first ping (5 s after the upgrade).
      call.pause();
      await sleep(5000);
      stalled = false;
      call.resume();
      expect(await failure).toBe('OUTPUT_INCOMPLETE');
      expect(exitCode).toBeUndefined();
      const received = Buffer.concat(chunks);
      expect(received.length).toBeLessThanOrEqual(size);
      expect(received.equals(Buffer.alloc(received.length))).toBe(true);
      await sleep(200);
      expect(
        gateway.audit
          .appended()
          .some(
            (e) =>
              e.event.event === 'exec.exited' &&
              e.event.session_id === session.id &&
              e.event.code === 'OUTPUT_INCOMPLETE',
          ),
      ).toBe(true);
    });

    it('streams logs, lists pods as compact JSON, and forwards a port', async () => {
      const session = await openedSession();
      appendContainerLog(payments, 'api-0', 'main', 'log line one');
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = session.client.logs({
          target: { namespace: '', pod: 'api-0', container: '' },
          follow: false,
          since_seconds: 0,
          tail_lines: -1,
          timestamps: false,
        });
        call.on('data', (c: { data: Buffer }) => chunks.push(c.data));
        call.on('end', resolve);
        call.on('error', reject);
      });
      expect(Buffer.concat(chunks).toString()).toContain('log line one\n');

      const list = await session.client.list({ kind: 'pods', namespace: '' });
      const names = (JSON.parse(list.json) as { items: { metadata: { name: string } }[] }).items.map(
        (p) => p.metadata.name,
      );
      // Only the session's pods (api-*): db-0 exists but is outside the scope (finding 8).
      expect(names.sort()).toEqual(['api-0']);

      const call = session.client.portForward();
      const received: Buffer[] = [];
      call.on('data', (c: { data: Buffer }) => received.push(c.data));
      call.write({ start: { target: { namespace: '', pod: 'api-0', container: '' }, port: 8080 } });
      call.write({ data: Buffer.from('ping') });
      const deadline = Date.now() + 10_000;
      while (Buffer.concat(received).toString() !== 'echo:ping' && Date.now() < deadline) await sleep(20);
      expect(Buffer.concat(received).toString()).toBe('echo:ping');
      call.on('error', () => {});
      call.end();
      call.cancel();
    });

    it('adds an ephemeral debug container from an allowed image and runs in it, and refuses other images', async () => {
      const session = await openedSession();
      const run = (image: string) =>
        new Promise<{ out: string; exit?: number; error?: AirlockError }>((resolve) => {
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
            debug: {
              target: { namespace: '', pod: 'api-0', container: '' },
              image,
              argv: ['echo', 'debugging'],
              tty: false,
              size: null,
            },
          });
          call.write({ stdin_eof: true });
        });
      const allowed = await run('busybox:1.36');
      expect(allowed.error).toBeUndefined();
      expect(allowed).toMatchObject({ out: 'debugging\n', exit: 0 });
      const pod = await adminKubeConfig()
        .makeApiClient(CoreV1Api)
        .readNamespacedPod({ namespace: payments, name: 'api-0' });
      expect(pod.spec?.ephemeralContainers?.map((c) => c.image)).toEqual(['busybox:1.36']);
      expect(
        gateway.audit
          .appended()
          .some((e) => e.event.event === 'debug.added' && e.event.session_id === session.id),
      ).toBe(true);

      const refused = await run('alpine:latest');
      expect(refused.error?.code).toBe('IMAGE_NOT_ALLOWED');
    });

    it('forwards a large download whole and in order to a slow reader', async () => {
      const size = 48 * 1024 * 1024;
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) payload.writeUInt32BE(i, i);
      const source = createServer((socket) => socket.end(payload));
      await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
      try {
        await createRunningPod(adminKubeConfig(), payments, 'api-big', [{ name: 'main' }], {
          'fake-kubelet.airlock.dev/ports': JSON.stringify({
            8080: `127.0.0.1:${(source.address() as { port: number }).port}`,
          }),
        });
        const session = await openedSession();
        const call = session.client.portForward();
        const chunks: Buffer[] = [];
        const done = new Promise<void>((resolve, reject) => {
          call.on('data', (c: { data: Buffer }) => chunks.push(c.data));
          call.on('end', resolve);
          call.on('error', reject);
        });
        call.write({ start: { target: { namespace: '', pod: 'api-big', container: '' }, port: 8080 } });
        // A slow reader: the pod side finishes long before the client has read everything.
        call.pause();
        await sleep(1500);
        call.resume();
        await done;
        const received = Buffer.concat(chunks);
        expect(received.length).toBe(size);
        expect(received.equals(payload)).toBe(true);
      } finally {
        source.close();
      }
    });

    it('bounds executor memory when a command never reads its stdin: the sender is pushed back', async () => {
      const session = await openedSession();
      const call = session.client.exec();
      call.on('data', () => {});
      call.on('error', () => {});
      call.write({
        start: {
          target: { namespace: '', pod: 'api-0', container: '' },
          argv: ['sleep', '600'],
          tty: false,
          size: null,
          shell: false,
        },
      });
      const baseline = retainedBufferBytes();
      // 256 MiB offered; without input flow control the executor accepts it all into memory.
      const sent = await sendUntilStalled(call, (chunk) => ({ stdin: chunk }), 256 * 1024 * 1024);
      const growth = retainedBufferBytes() - baseline;
      call.cancel();
      expect(growth).toBeLessThan(32 * 1024 * 1024);
      expect(sent).toBeLessThan(64 * 1024 * 1024);
    });

    it('ignores stdin sent after stdin EOF instead of failing the executor', async () => {
      const session = await openedSession();
      const call = session.client.exec();
      const out: Buffer[] = [];
      let exit: number | undefined;
      const ended = new Promise<void>((resolve, reject) => {
        call.on('data', (frame: { stdout?: Buffer; exit?: { code: number } }) => {
          if (frame.stdout) out.push(frame.stdout);
          if (frame.exit) exit = frame.exit.code;
        });
        call.on('end', resolve);
        call.on('error', reject);
      });
      call.write({
        start: {
          target: { namespace: '', pod: 'api-0', container: '' },
          argv: ['cat'],
          tty: false,
          size: null,
          shell: false,
        },
      });
      call.write({ stdin: Buffer.from('before EOF\n') });
      call.write({ stdin_eof: true });
      call.write({ stdin: Buffer.from('after EOF\n') });
      call.end();
      await ended;
      expect({ stdout: Buffer.concat(out).toString(), exit }).toEqual({ stdout: 'before EOF\n', exit: 0 });
      const again = await runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['echo', 'still', 'serving'],
      });
      expect(again.stdout.toString()).toBe('still serving\n');
    });

    it('delivers a large stdin whole and in order to a command that reads it', async () => {
      const session = await openedSession();
      const size = 64 * 1024 * 1024;
      const payload = patterned(size);
      const run = async (argv: string[]) => {
        const call = session.client.exec();
        const out: Buffer[] = [];
        let exit: number | undefined;
        const ended = new Promise<void>((resolve, reject) => {
          call.on('data', (frame: { stdout?: Buffer; exit?: { code: number } }) => {
            if (frame.stdout) out.push(frame.stdout);
            if (frame.exit) exit = frame.exit.code;
          });
          call.on('end', resolve);
          call.on('error', reject);
        });
        call.write({
          start: {
            target: { namespace: '', pod: 'api-0', container: '' },
            argv,
            tty: false,
            size: null,
            shell: false,
          },
        });
        expect(await sendUntilStalled(call, (chunk) => ({ stdin: chunk }), size, payload)).toBe(size);
        call.write({ stdin_eof: true });
        await ended;
        return { stdout: Buffer.concat(out).toString(), exit };
      };
      expect(await run(['wc', '-c'])).toEqual({ stdout: `${size}\n`, exit: 0 });
      const digest = createHash('sha256').update(payload).digest('hex');
      expect(await run(['sha256sum'])).toEqual({ stdout: `${digest}  -\n`, exit: 0 });
    });

    it('bounds executor memory when the pod port never reads port-forward input, and delivers input whole when it does', async () => {
      const size = 32 * 1024 * 1024;
      // A pod port that never reads, and one that answers the sha256 of the first `size` bytes.
      const sink = createServer((socket) => socket.pause());
      const hasher = createServer((socket) => {
        const hash = createHash('sha256');
        let seen = 0;
        socket.on('data', (data: Buffer) => {
          const take = data.subarray(0, size - seen);
          hash.update(take);
          seen += take.length;
          if (seen === size) socket.end(hash.digest('hex'));
        });
      });
      const listen = async (server: Server) => {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return (server.address() as { port: number }).port;
      };
      const [sinkPort, hasherPort] = [await listen(sink), await listen(hasher)];
      try {
        for (const [pod, port] of [
          ['api-sink', sinkPort],
          ['api-hash', hasherPort],
        ] as const) {
          await createRunningPod(adminKubeConfig(), payments, pod, [{ name: 'main' }], {
            'fake-kubelet.airlock.dev/ports': JSON.stringify({ 8080: `127.0.0.1:${port}` }),
          });
        }
        const session = await openedSession();

        const stuck = session.client.portForward();
        stuck.on('data', () => {});
        stuck.on('error', () => {});
        stuck.write({ start: { target: { namespace: '', pod: 'api-sink', container: '' }, port: 8080 } });
        const baseline = retainedBufferBytes();
        const sent = await sendUntilStalled(stuck, (chunk) => ({ data: chunk }), 256 * 1024 * 1024);
        const growth = retainedBufferBytes() - baseline;
        stuck.cancel();
        expect(growth).toBeLessThan(32 * 1024 * 1024);
        expect(sent).toBeLessThan(64 * 1024 * 1024);

        const call = session.client.portForward();
        const answer: Buffer[] = [];
        const ended = new Promise<void>((resolve, reject) => {
          call.on('data', (c: { data: Buffer }) => answer.push(c.data));
          call.on('end', resolve);
          call.on('error', reject);
        });
        call.write({ start: { target: { namespace: '', pod: 'api-hash', container: '' }, port: 8080 } });
        const payload = patterned(size);
        expect(await sendUntilStalled(call, (chunk) => ({ data: chunk }), size, payload)).toBe(size);
        await ended;
        expect(Buffer.concat(answer).toString()).toBe(createHash('sha256').update(payload).digest('hex'));
      } finally {
        sink.close();
        hasher.close();
      }
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
