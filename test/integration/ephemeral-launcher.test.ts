/**
 * Ephemeral tiers (services/broker/launcher) on the real hermetic
 * kube-apiserver, run as the broker's own ServiceAccount with exactly the
 * launcher RBAC deploy/ ships (renderLauncherRbac): approval creates the
 * request's objects (owner references, labels, activeDeadlineSeconds, Pod
 * Security `restricted` enforced by the namespace), request A's executor may
 * impersonate A's groups and not B's (SubjectAccessReview), revocation and
 * the sweep delete everything; the mediator's Secret carries a host
 * certificate of the airlock host CA for the request id, and its config
 * presents it. Refusals: ephemeral-launch-refused.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchNames } from '../../services/broker/launcher/launch-names.js';
import { parseCertificateLine, verifyCertificateIssuer } from '../../services/core/ssh-cert/index.js';
import {
  airlockNamespace,
  brokerIn,
  core,
  deleteLauncherRbac,
  expectAllGone,
  objectsOf,
  saMay,
  sam,
} from '../support/ephemeral-tiers.js';
import { uniqueName } from '../support/kube.js';

afterAll(deleteLauncherRbac);

describe('ephemeral tiers: the launcher on a real kube-apiserver, as the broker ServiceAccount', () => {
  const nsA = uniqueName('pay');
  const nsB = uniqueName('shop');
  let env: ReturnType<typeof brokerIn>;
  let namespace: string;

  beforeAll(async () => {
    const made = await airlockNamespace([nsA, nsB]);
    namespace = made.namespace;
    env = brokerIn(namespace, made.asBroker);
  });

  afterAll(async () => {
    for (const id of await env.launcher.launchedRequestIds()) await env.launcher.remove(id);
  });

  it('approval creates owner, ServiceAccounts, Secrets, Services and restricted pods, all owned and labelled', async () => {
    const request = await env.approvedRequest(nsA);
    expect(request.launch).toMatchObject({ status: 'launched' });
    const names = launchNames(request.id);
    expect(await objectsOf(namespace, request.id)).toEqual(
      [
        `ClusterRole/${names.clusterRole}`,
        `ClusterRoleBinding/${names.clusterRole}`,
        `ConfigMap/${names.owner}`,
        `Pod/${names.tier.executor}`,
        `Pod/${names.tier.mediator}`,
        `Secret/${names.secret.executor}`,
        `Secret/${names.secret.mediator}`,
        `Service/${names.tier.executor}`,
        `Service/${names.tier.mediator}`,
        `ServiceAccount/${names.tier.executor}`,
        `ServiceAccount/${names.tier.mediator}`,
      ].sort(),
    );
    const owner = await core.readNamespacedConfigMap({ namespace, name: names.owner });
    const ownerRef = [{ apiVersion: 'v1', kind: 'ConfigMap', name: names.owner, uid: owner.metadata?.uid }];
    const remaining = (Date.parse(request.accessExpiresAt ?? '') - Date.now()) / 1000;
    for (const tier of ['mediator', 'executor'] as const) {
      const pod = await core.readNamespacedPod({ namespace, name: names.tier[tier] });
      expect(pod.metadata?.ownerReferences).toEqual(ownerRef);
      expect(pod.metadata?.labels).toMatchObject({
        'airlock.dev/request-id': request.id,
        'airlock.dev/tier': tier,
        'airlock.dev/mode': 'ephemeral',
      });
      expect(pod.spec?.activeDeadlineSeconds).toBeGreaterThan(remaining - 30);
      expect(pod.spec?.activeDeadlineSeconds).toBeLessThanOrEqual(600);
      expect(pod.spec?.serviceAccountName).toBe(names.tier[tier]);
      expect(pod.spec?.automountServiceAccountToken).toBe(false);
      expect(pod.spec?.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.spec?.containers[0]?.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      const sa = await core.readNamespacedServiceAccount({ namespace, name: names.tier[tier] });
      const secret = await core.readNamespacedSecret({ namespace, name: names.secret[tier] });
      const service = await core.readNamespacedService({ namespace, name: names.tier[tier] });
      for (const object of [sa, secret, service]) expect(object.metadata?.ownerReferences).toEqual(ownerRef);
    }
    // Only the executor pod carries a (bound, projected) token; the mediator has no Kubernetes credential.
    const mediator = await core.readNamespacedPod({ namespace, name: names.tier.mediator });
    expect(mediator.spec?.volumes?.some((v) => v.projected)).toBe(false);
    // What the jump door looks up: the request's mediator Service and its port named ssh.
    const door = await core.listNamespacedService({
      namespace,
      labelSelector: `airlock.dev/request-id=${request.id},airlock.dev/tier=mediator`,
    });
    expect(door.items.map((s) => [s.metadata?.name, s.spec?.ports?.map((p) => p.name)])).toEqual([
      [names.tier.mediator, ['ssh']],
    ]);
    const launched = env.audit.events().filter((e) => e.event === 'tiers.launched');
    expect(launched.map((e) => [e.request_id, e.decision])).toEqual([[request.id, 'allow']]);
  });

  it("the mediator's Secret holds its host certificate: host CA, principal the request id, until access ends", async () => {
    const request = await env.approvedRequest(nsA);
    const names = launchNames(request.id);
    const secret = await core.readNamespacedSecret({ namespace, name: names.secret.mediator });
    const file = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
    const line = file('ssh_host_ed25519_key-cert.pub');
    const { certificate } = parseCertificateLine(line);
    expect(verifyCertificateIssuer(certificate, [env.hostCa])).toMatch(/^SHA256:/);
    expect([certificate.type, certificate.keyId, certificate.principals]).toEqual([
      'host',
      `mediator/${request.id}`,
      [request.id],
    ]);
    const accessEnds = Math.floor(Date.parse(request.accessExpiresAt ?? '') / 1000);
    expect(Number(certificate.validBefore)).toBeLessThanOrEqual(accessEnds);
    expect(Number(certificate.validBefore)).toBeGreaterThan(accessEnds - 30);
    expect(Number(certificate.validAfter)).toBeLessThan(Date.now() / 1000);
    // It certifies the host key next to it, and OpenSSH reads it as a host certificate.
    const dir = mkdtempSync(join(tmpdir(), 'airlock-eph-hostcert-'));
    writeFileSync(join(dir, 'key'), file('ssh_host_ed25519_key'), { mode: 0o600 });
    writeFileSync(join(dir, 'cert.pub'), line);
    const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'key')], { encoding: 'utf8' });
    expect(derived.split(' ')[1]).toBe(Buffer.from(certificate.publicKey.blob).toString('base64'));
    const listing = execFileSync('ssh-keygen', ['-L', '-f', join(dir, 'cert.pub')], { encoding: 'utf8' });
    expect(listing).toContain('ssh-ed25519-cert-v01@openssh.com host certificate');
    expect(listing).toContain(`Principals: \n                ${request.id}\n`);
    // The mediator's generated config presents it.
    const owner = await core.readNamespacedConfigMap({ namespace, name: names.owner });
    expect(JSON.parse(owner.data?.['mediator.json'] ?? '{}')).toMatchObject({
      hostKeyFile: '/etc/airlock/tls/ssh_host_ed25519_key',
      hostCertificateFile: '/etc/airlock/tls/ssh_host_ed25519_key-cert.pub',
    });
    const launched = env.audit
      .events()
      .find((e) => e.event === 'tiers.launched' && e.request_id === request.id);
    expect(launched?.details?.host_certificate).toBe(line.trim());
  });

  it("request A's executor may impersonate A's groups and not B's; no mediator may impersonate", async () => {
    const a = await env.approvedRequest(nsA);
    const b = await env.approvedRequest(nsB);
    const [na, nb] = [launchNames(a.id), launchNames(b.id)];
    const may = (sa: string, group: string) => saMay(namespace, sa, 'impersonate', 'groups', group);
    expect(await may(na.tier.executor, `jit:shell:${nsA}`)).toBe(true);
    expect(await may(na.tier.executor, `jit:shell:${nsB}`)).toBe(false);
    expect(await may(nb.tier.executor, `jit:shell:${nsB}`)).toBe(true);
    expect(await may(nb.tier.executor, `jit:shell:${nsA}`)).toBe(false);
    expect(await may(na.tier.mediator, `jit:shell:${nsA}`)).toBe(false);
    expect(await may(na.tier.executor, 'system:masters')).toBe(false);
    expect(await saMay(namespace, na.tier.executor, 'impersonate', 'users', 'airlock:session')).toBe(true);
    expect(await saMay(namespace, na.tier.executor, 'impersonate', 'users', 'system:admin')).toBe(false);
    // The broker itself: no read of the namespace's Secrets (the standing CA keys live there).
    expect(await saMay(namespace, 'airlock-broker', 'get', 'secrets', na.secret.executor)).toBe(false);
    expect(await saMay(namespace, 'airlock-broker', 'list', 'secrets', '')).toBe(false);
    // Its namespaced rights stop at the airlock namespace.
    expect(await saMay(namespace, 'airlock-broker', 'create', 'pods', '', namespace)).toBe(true);
    expect(await saMay(namespace, 'airlock-broker', 'create', 'pods', '', nsA)).toBe(false);
    expect(await saMay(namespace, 'airlock-broker', 'delete', 'pods', 'api-0', nsA)).toBe(false);
  });

  it('revocation deletes every object of the request and audits it; the other request keeps its pods', async () => {
    const a = await env.approvedRequest(nsA);
    const b = await env.approvedRequest(nsB);
    const revokedAt = Date.now();
    await env.broker.revoke(sam, a.id, 'done');
    const gcMs = await expectAllGone(namespace, a.id);
    // The measurement behind docs/architecture.md's deletion bound (revocation → last object gone).
    console.info(
      `ephemeral tiers: revocation to every object gone ${Date.now() - revokedAt} ms (garbage collector ${gcMs} ms)`,
    );
    expect(await objectsOf(namespace, b.id)).toHaveLength(11);
    const deleted = env.audit.events().filter((e) => e.event === 'tiers.deleted');
    expect(deleted.map((e) => [e.request_id, e.reason])).toEqual([[a.id, 'revoked']]);
  });

  it('the sweep deletes the objects of an expired request and of a request the broker does not know', async () => {
    const expired = await env.approvedRequest(nsA);
    await env.store.put({
      ...(await env.store.get(expired.id))!,
      accessExpiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    const unknown = 'req-0123456789abcdef0123';
    const now = new Date();
    await env.launcher.launch({
      requestId: unknown,
      cluster: 'dev',
      groups: [`jit:shell:${nsB}`],
      accessExpiresAt: new Date(now.getTime() + 300_000),
      approvedAt: now,
      now,
    });
    const live = await env.approvedRequest(nsB);
    const swept = await env.tiers.sweep();
    expect(swept).toEqual(expect.arrayContaining([expired.id, unknown]));
    expect(swept).not.toContain(live.id);
    await expectAllGone(namespace, expired.id);
    await expectAllGone(namespace, unknown);
    expect(await objectsOf(namespace, live.id)).toHaveLength(11);
    const reasons = env.audit
      .events()
      .filter((e) => e.event === 'tiers.deleted' && [expired.id, unknown].includes(e.request_id ?? ''))
      .map((e) => [e.request_id, e.reason]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        [expired.id, 'expired'],
        [unknown, 'the broker knows no such request'],
      ]),
    );
  });
});
