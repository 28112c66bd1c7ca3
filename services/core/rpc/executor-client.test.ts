import { type AddressInfo, connect, createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { createTierCa, issueServingCertificate, issueSessionGrant } from '../x509/index.js';
import { ExecutorClient, executorTlsTarget, IP_TARGET_SNI, RECONNECT_WAIT_MS } from './executor-client.js';
import { loadExecutorService } from './executor-proto.js';
import { toGrpcError } from './grpc-errors.js';

describe('executorTlsTarget', () => {
  it('sends and checks a configured server name', () => {
    expect(executorTlsTarget('10.0.0.7:8443', 'airlock-executor.airlock-system.svc')).toEqual({
      sni: 'airlock-executor.airlock-system.svc',
    });
  });

  it('leaves a DNS host to grpc-js, which sends and checks it', () => {
    expect(executorTlsTarget('airlock-executor.airlock-system.svc:8443')).toEqual({});
  });

  it('never sends an IP as SNI (RFC 6066), and checks the certificate against the dialled IP', () => {
    for (const [address, ip] of [
      ['127.0.0.1:8443', '127.0.0.1'],
      ['[::1]:8443', '::1'],
    ] as const) {
      const target = executorTlsTarget(address);
      expect(target.sni).toBe(IP_TARGET_SNI);
      const withIp = { subjectaltname: `IP Address:${ip}`, subject: {} } as never;
      const otherIp = { subjectaltname: 'IP Address:10.9.9.9', subject: {} } as never;
      expect(target.checkServerIdentity?.(IP_TARGET_SNI, withIp)).toBeUndefined();
      expect(target.checkServerIdentity?.(IP_TARGET_SNI, otherIp)).toBeInstanceOf(Error);
    }
  });
});

describe('ExecutorClient.openSession over a connection lost before it was established', () => {
  /** A real mTLS gRPC executor stand-in behind a TCP relay that resets the first `resets` connections. */
  async function executorBehindRelay(resets: number) {
    const now = new Date();
    const mediatorCa = await createTierCa({ tier: 'mediator', now });
    const executorCa = await createTierCa({ tier: 'executor', now });
    const serving = await issueServingCertificate(executorCa, {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      now,
    });
    let calls = 0;
    const server = new grpc.Server();
    server.addService(loadExecutorService().service, {
      OpenSession: (_call: unknown, done: (error: Partial<grpc.StatusObject>) => void) => {
        calls += 1;
        done(toGrpcError(new AirlockError('CERT_MALFORMED', 'refused by the test executor')));
      },
    });
    const credentials = grpc.ServerCredentials.createSsl(
      Buffer.from(mediatorCa.certPem),
      [{ cert_chain: Buffer.from(serving.certPem), private_key: Buffer.from(serving.privateKeyPem!) }],
      true,
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    let left = resets;
    const relay = createServer((socket) => {
      if (left-- > 0) return socket.resetAndDestroy();
      const upstream = connect(port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const sessionId = 'reset-test';
    const grant = await issueSessionGrant(mediatorCa, {
      sessionId,
      user: 'alice',
      scopeDigest: '0'.repeat(64),
      notAfter: new Date(now.getTime() + 600_000),
      now,
    });
    const client = new ExecutorClient({
      address: `127.0.0.1:${(relay.address() as AddressInfo).port}`,
      executorCaPem: executorCa.certPem,
      grantCertPem: grant.certPem,
      grantKeyPem: grant.privateKeyPem!,
      sessionId,
    });
    const open = () =>
      client.openSession(
        {
          ssh_certificate: Buffer.alloc(0),
          auth_signature: Buffer.alloc(0),
          auth_signed_data: Buffer.alloc(0),
          client_address: '127.0.0.1',
          session_id: sessionId,
          principal: 'alice',
        },
        { deadline: new Date(Date.now() + 10_000) },
      );
    const close = () => {
      client.close();
      relay.close();
      server.forceShutdown();
    };
    return { open, calls: () => calls, close };
  }

  it('is sent once, on a new connection, when the first connection is reset during set-up', async () => {
    const executor = await executorBehindRelay(1);
    try {
      // The stand-in refuses every OpenSession with a code: reaching it is what this proves.
      await expect(executor.open()).rejects.toMatchObject({ code: 'CERT_MALFORMED' });
      expect(executor.calls()).toBe(1);
    } finally {
      executor.close();
    }
  });

  it('still fails with EXECUTOR_UNAVAILABLE, within the reconnect wait, when no connection can be made', async () => {
    const executor = await executorBehindRelay(Number.POSITIVE_INFINITY);
    const started = Date.now();
    try {
      await expect(executor.open()).rejects.toMatchObject({ code: 'EXECUTOR_UNAVAILABLE' });
      expect(executor.calls()).toBe(0);
      expect(Date.now() - started).toBeLessThan(RECONNECT_WAIT_MS + 2_000);
    } finally {
      executor.close();
    }
  });
});
