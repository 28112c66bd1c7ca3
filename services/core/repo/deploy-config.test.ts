import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { loadAdmissionConfig } from '../../admission/config.js';
import { loadBrokerConfig } from '../../broker/config.js';
import { DENY_LIST_KEY, KRL_KEY } from '../../broker/revocation-merge.js';
import { loadExecutorConfig } from '../../executor/config.js';
import { loadMediatorConfig } from '../../mediator/config.js';
import { loadPolicy } from '../policy/index.js';
import { repoRoot } from './repo-root.js';

const config = (name: string) => join(repoRoot(), 'deploy', 'base', 'config', name);

interface DeploymentYaml {
  kind: string;
  metadata: { name: string };
  spec: {
    template: {
      spec: {
        containers: { volumeMounts: { name: string; mountPath: string; subPath?: string }[] }[];
        volumes: { name: string; configMap?: { name: string } }[];
      };
    };
  };
}

/** A standing tier's Deployment (deploy/components/standing-tiers; base's configs serve it). */
function deployment(file: string): DeploymentYaml {
  const objects = loadAllYaml(
    readFileSync(join(repoRoot(), 'deploy', 'components', 'standing-tiers', file), 'utf8'),
  ) as DeploymentYaml[];
  return objects.find((o) => o.kind === 'Deployment')!;
}

describe('deploy/base configuration', () => {
  it('holds tier configs that pass each tier’s start-up validation', () => {
    expect(loadExecutorConfig(config('executor.json')).listen).toBe('0.0.0.0:7443');
    expect(loadMediatorConfig(config('mediator.json')).executor.address).toBe(
      'airlock-executor.airlock-system.svc:7443',
    );
    expect(loadBrokerConfig(config('broker.json')).listen.port).toBe(8443);
    // The broker Deployment probes /healthz and /readyz on the port named ops (9464).
    expect(loadBrokerConfig(config('broker.json')).ops?.listen).toBe('0.0.0.0:9464');
  });

  it('configures the CSR approval webhook for the cluster the broker and the executor sign for', () => {
    const admission = loadAdmissionConfig(config('admission.json'));
    expect(admission.cluster).toBe(loadExecutorConfig(config('executor.json')).cluster);
    expect(admission.cluster).toBe(loadBrokerConfig(config('broker.json')).kubeCertificates?.cluster);
    expect(admission.tls).toEqual({
      certFile: '/etc/airlock/tls/tls.crt',
      keyFile: '/etc/airlock/tls/tls.key',
    });
    // The Deployment's probes use the port named ops (9464).
    expect(admission.ops?.listen).toBe('0.0.0.0:9464');
  });

  it('ships the reviewed example policy unchanged', () => {
    const shipped = readFileSync(config('policy.json'), 'utf8');
    expect(shipped).toBe(readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8'));
    expect(() => loadPolicy(shipped)).not.toThrow();
  });

  it('points the tiers at the files of the ConfigMap the broker publishes to', () => {
    const broker = loadBrokerConfig(config('broker.json'));
    expect(broker.revocationConfigMap).toEqual({
      namespace: 'airlock-system',
      name: 'airlock-revocation',
      resyncSeconds: 60,
    });
    // The broker writes a KRL as well, so it has both keys to publish.
    expect(broker.revocationKrlFile).toBeDefined();
    const shipped = loadAllYaml(readFileSync(join(repoRoot(), 'deploy', 'base', 'revocation.yaml'), 'utf8'));
    // No data: re-applying deploy/ must never reset what the broker published.
    expect(shipped).toEqual([
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: expect.objectContaining({ name: 'airlock-revocation', namespace: 'airlock-system' }),
      },
    ]);
    for (const tier of ['mediator', 'executor'] as const) {
      const spec = deployment(`${tier}.yaml`).spec.template.spec;
      const volume = spec.volumes.find((v) => v.configMap?.name === 'airlock-revocation');
      const mount = spec.containers[0]?.volumeMounts.find((m) => m.name === volume?.name);
      // A whole-volume mount: kubelet never refreshes a subPath mount.
      expect(mount).toEqual({ name: volume?.name, mountPath: '/etc/airlock/revocation', readOnly: true });
      const load = tier === 'mediator' ? loadMediatorConfig : loadExecutorConfig;
      expect(load(config(`${tier}.json`)).revocation).toEqual({
        denyListFiles: [`/etc/airlock/revocation/${DENY_LIST_KEY}`],
        krlFiles: [`/etc/airlock/revocation/${KRL_KEY}`],
      });
    }
    expect(
      readFileSync(join(repoRoot(), 'deploy', 'components', 'executor-csr', 'executor.json'), 'utf8'),
    ).toContain(`"krlFiles": ["/etc/airlock/revocation/${KRL_KEY}"]`);
  });
});

describe('deploy/components/broker-postgres', () => {
  it("is ephemeral mode's broker config (base's with the launcher block) with store.postgres (URL and CA from the Secret), and both pass validation", () => {
    const component = join(repoRoot(), 'deploy', 'components', 'broker-postgres', 'broker.json');
    const { store: pgStore, launcher: pgLauncher, ...pgRest } = JSON.parse(readFileSync(component, 'utf8'));
    const { store: baseStore, ...baseRest } = JSON.parse(readFileSync(config('broker.json'), 'utf8'));
    expect(pgRest).toEqual(baseRest);
    const ephemeral = join(repoRoot(), 'deploy', 'components', 'ephemeral-tiers', 'broker.json');
    expect(pgLauncher).toEqual(JSON.parse(readFileSync(ephemeral, 'utf8')).launcher);
    expect(baseStore.sqlite.path).toBe('/var/lib/airlock/broker/requests.db');
    expect(loadBrokerConfig(component).store).toEqual({
      postgres: {
        urlFile: '/etc/airlock/database/url',
        caFile: '/etc/airlock/database/ca.crt',
        tls: 'verify',
        poolSize: 10,
        connectTimeoutSeconds: 5,
      },
      retentionDays: 90,
    });
    expect(pgStore.postgres.tls).toBe('verify');
  });
});
