import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderLauncherRbac } from '../../../broker/launcher/tier-rbac.js';
import { loadPolicy, renderGroups } from '../../../core/policy/index.js';
import { ephemeralPolicy, ephemeralRbac, writeEphemeralOverlay } from './ephemeral-pods-setup.js';

interface Rule {
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface RbacItem {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  subjects?: { name: string }[];
}

describe('the ephemeral-mode pods stack setup', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('policy: billing-debug renders its own group in billing only; oncall-debug is unchanged', () => {
    const policy = loadPolicy(JSON.stringify(ephemeralPolicy()));
    const billing = policy.profiles['billing-debug']!;
    expect(renderGroups(billing, { profile: 'billing-debug', cluster: 'dev', namespace: 'billing' })).toEqual(
      ['jit:billing-debug:billing'],
    );
    expect(billing.requesterGroups).toEqual(['billing-oncall']);
    expect(
      renderGroups(policy.profiles['oncall-debug']!, {
        profile: 'oncall-debug',
        cluster: 'dev',
        namespace: 'payments',
      }),
    ).toEqual(['jit:oncall:payments']);
  });

  it('RBAC: Roles in both namespaces, and the launcher may grant both teams’ groups and no other', () => {
    const { items } = ephemeralRbac(ephemeralPolicy()) as { items: RbacItem[] };
    const roles = items.filter((i) => i.kind === 'Role' && i.metadata.name.startsWith('airlock-jit-'));
    expect(roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort()).toEqual([
      'billing/airlock-jit-billing-debug',
      'billing/airlock-jit-cluster-read',
      'payments/airlock-jit-cluster-read',
      'payments/airlock-jit-oncall-debug',
    ]);
    const launcher = items.find(
      (i) => i.kind === 'ClusterRole' && i.metadata.name === 'airlock-broker-launcher',
    );
    const groups = launcher?.rules?.find((r) => r.resources?.includes('groups'))?.resourceNames;
    expect(groups?.sort()).toEqual([
      'jit:billing-debug:billing',
      'jit:cluster-read:dev',
      'jit:oncall:payments',
    ]);
    // Exactly what the broker's renderer makes for both namespaces.
    const rendered = renderLauncherRbac(loadPolicy(JSON.stringify(ephemeralPolicy())), {
      cluster: 'dev',
      namespaces: ['payments', 'billing'],
      brokerServiceAccount: { name: 'airlock-broker', namespace: 'airlock-system' },
    }).find((o) => o.kind === 'ClusterRole');
    expect(launcher).toEqual(JSON.parse(JSON.stringify(rendered)));
  });

  it('overlay: on dev-ephemeral, the broker config replaced (hashed), the policy replaced under its plain name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-eph-overlay-'));
    dirs.push(dir);
    const out = writeEphemeralOverlay(dir, {
      issuer: 'https://10.0.0.1:5556',
      brokerVolume: '/tmp/vol',
      policy: ephemeralPolicy(),
    });
    const kustomization = readFileSync(join(out, 'kustomization.yaml'), 'utf8');
    expect(kustomization).toMatch(/resources:\n- \S*deploy\/overlays\/dev-ephemeral\n/);
    expect(kustomization).toContain(
      '- name: airlock-policy\n  namespace: airlock-system\n  behavior: replace\n  options:\n    disableNameSuffixHash: true\n',
    );
    const broker = JSON.parse(readFileSync(join(out, 'broker.json'), 'utf8'));
    expect(broker.launcher).toMatchObject({ mode: 'ephemeral', cluster: 'dev' });
    expect(broker.oidc.groupMapping).toEqual({
      'idp:payments-oncall': ['payments-oncall'],
      'idp:billing-oncall': ['billing-oncall'],
    });
  });
});
