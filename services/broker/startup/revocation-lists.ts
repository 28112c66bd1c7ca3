/**
 * The broker's revocation lists: the JSON deny list and, when configured,
 * the KRL file (what `revoke` waits for), and the ConfigMap copy published
 * in the background for the other pods.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { makeDirectory } from '../../core/files/make-directory.js';
import type { LogEntry } from '../../core/observability/logging.js';
import type { Metrics } from '../../core/observability/ops-server.js';
import type { BrokerConfig } from '../config.js';
import { createFileDenyList, createRevocationPublisher, type DenyListWriter } from '../deny-list.js';
import { createFileKrl } from '../krl-file.js';
import {
  createRevocationConfigMapPublisher,
  type RevocationConfigMapPublisher,
  revocationPublishMetrics,
} from '../revocation-config-map.js';
import type { LocalRevocationLists } from '../revocation-merge.js';
import { loadKubeConfig } from './kube-config.js';
import type { BrokerOverrides } from './overrides.js';

/** The revocation lists as the broker writes them. */
export interface BrokerRevocationLists {
  /** The local files only (deny list, then KRL). */
  readonly local: DenyListWriter;
  /** What a revocation goes to: the local files, then (in the background) the ConfigMap. */
  readonly denyList: DenyListWriter;
  /** The ConfigMap publisher when `revocationConfigMap` is configured (not started yet). */
  readonly publisher: RevocationConfigMapPublisher | undefined;
}

/** The broker's revocation files as they are now; no deny list yet is an empty one. */
async function readLocalRevocations(
  config: Pick<BrokerConfig, 'denyListFile' | 'revocationKrlFile'>,
): Promise<LocalRevocationLists> {
  const denyList = await readFile(config.denyListFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '{"serials":[],"keyIds":[]}';
    throw error;
  });
  if (config.revocationKrlFile === undefined) return { denyList };
  return { denyList, krl: await readFile(config.revocationKrlFile) };
}

/**
 * The local writers: every revocation lands in the JSON deny list and, when
 * configured, the KRL (created empty now: the tiers watch it from the start
 * and a missing file fails them closed). Their directories may not exist yet
 * (a fresh volume); 0755: other tiers on one host read them.
 */
async function openLocalRevocationFiles(config: BrokerConfig, clock: () => Date): Promise<DenyListWriter[]> {
  for (const file of [config.denyListFile, config.revocationKrlFile]) {
    if (file !== undefined) await makeDirectory(dirname(file), 0o755);
  }
  const writers: DenyListWriter[] = [createFileDenyList(config.denyListFile)];
  if (config.revocationKrlFile !== undefined) {
    const krl = createFileKrl(config.revocationKrlFile, clock);
    await krl.ensureExists();
    writers.push(krl);
  }
  return writers;
}

/** The ConfigMap copy for the other pods; undefined without `config.revocationConfigMap`. */
function revocationConfigMapPublisher(
  config: BrokerConfig,
  overrides: BrokerOverrides,
  deps: { clock: () => Date; log: (entry: LogEntry) => void; metrics: Metrics },
): RevocationConfigMapPublisher | undefined {
  const settings = config.revocationConfigMap;
  if (!settings) return undefined;
  const api = overrides.configMapApi ?? loadKubeConfig(settings.kubeconfig).makeApiClient(CoreV1Api);
  return createRevocationConfigMapPublisher({
    api,
    namespace: settings.namespace,
    name: settings.name,
    readLocal: () => readLocalRevocations(config),
    clock: deps.clock,
    log: deps.log,
    observe: revocationPublishMetrics(deps.metrics),
    resyncMs: settings.resyncSeconds * 1000,
  });
}

/** Opens the local revocation files and builds the ConfigMap publisher of `config`. */
export async function openRevocationLists(
  config: BrokerConfig,
  overrides: BrokerOverrides,
  deps: { clock: () => Date; log: (entry: LogEntry) => void; metrics: Metrics },
): Promise<BrokerRevocationLists> {
  const writers = await openLocalRevocationFiles(config, deps.clock);
  // The ConfigMap copy for the other pods; the files stay what `revoke` waits for.
  const publisher = revocationConfigMapPublisher(config, overrides, deps);
  const local = createRevocationPublisher(writers);
  const denyList: DenyListWriter = publisher
    ? {
        // Durable locally first (the answer depends on it), then published in the background.
        async revoke(entry) {
          await local.revoke(entry);
          void publisher.request();
        },
      }
    : local;
  return { local, denyList, publisher };
}
