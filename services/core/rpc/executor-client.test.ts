import { describe, expect, it } from 'vitest';
import { executorTlsTarget, IP_TARGET_SNI } from './executor-client.js';

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
