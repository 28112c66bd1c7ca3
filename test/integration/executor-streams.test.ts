import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AirlockError } from '../../services/core/errors.js';
import { fromGrpcError } from '../../services/core/rpc/grpc-errors.js';
import { useExecutorFixture } from '../support/executor-fixture.js';
import type { Gateway } from '../support/executor-harness.js';
import { patterned, retainedBufferBytes, sendUntilStalled } from '../support/flow-control.js';
import { adminKubeConfig, appendContainerLog, createRunningPod } from '../support/kube.js';

// Every behaviour holds in both ways a session can reach Kubernetes (docs/executor.md).
// This file: logs, list, port-forward and debug containers.
describe.each(['impersonation', 'csr'] as const)(
  'executor (%s): mTLS gRPC, re-verification, Kubernetes calls as the session',
  (mode) => {
    const fixture = useExecutorFixture(mode);
    const { payments, openedSession } = fixture;
    let gateway: Gateway;
    beforeAll(() => {
      gateway = fixture.gateway;
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
  },
);
