/** `airlock kubeconfig`: a kubeconfig whose user is the `airlock cred-helper` exec plugin (docs/kubectl.md). */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import type { BrokerClientIo } from './broker-client-io.js';
import { keyTypeOf } from './csr-for-key.js';
import { checkCluster } from './kube-credential-cache.js';
import { parseTtl } from './ttl.js';

/** The ExecCredential API version written into kubeconfigs and printed by cred-helper. */
export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';

/** A YAML scalar: JSON strings are YAML double-quoted scalars. */
const q = (value: string) => JSON.stringify(value);

/** Options of `airlock kubeconfig`. */
export interface KubeconfigOptions {
  readonly cluster: string;
  readonly server: string;
  /** The cluster's CA bundle (PEM file), embedded as certificate-authority-data. */
  readonly ca: string;
  readonly ttl: string;
  readonly request?: string;
  readonly keyType?: string;
  /** The plugin command; default `airlock` (found on PATH by kubectl). */
  readonly command?: string;
  /** Passed on to cred-helper as --broker / --ca. */
  readonly broker?: string;
  readonly brokerCa?: string;
}

/** `airlock kubeconfig`: prints a kubeconfig whose user is the cred-helper exec plugin. */
export async function runKubeconfig(
  options: KubeconfigOptions,
  io: Pick<BrokerClientIo, 'out'>,
): Promise<number> {
  const cluster = checkCluster(options.cluster);
  parseTtl(options.ttl);
  keyTypeOf(options.keyType);
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new AirlockError('USAGE', `--server ${options.server} is not a URL`);
  }
  if (url.protocol !== 'https:') throw new AirlockError('USAGE', '--server must be an https URL');
  let caPem: string;
  try {
    caPem = await readFile(options.ca, 'utf8');
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read --ca ${options.ca}: ${(error as Error).message}`);
  }
  if (!caPem.includes('-----BEGIN CERTIFICATE-----'))
    throw new AirlockError('USAGE', `--ca ${options.ca} holds no PEM certificate`);
  const args = ['cred-helper', '--cluster', cluster, '--ttl', options.ttl];
  if (options.request !== undefined) args.push('--request', options.request);
  if (options.keyType !== undefined) args.push('--key-type', keyTypeOf(options.keyType));
  if (options.broker !== undefined) args.push('--broker', options.broker);
  if (options.brokerCa !== undefined) args.push('--ca', resolve(options.brokerCa));
  const user = `airlock-${cluster}`;
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${q(cluster)}`,
    '  cluster:',
    `    server: ${q(options.server)}`,
    `    certificate-authority-data: ${q(Buffer.from(caPem).toString('base64'))}`,
    'users:',
    `- name: ${q(user)}`,
    '  user:',
    '    exec:',
    `      apiVersion: ${EXEC_API_VERSION}`,
    `      command: ${q(options.command ?? 'airlock')}`,
    '      args:',
    ...args.map((a) => `      - ${q(a)}`),
    '      interactiveMode: Never',
    '      provideClusterInfo: false',
    "      installHint: 'airlock cred-helper needs the airlock CLI on PATH and a current airlock login'",
    'contexts:',
    `- name: ${q(cluster)}`,
    '  context:',
    `    cluster: ${q(cluster)}`,
    `    user: ${q(user)}`,
    `current-context: ${q(cluster)}`,
  ];
  io.out(`${lines.join('\n')}\n`);
  return 0;
}
