import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../../core/errors.js';

/** File paths of the hermetic cluster's keys and certificates. */
export interface ClusterPki {
  /** Cluster CA: signs every serving and client certificate below and CSRs (csrsigning). */
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  /** The apiserver's client certificate towards the kubelet. */
  apiserverKubeletClientCert: string;
  apiserverKubeletClientKey: string;
  /** cluster-admin (O=system:masters), for the test harness and `airlock dev`. */
  adminCert: string;
  adminKey: string;
  controllerManagerCert: string;
  controllerManagerKey: string;
  /** The fake kubelet's client identity, system:node:<name> in system:nodes. */
  kubeletClientCert: string;
  kubeletClientKey: string;
  kubeletServingCert: string;
  kubeletServingKey: string;
  /** ServiceAccount token signing key pair. */
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** Real node only (`realNode` option): kube-proxy's and kube-scheduler's client certificates. */
  proxyCert?: string;
  proxyKey?: string;
  schedulerCert?: string;
  schedulerKey?: string;
}

/** Addresses a real node adds: the node's IP and the `kubernetes` Service IP (in the apiserver's SANs). */
export interface RealNodeAddresses {
  nodeIp: string;
  serviceIp: string;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new AirlockError(
      'CLUSTER_START_FAILED',
      `openssl ${args[0]} failed while creating the cluster PKI`,
      {
        detail: result.error?.message ?? result.stderr,
      },
    );
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', ...EC_KEY, '-keyout', key, '-out', join(dir, `${name}.csr`), '-subj', subject], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '7',
      '-out',
      cert,
      '-extfile',
      ext,
    ],
    dir,
  );
  return { cert, key };
}

const CLIENT = 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
const SERVER = (names: string) =>
  `keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${names}\n`;

/**
 * Creates a fresh PKI for one cluster in `dir` with the openssl CLI: one EC
 * P-256 CA, serving and client certificates valid for 7 days, and the
 * ServiceAccount signing key.
 */
export function createClusterPki(dir: string, nodeName: string, realNode?: RealNodeAddresses): ClusterPki {
  const extraIps = realNode ? `,IP:${realNode.nodeIp},IP:${realNode.serviceIp}` : '';
  openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '7',
      '-subj',
      '/CN=airlock-hermetic-ca',
    ],
    dir,
  );
  const apiserver = issue(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    SERVER(`IP:127.0.0.1${extraIps},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc`),
  );
  const apiserverKubeletClient = issue(
    dir,
    'apiserver-kubelet-client',
    '/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client',
    CLIENT,
  );
  const admin = issue(dir, 'admin', '/O=system:masters/CN=airlock-dev-admin', CLIENT);
  const controllerManager = issue(dir, 'controller-manager', '/CN=system:kube-controller-manager', CLIENT);
  const kubeletClient = issue(dir, 'kubelet-client', `/O=system:nodes/CN=system:node:${nodeName}`, CLIENT);
  const kubeletServing = issue(
    dir,
    'kubelet-serving',
    `/CN=${nodeName}`,
    SERVER(`IP:127.0.0.1${realNode ? `,IP:${realNode.nodeIp}` : ''},DNS:${nodeName}`),
  );
  const proxy = realNode ? issue(dir, 'kube-proxy', '/CN=system:kube-proxy', CLIENT) : undefined;
  const scheduler = realNode ? issue(dir, 'kube-scheduler', '/CN=system:kube-scheduler', CLIENT) : undefined;
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'sa.key'], dir);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    apiserverCert: apiserver.cert,
    apiserverKey: apiserver.key,
    apiserverKubeletClientCert: apiserverKubeletClient.cert,
    apiserverKubeletClientKey: apiserverKubeletClient.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    controllerManagerCert: controllerManager.cert,
    controllerManagerKey: controllerManager.key,
    kubeletClientCert: kubeletClient.cert,
    kubeletClientKey: kubeletClient.key,
    kubeletServingCert: kubeletServing.cert,
    kubeletServingKey: kubeletServing.key,
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
    ...(proxy && scheduler
      ? {
          proxyCert: proxy.cert,
          proxyKey: proxy.key,
          schedulerCert: scheduler.cert,
          schedulerKey: scheduler.key,
        }
      : {}),
  };
}
