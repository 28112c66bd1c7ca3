import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../core/errors.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { loadBrokerConfig } from '../config.js';
import { launchNames } from './launch-names.js';
import { OTELCOL_CONFIG_MAP } from './tier-audit-agent.js';
import { tierPod } from './tier-pods.js';

const names = launchNames('req-0123456789abcdef0123');
const endpoint = 'http://airlock-audit-store.airlock-system.svc:4318';
const agent = { image: 'airlock-otelcol:dev', storeEndpoint: endpoint };

/** The audit agent (a native sidecar) deploy/components/audit-shipping adds to the standing mediator. */
function componentAgent() {
  const kustomization = yaml.load(
    readFileSync(join(repoRoot(), 'deploy', 'components', 'audit-shipping', 'kustomization.yaml'), 'utf8'),
  ) as { patches: { target?: { name?: string }; patch: string }[] };
  const patch = kustomization.patches.find(
    (p) => p.target?.name !== undefined && new RegExp(`^${p.target.name}$`).test('airlock-mediator'),
  );
  const ops = yaml.load(patch?.patch ?? '') as { path: string; value: unknown }[];
  const sidecars = ops.find((op) => op.path === '/spec/template/spec/initContainers')?.value as {
    args: string[];
    env: { name: string; value?: string }[];
    volumeMounts: unknown[];
  }[];
  return sidecars[0]!;
}

describe('the audit agent of a per-request pod (launcher.auditStore)', () => {
  it('is absent without an audit store', () => {
    const pod = tierPod('executor', { names, image: 'x', activeDeadlineSeconds: 600 });
    expect(pod.spec?.initContainers).toBeUndefined();
    expect(pod.spec?.volumes?.some((v) => v.name === 'otelcol-config')).toBe(false);
  });

  it('is a native sidecar on the tier state volume, shipping to the store, for both tiers', () => {
    for (const tier of ['mediator', 'executor'] as const) {
      const pod = tierPod(tier, { names, image: 'x', activeDeadlineSeconds: 600, auditAgent: agent });
      const [sidecar, ...more] = pod.spec?.initContainers ?? [];
      expect(more).toEqual([]);
      expect([sidecar?.name, sidecar?.image, sidecar?.restartPolicy]).toEqual([
        'audit-agent',
        'airlock-otelcol:dev',
        'Always',
      ]);
      expect(sidecar?.env).toContainEqual({ name: 'AIRLOCK_AUDIT_STORE_ENDPOINT', value: endpoint });
      expect(sidecar?.securityContext).toEqual(pod.spec?.containers[0]?.securityContext);
      expect(pod.spec?.volumes).toContainEqual({
        name: 'otelcol-config',
        configMap: { name: OTELCOL_CONFIG_MAP },
      });
      expect(pod.spec?.volumes?.find((v) => v.name === 'state')).toEqual({ name: 'state', emptyDir: {} });
    }
  });

  it("mounts the audit-shipping component's agent config by its name (no hash) and may reach the store", () => {
    const dir = join(repoRoot(), 'deploy', 'components', 'audit-shipping');
    const kustomization = yaml.load(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
      configMapGenerator: { name: string; options?: { disableNameSuffixHash?: boolean }; files: string[] }[];
    };
    expect(kustomization.configMapGenerator).toContainEqual(
      expect.objectContaining({ name: OTELCOL_CONFIG_MAP, options: { disableNameSuffixHash: true } }),
    );
    expect(kustomization.configMapGenerator[0]?.files).toContain('agent.yaml');
    expect(kustomization.resources).toContain('ephemeral-egress.yaml');
    const egress = yaml.load(readFileSync(join(dir, 'ephemeral-egress.yaml'), 'utf8')) as {
      spec: { podSelector: { matchLabels: Record<string, string> } };
    };
    const pod = tierPod('executor', { names, image: 'x', activeDeadlineSeconds: 600, auditAgent: agent });
    for (const [key, value] of Object.entries(egress.spec.podSelector.matchLabels)) {
      expect(pod.metadata?.labels?.[key]).toBe(value);
    }
  });

  it('runs the audit-shipping component agent: same args, environment and mounts', () => {
    const pod = tierPod('mediator', { names, image: 'x', activeDeadlineSeconds: 600, auditAgent: agent });
    const sidecar = pod.spec?.initContainers?.[0];
    const shipped = componentAgent();
    expect(sidecar?.args).toEqual(shipped.args);
    // The same variables; the trail origin is the pod's name and uid (a replaced pod keeps the name).
    const byName = (env: { name: string }[] | undefined) =>
      Object.fromEntries((env ?? []).map((e) => [e.name, e]));
    const own = byName(sidecar?.env);
    const theirs = byName(shipped.env);
    for (const name of ['AIRLOCK_AUDIT_DIR', 'OTELCOL_STATE_DIR', 'AIRLOCK_AUDIT_STORE_ENDPOINT'])
      expect([name, own[name]]).toEqual([name, theirs[name]]);
    expect(JSON.parse(JSON.stringify(own.AIRLOCK_TRAIL_ORIGIN))).toEqual({
      name: 'AIRLOCK_TRAIL_ORIGIN',
      value: '$(POD_NAME)-$(POD_UID)',
    });
    expect(own.POD_UID).toEqual({ name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } });
    expect(sidecar?.volumeMounts).toEqual(shipped.volumeMounts);
  });

  it('is configured by launcher.auditStore, which the broker config validates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-store-'));
    try {
      const base = JSON.parse(
        readFileSync(join(repoRoot(), 'deploy', 'components', 'ephemeral-tiers', 'broker.json'), 'utf8'),
      );
      const file = join(dir, 'broker.json');
      const withStore = (auditStore: unknown) =>
        writeFileSync(file, JSON.stringify({ ...base, launcher: { ...base.launcher, auditStore } }));
      withStore({ endpoint, agentImage: 'airlock-otelcol:0.1.0' });
      const loaded = loadBrokerConfig(file).launcher;
      expect(loaded?.mode === 'ephemeral' && loaded.auditStore).toEqual({
        endpoint,
        agentImage: 'airlock-otelcol:0.1.0',
      });
      withStore({ endpoint: 'airlock-audit-store:4318', agentImage: 'x' });
      let refused: unknown;
      try {
        loadBrokerConfig(file);
      } catch (error) {
        refused = error instanceof AirlockError ? error.detail : error;
      }
      expect(refused).toBe('launcher.auditStore.endpoint: must match pattern "^https?://[^\\s]+$"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
