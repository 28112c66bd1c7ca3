import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  newSession,
  startGateway,
  testPolicy,
} from '../support/executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from '../support/kube.js';
import { type Mediator, ssh, sshUser, startMediator } from '../support/mediator-harness.js';

/**
 * A tier whose audit trail cannot be written refuses work (AUDIT_UNAVAILABLE)
 * rather than act unaudited. The file-level failures (ENOSPC on /dev/full,
 * EACCES) are proven in services/core/audit; here the tiers react to a trail
 * that has failed.
 */
describe('audit trail unavailable: every tier fails closed', () => {
  const suffix = uniqueName('af');
  const payments = `payments-${suffix}`;
  let gateway: Gateway;
  let mediator: Mediator;
  const scope = {
    cluster: CLUSTER_NAME,
    namespace: payments,
    podPatterns: ['api-*'],
    profile: 'debug',
    requestId: 'req-af',
    groups: [],
  };

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, payments);
    await createRunningPod(admin, payments, 'api-0', [{ name: 'main' }]);
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
  });

  it('the executor refuses new sessions and intents on open ones once its trail fails', async () => {
    const open = await newSession(gateway, { scope });
    await open.client.openSession(open.request);
    expect((await open.client.list({ kind: 'pods', namespace: '' })).json).toContain('api-0');

    gateway.audit.breakWith('disk full');
    const fresh = await newSession(gateway, { scope });
    await expect(fresh.client.openSession(fresh.request)).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
    });
    await expect(open.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
    });
  });

  it('the mediator refuses logins once its trail fails', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    mediator.audit.breakWith('read-only file system');
    const result = await ssh(mediator, user, ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
  });
});
