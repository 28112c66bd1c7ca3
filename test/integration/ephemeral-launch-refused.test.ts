/**
 * Ephemeral tiers: refused launches on the real hermetic kube-apiserver are
 * LAUNCH_FAILED with Kubernetes' reason and leave nothing behind — a
 * ResourceQuota, the RBAC escalation rule (a group outside the launcher's
 * RBAC), a request for another cluster — and the airlock namespace really
 * enforces Pod Security `restricted` (so the launched pods comply).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kubeReason } from '../../services/broker/launcher/kube-tier-launcher.js';
import {
  airlockNamespace,
  brokerIn,
  core,
  deleteLauncherRbac,
  expectAllGone,
  objectsOf,
} from '../support/ephemeral-tiers.js';
import { uniqueName } from '../support/kube.js';

afterAll(deleteLauncherRbac);

describe('ephemeral tiers: a refused creation', () => {
  it('refuses (escalation rule) a per-request role for a group outside the launcher RBAC, leaving nothing', async () => {
    const target = uniqueName('pay');
    const { namespace, asBroker } = await airlockNamespace([target]);
    const env = brokerIn(namespace, asBroker);
    const requestId = 'req-fedcba9876543210fedc';
    const now = new Date();
    const launch = env.launcher.launch({
      requestId,
      cluster: 'dev',
      groups: ['system:masters'],
      accessExpiresAt: new Date(now.getTime() + 300_000),
      approvedAt: now,
      now,
    });
    await expect(launch).rejects.toMatchObject({
      code: 'LAUNCH_FAILED',
      message: expect.stringMatching(/attempting to grant RBAC permissions not currently held/),
    });
    await expectAllGone(namespace, requestId);
  });

  it('refuses a request for another cluster than the launcher serves, creating nothing', async () => {
    const { namespace, asBroker } = await airlockNamespace([uniqueName('pay')]);
    const env = brokerIn(namespace, asBroker);
    const requestId = 'req-fedcba9876543210fed0';
    const now = new Date();
    await expect(
      env.launcher.launch({
        requestId,
        cluster: 'prod',
        groups: ['jit:shell:x'],
        accessExpiresAt: new Date(now.getTime() + 300_000),
        approvedAt: now,
        now,
      }),
    ).rejects.toMatchObject({
      code: 'LAUNCH_FAILED',
      message: expect.stringMatching(/launches tiers for dev/),
    });
    expect(await objectsOf(namespace, requestId)).toEqual([]);
  });

  it('the airlock namespace enforces Pod Security restricted: a pod without its securityContext is refused', async () => {
    const { namespace } = await airlockNamespace([uniqueName('pay')]);
    const create = core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'plain' },
        spec: { containers: [{ name: 'c', image: 'example.invalid/x:1' }] },
      },
    });
    const reason = await create.then(
      () => 'created',
      (error: unknown) => kubeReason(error),
    );
    expect(reason).toMatch(/^pods "plain" is forbidden: violates PodSecurity "restricted:latest"/);
  });

  it('is LAUNCH_FAILED with the reason on the request and in the trail, leaving nothing behind', async () => {
    const target = uniqueName('pay');
    const { namespace, asBroker } = await airlockNamespace([target]);
    await core.createNamespacedResourceQuota({
      namespace,
      body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } },
    });
    // No quota controller in the hermetic cluster: publish the usage it would compute.
    await core.replaceNamespacedResourceQuotaStatus({
      namespace,
      name: 'no-pods',
      body: {
        metadata: { name: 'no-pods' },
        spec: { hard: { pods: '0' } },
        status: { hard: { pods: '0' }, used: { pods: '0' } },
      },
    });
    const env = brokerIn(namespace, asBroker);
    const request = await env.approvedRequest(target);
    expect(request.status).toBe('approved');
    expect(request.launch).toMatchObject({ status: 'failed', code: 'LAUNCH_FAILED' });
    expect(request.launch?.reason).toMatch(/exceeded quota: no-pods/);
    expect((await env.store.get(request.id))?.launch?.code).toBe('LAUNCH_FAILED');
    const event = env.audit.events().find((e) => e.event === 'tiers.launched');
    expect([event?.decision, event?.code, event?.reason]).toEqual([
      'deny',
      'LAUNCH_FAILED',
      request.launch?.reason,
    ]);
    await expectAllGone(namespace, request.id);
  });
});
