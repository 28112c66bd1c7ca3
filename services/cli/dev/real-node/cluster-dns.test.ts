import type { Socket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQuestion, serviceName, startClusterDns } from './cluster-dns.js';

describe('cluster DNS', () => {
  let socket: Socket;
  let resolver: Resolver;
  beforeAll(async () => {
    const services: Record<string, string> = { 'airlock-system/airlock-executor': '10.96.12.34' };
    socket = await startClusterDns(
      '127.0.0.1',
      async (namespace, name) => services[`${namespace}/${name}`],
      0,
    );
    const address = socket.address();
    resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([`127.0.0.1:${address.port}`]);
  });
  afterAll(() => socket.close());

  it("answers a Service's ClusterIP", async () => {
    expect(await resolver.resolve4('airlock-executor.airlock-system.svc.cluster.local')).toEqual([
      '10.96.12.34',
    ]);
  });

  it('answers NXDOMAIN for a Service that does not exist and for names outside the cluster', async () => {
    await expect(resolver.resolve4('nope.airlock-system.svc.cluster.local')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    await expect(resolver.resolve4('registry.npmjs.org')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('answers an existing name with no AAAA record (no error: IPv4 only)', async () => {
    await expect(
      resolver.resolve6('airlock-executor.airlock-system.svc.cluster.local'),
    ).rejects.toMatchObject({
      code: 'ENODATA',
    });
  });

  it('takes only <service>.<namespace>.svc.cluster.local', () => {
    expect(serviceName('a.b.svc.cluster.local')).toEqual({ service: 'a', namespace: 'b' });
    expect(serviceName('a.b.c.svc.cluster.local')).toBeUndefined();
    expect(serviceName('b.svc.cluster.local')).toBeUndefined();
    expect(serviceName('a.b.svc.cluster.local.evil')).toBeUndefined();
    expect(serviceName('A_.b.svc.cluster.local')).toBeUndefined();
  });

  it('parses any packet without throwing (fast-check), and only queries with one question', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const parsed = parseQuestion(Buffer.from(bytes));
        if (parsed) {
          expect(parsed.raw.length).toBeGreaterThanOrEqual(5);
          expect(parsed.name.length).toBeLessThan(600);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
