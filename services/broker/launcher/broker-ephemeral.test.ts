/**
 * Ephemeral mode through the broker's composition root and HTTPS API (the
 * launcher is the in-memory fake; the Kubernetes side is
 * test/integration/ephemeral-launcher.test.ts): the start-up sweep removes
 * leftovers, an auto-approved request is launched, a refused launch shows
 * LAUNCH_FAILED and the reason on the request, revocation deletes, the
 * certificate answer carries the host CA key.
 */
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPublicKeyLine, generateCaKey } from '../../core/ssh-cert/index.js';
import { type BrokerTestEnv, startBrokerTestEnv } from '../testing.js';
import { InMemoryTierLauncher } from './tier-launcher.js';

const launcher = new InMemoryTierLauncher();
const leftover = 'req-0000000000000000abcd';
let env: BrokerTestEnv;

const request = () => ({
  profile: 'oncall-debug',
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['payments-api-*'],
  reason: 'INC-1234 checkout latency',
  ttlSeconds: 900,
  sshPublicKey: formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'alice'),
});

beforeAll(async () => {
  await launcher.launch({
    requestId: leftover,
    cluster: 'prod-eu',
    groups: ['g'],
    accessExpiresAt: new Date(),
    approvedAt: new Date(),
    now: new Date(),
  });
  env = await startBrokerTestEnv({ tierLauncher: launcher });
});

afterAll(async () => {
  await env?.stop();
});

describe('broker in ephemeral mode (in-memory launcher)', () => {
  it('sweeps at start: the objects of a request this broker does not know are deleted', async () => {
    for (let i = 0; i < 100 && launcher.launched.has(leftover); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(launcher.launched.has(leftover)).toBe(false);
  });

  it('launches an auto-approved request, and deletes it on revocation', async () => {
    const alice = await env.provider.mintIdToken('alice');
    const created = await env.call('POST', '/v1/requests', alice, request());
    expect([created.status, created.body.status, created.body.launch?.status]).toEqual([
      201,
      'approved',
      'launched',
    ]);
    expect(launcher.launched.get(created.body.id)?.groups).toEqual(['jit:oncall:payments']);
    // The certificate answer names the host CA its mediator's host certificate verifies with.
    const cert = await env.call('POST', `/v1/requests/${created.body.id}/certificate`, alice, {});
    expect([cert.status, cert.body.hostCertificateAuthorities]).toEqual([200, [env.hostCaPublicLine]]);
    await env.call('POST', `/v1/requests/${created.body.id}/revoke`, alice, {});
    expect(launcher.launched.has(created.body.id)).toBe(false);
  });

  it('shows LAUNCH_FAILED and the reason on the request when Kubernetes refuses', async () => {
    launcher.refuse = 'pods "airlock-req-x-executor" is forbidden: exceeded quota: no-pods';
    try {
      const alice = await env.provider.mintIdToken('alice');
      const created = await env.call('POST', '/v1/requests', alice, request());
      const shown = await env.call('GET', `/v1/requests/${created.body.id}`, alice);
      expect(shown.body.launch).toMatchObject({
        status: 'failed',
        code: 'LAUNCH_FAILED',
        reason: launcher.refuse,
      });
    } finally {
      launcher.refuse = undefined;
    }
  });

  it('does not start with a host CA key others may read: no mediator is launched uncertified', async () => {
    await env.stopBroker();
    const keyFile = join(env.dir, 'ssh_host_ca');
    chmodSync(keyFile, 0o644);
    try {
      await expect(env.restartBroker()).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('the host CA key'),
      });
    } finally {
      chmodSync(keyFile, 0o600);
    }
    await env.restartBroker();
  });
});
