/**
 * The per-request tier configs are valid configs of the real tiers (their
 * own loaders and schemas) and point each tier at this request's own
 * credentials and its own executor Service.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExecutorConfig } from '../../executor/config.js';
import { loadMediatorConfig } from '../../mediator/config.js';
import { launchLabels, launchNames } from './launch-names.js';
import { executorConfig, mediatorConfig } from './tier-configs.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-tier-configs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const names = launchNames('req-0123456789abcdef0123');

describe('per-request tier configs', () => {
  it('load with the executor and mediator loaders, wired to this request only', () => {
    writeFileSync(
      join(dir, 'executor.json'),
      JSON.stringify(
        executorConfig(names, {
          namespace: 'airlock-system',
          cluster: 'prod',
          lifetimeSeconds: 120,
          approvedAt: new Date('2026-12-06T23:00:00.000Z'),
        }),
      ),
    );
    writeFileSync(
      join(dir, 'mediator.json'),
      JSON.stringify(mediatorConfig(names, { namespace: 'airlock-system' })),
    );
    const executor = loadExecutorConfig(join(dir, 'executor.json'));
    const mediator = loadMediatorConfig(join(dir, 'mediator.json'));
    const host = 'airlock-req-0123456789abcdef0123-executor.airlock-system.svc';
    expect(executor.serving.dnsNames).toEqual(['airlock-req-0123456789abcdef0123-executor', host]);
    expect(executor.serving.lifetimeSeconds).toBe(300);
    expect(executor.executorCa).toEqual({
      certFile: '/etc/airlock/tls/executor-ca.crt',
      keyFile: '/etc/airlock/tls/executor-ca.key',
    });
    expect(executor.mediatorCaBundleFile).toBe('/etc/airlock/tls/mediator-ca.crt');
    // The pod starts after the request's certificates are valid: its new login record covers them.
    expect(executor.loginRecordSince).toBe('2026-12-06T23:00:00.000Z');
    expect(executor.loginRecordFile).toBe('/var/lib/airlock/audit/used-logins.jsonl');
    expect(mediator.executor).toMatchObject({
      address: `${host}:7443`,
      serverName: host,
      caBundleFile: '/etc/airlock/tls/executor-ca.crt',
    });
    expect(mediator.hostKeyFile).toBe('/etc/airlock/tls/ssh_host_ed25519_key');
    expect(mediator.hostCertificateFile).toBe('/etc/airlock/tls/ssh_host_ed25519_key-cert.pub');
    expect(mediator.requestId).toBe(names.requestId);
  });

  it('names objects after the request and refuses what is not a request id', () => {
    expect(launchLabels(names.requestId, 'mediator')).toEqual({
      'app.kubernetes.io/managed-by': 'airlock',
      'app.kubernetes.io/part-of': 'airlock',
      'airlock.dev/request-id': 'req-0123456789abcdef0123',
      'airlock.dev/mode': 'ephemeral',
      'airlock.dev/tier': 'mediator',
    });
    expect(() => launchNames('req-../../x')).toThrow(/not a request id/);
  });
});
