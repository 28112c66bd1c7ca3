/**
 * kubectl credentials from an approved access request (docs/kubectl.md):
 *
 * - `airlock cred-helper --cluster C [--ttl 30m] [--request ID]` is a
 *   kubeconfig exec credential plugin (client.authentication.k8s.io/v1,
 *   Kubernetes docs "client-go credential plugins"). It generates a key pair
 *   here (ECDSA P-256, or Ed25519), sends only the CSR to the broker
 *   (`POST /v1/requests/:id/kube-certificate`), and prints an ExecCredential
 *   with the client certificate and key. Certificate and key are cached at
 *   ~/.cache/airlock/cred-<cluster>.json (mode 0600) until 60 s before the
 *   certificate expires, so kubectl runs it on every call cheaply and gets a
 *   fresh certificate in time. No long-lived token is ever in a kubeconfig.
 * - `airlock kubeconfig --cluster C --server URL --ca FILE` prints a
 *   kubeconfig whose user is that exec plugin.
 * - `airlock kube-cert --request ID --csr FILE | --key FILE` signs a CSR made
 *   elsewhere (e.g. `openssl req`), or builds one for an existing private key
 *   (EC P-256 or Ed25519, PEM), and prints the certificate and a kubeconfig
 *   snippet. `--print-subject` shows the `-subj` openssl needs.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AirlockError, isErrorCode } from '../../core/errors.js';
import { type HttpsCallOptions, httpsCall } from '../../core/https/https-client.js';
import { createCsr } from '../../core/x509/index.js';
import { type BrokerClientIo, processBrokerClientIo } from './broker-client-io.js';
import { createCsrForKey, keyTypeOf } from './csr-for-key.js';
import {
  type CachedCredential,
  checkCluster,
  credentialCachePath,
  isCredentialFresh,
  REFRESH_MARGIN_SECONDS,
  readCachedCredential,
  writeCachedCredential,
} from './kube-credential-cache.js';
import { EXEC_API_VERSION, type KubeconfigOptions, runKubeconfig } from './kubeconfig.js';
import type { TokenCache } from './token-cache.js';
import { parseTtl } from './ttl.js';

/** What the commands touch; tests pass their own. */
export interface KubeCredentialsIo extends BrokerClientIo {
  /** Directory of cred-<cluster>.json; default `$AIRLOCK_CACHE_DIR`, `$XDG_CACHE_HOME/airlock` or `~/.cache/airlock`. */
  readonly cacheDir: string;
}

/** The real process. */
export function processKubeCredentialsIo(): KubeCredentialsIo {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return { ...processBrokerClientIo(), cacheDir: process.env.AIRLOCK_CACHE_DIR || join(base, 'airlock') };
}

interface Session {
  readonly broker: string;
  readonly ca: string | undefined;
  readonly token: string;
}

/** The broker URL, CA and the cached login token (`airlock login`). */
async function session(io: BrokerClientIo, options: { broker?: string; ca?: string }): Promise<Session> {
  let cache: TokenCache;
  try {
    cache = JSON.parse(await readFile(join(io.configDir, 'token.json'), 'utf8')) as TokenCache;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AirlockError('AUTH_REQUIRED', 'not logged in; run airlock login --broker URL');
    }
    throw new AirlockError('USAGE', `cannot read the airlock login: ${(error as Error).message}`);
  }
  if (Date.parse(cache.expiresAt) <= io.now().getTime()) {
    throw new AirlockError('AUTH_EXPIRED', 'the cached login has expired; run airlock login');
  }
  const caPath = options.ca ?? cache.ca;
  let ca: string | undefined;
  if (caPath !== undefined) {
    try {
      ca = await readFile(caPath, 'utf8');
    } catch (error) {
      throw new AirlockError('USAGE', `cannot read CA file ${caPath}: ${(error as Error).message}`);
    }
  }
  return { broker: options.broker ?? cache.broker, ca, token: cache.idToken };
}

async function call(s: Session, method: 'GET' | 'POST', path: string, json?: unknown): Promise<unknown> {
  const init: HttpsCallOptions = {
    method,
    ca: s.ca,
    headers: { authorization: `Bearer ${s.token}` },
    timeoutMs: 60_000,
    ...(json === undefined ? {} : { json }),
  };
  const response = await httpsCall(`${s.broker.replace(/\/$/, '')}${path}`, init);
  if (response.status >= 400) {
    const { code, message } = (response.body ?? {}) as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && isErrorCode(code)) {
      throw new AirlockError(code, typeof message === 'string' ? message : code);
    }
    throw new AirlockError('INTERNAL', `broker answered HTTP ${response.status}`);
  }
  return response.body;
}

interface KubeSubject {
  requestId: string;
  cluster: string;
  commonName: string;
  organizations: string[];
  accessExpiresAt: string;
}

interface IssuedKubeCertificate {
  requestId: string;
  cluster: string;
  certificate: string;
  serial: string;
  notAfter: string;
}

/** The newest-expiring approved, unexpired request of mine for `cluster`. */
async function findApprovedRequest(s: Session, cluster: string, now: Date): Promise<string> {
  const { requests } = (await call(s, 'GET', '/v1/requests?mine=1')) as {
    requests: { id: string; status: string; scope: { cluster: string }; accessExpiresAt?: string }[];
  };
  const usable = requests
    .filter(
      (r) =>
        r.status === 'approved' &&
        r.scope.cluster === cluster &&
        Date.parse(r.accessExpiresAt ?? '') > now.getTime(),
    )
    .sort((a, b) => Date.parse(b.accessExpiresAt ?? '') - Date.parse(a.accessExpiresAt ?? ''));
  const found = usable[0];
  if (!found) {
    throw new AirlockError(
      'REQUEST_NOT_FOUND',
      `no approved access request for cluster ${cluster}; run airlock request --cluster ${cluster} ...`,
    );
  }
  return found.id;
}

/** Subject as `openssl req -subj` takes it. */
export function opensslSubject(subject: { commonName: string; organizations: readonly string[] }): string {
  const quote = (v: string) => v.replace(/[\\/]/g, (c) => `\\${c}`);
  return `/CN=${quote(subject.commonName)}${subject.organizations.map((o) => `/O=${quote(o)}`).join('')}`;
}

/** The ExecCredential kubectl reads on stdout. Expires with the cache, so kubectl re-runs the plugin in time. */
export function execCredential(entry: CachedCredential): Record<string, unknown> {
  const expires = new Date(Date.parse(entry.notAfter) - REFRESH_MARGIN_SECONDS * 1000);
  return {
    apiVersion: EXEC_API_VERSION,
    kind: 'ExecCredential',
    status: {
      clientCertificateData: entry.certificate,
      clientKeyData: entry.privateKey,
      expirationTimestamp: expires.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
  };
}

/** Options of `airlock cred-helper`. */
export interface CredHelperOptions {
  readonly cluster: string;
  readonly ttl: string;
  readonly request?: string;
  readonly keyType?: string;
  readonly broker?: string;
  readonly ca?: string;
}

/** `airlock cred-helper`: prints an ExecCredential, from the cache while it is fresh. */
export async function runCredHelper(options: CredHelperOptions, io: KubeCredentialsIo): Promise<number> {
  const cluster = checkCluster(options.cluster);
  const ttlSeconds = parseTtl(options.ttl);
  const keyType = keyTypeOf(options.keyType);
  const path = credentialCachePath(io, cluster);
  const cached = await readCachedCredential(path);
  if (
    cached &&
    cached.cluster === cluster &&
    (options.request === undefined || cached.requestId === options.request) &&
    isCredentialFresh(cached, io.now())
  ) {
    io.out(`${JSON.stringify(execCredential(cached))}\n`);
    return 0;
  }
  const s = await session(io, options);
  const requestId = options.request ?? (await findApprovedRequest(s, cluster, io.now()));
  const base = `/v1/requests/${encodeURIComponent(requestId)}/kube-certificate`;
  const subject = (await call(s, 'GET', base)) as KubeSubject;
  if (subject.cluster !== cluster) {
    throw new AirlockError(
      'SCOPE_CLUSTER',
      `request ${requestId} is for cluster ${subject.cluster}, not ${cluster}`,
    );
  }
  // The private key is made here and never leaves this machine; only the CSR goes to the broker.
  const { csrPem, privateKeyPem } = await createCsr({
    commonName: subject.commonName,
    organizations: subject.organizations,
    keyType,
  });
  const issued = (await call(s, 'POST', base, { csr: csrPem, ttlSeconds, cluster })) as IssuedKubeCertificate;
  const entry: CachedCredential = {
    cluster,
    requestId,
    certificate: issued.certificate,
    privateKey: privateKeyPem,
    notAfter: issued.notAfter,
  };
  await writeCachedCredential(path, io.cacheDir, entry);
  io.out(`${JSON.stringify(execCredential(entry))}\n`);
  return 0;
}

const q = (value: string) => JSON.stringify(value);

/** Options of `airlock kube-cert`. */
export interface KubeCertOptions {
  readonly request: string;
  readonly csr?: string;
  readonly key?: string;
  readonly ttl: string;
  /** Where to write the certificate; default stdout. */
  readonly out?: string;
  /** Only print the `openssl req -subj` value the CSR needs. */
  readonly printSubject?: boolean;
  readonly broker?: string;
  readonly ca?: string;
}

/** `airlock kube-cert`: signs a CSR (or builds one for a key) and prints the certificate and a kubeconfig snippet. */
export async function runKubeCert(options: KubeCertOptions, io: KubeCredentialsIo): Promise<number> {
  const s = await session(io, options);
  const base = `/v1/requests/${encodeURIComponent(options.request)}/kube-certificate`;
  const subject = (await call(s, 'GET', base)) as KubeSubject;
  if (options.printSubject) {
    io.out(`${opensslSubject(subject)}\n`);
    return 0;
  }
  if ((options.csr === undefined) === (options.key === undefined)) {
    throw new AirlockError('USAGE', 'give exactly one of --csr FILE or --key FILE');
  }
  const ttlSeconds = parseTtl(options.ttl);
  const source = (options.csr ?? options.key) as string;
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read ${source}: ${(error as Error).message}`);
  }
  const csr = options.csr !== undefined ? text : await createCsrForKey(text, subject);
  const issued = (await call(s, 'POST', base, {
    csr,
    ttlSeconds,
    cluster: subject.cluster,
  })) as IssuedKubeCertificate;
  if (options.out === undefined) io.out(issued.certificate);
  else await writeFile(options.out, issued.certificate, { mode: 0o644 });
  const serial = new X509Certificate(issued.certificate).serialNumber;
  const certificateLine =
    options.out === undefined
      ? `client-certificate-data: ${q(Buffer.from(issued.certificate).toString('base64'))}`
      : `client-certificate: ${q(resolve(options.out))}`;
  const keyLine =
    options.key === undefined
      ? 'client-key: "<the private key of your CSR>"'
      : `client-key: ${q(resolve(options.key))}`;
  io.err(
    [
      `# certificate serial ${serial} for ${opensslSubject(subject)}, valid until ${issued.notAfter}`,
      '# kubeconfig user:',
      'users:',
      `- name: ${q(`${subject.commonName}@${subject.cluster}`)}`,
      '  user:',
      `    ${certificateLine}`,
      `    ${keyLine}`,
      '',
    ].join('\n'),
  );
  return 0;
}

function connection(command: Command): Command {
  return command
    .option('--broker <url>', 'broker URL (default: from the last airlock login)')
    .option('--ca <file>', 'PEM CA bundle trusted for the broker (default: from the last airlock login)');
}

/** Registers `cred-helper`, `kubeconfig` and `kube-cert`. */
export function registerKubeCredentialCommands(
  program: Command,
  io: () => KubeCredentialsIo = processKubeCredentialsIo,
): void {
  const set = (status: number) => {
    process.exitCode = status;
  };
  connection(
    program
      .command('cred-helper')
      .description(
        'kubectl exec credential plugin: prints a client.authentication.k8s.io/v1 ExecCredential with a short-lived client certificate for an approved request',
      ),
  )
    .requiredOption('--cluster <name>', 'cluster (as in the access request)')
    .option('--ttl <duration>', 'certificate lifetime wanted (600 s to 30 min, within the request)', '30m')
    .option('--request <id>', 'use this request (default: your approved request for the cluster)')
    .option('--key-type <type>', 'ecdsa-p256 or ed25519', 'ecdsa-p256')
    .action(async (options: CredHelperOptions) => set(await runCredHelper(options, io())));

  program
    .command('kubeconfig')
    .description('Print a kubeconfig whose user runs airlock cred-helper')
    .requiredOption('--cluster <name>', 'cluster (as in the access request)')
    .requiredOption('--server <url>', 'the Kubernetes API server URL')
    .requiredOption('--ca <file>', "the cluster's CA bundle (PEM)")
    .option('--ttl <duration>', 'certificate lifetime wanted', '30m')
    .option('--request <id>', 'pin one request')
    .option('--key-type <type>', 'ecdsa-p256 or ed25519')
    .option('--command <path>', 'the airlock command kubectl runs', 'airlock')
    .option('--broker <url>', 'broker URL for cred-helper (default: from the login)')
    .option('--broker-ca <file>', 'broker CA bundle for cred-helper (default: from the login)')
    .addHelpText(
      'after',
      '\nExample:\n  airlock kubeconfig --cluster prod-eu --server https://k8s.prod-eu:6443 --ca prod-eu-ca.pem > ~/.kube/airlock-prod-eu',
    )
    .action(async (options: KubeconfigOptions) => set(await runKubeconfig(options, io())));

  connection(
    program
      .command('kube-cert')
      .description(
        'Get a Kubernetes client certificate for your own CSR (--csr) or key (--key) from an approved request',
      ),
  )
    .requiredOption('--request <id>', 'the approved request')
    .option(
      '--csr <file>',
      'PKCS#10 CSR (PEM), e.g. from openssl req -new -key k.pem -subj "$(airlock kube-cert --request ID --print-subject)"',
    )
    .option('--key <file>', 'EC P-256 or Ed25519 private key (PEM); the CSR is built here')
    .option('--ttl <duration>', 'certificate lifetime wanted', '30m')
    .option('--out <file>', 'write the certificate here (default: stdout)')
    .option('--print-subject', 'print the subject the CSR must carry, as openssl -subj takes it')
    .action(async (options: KubeCertOptions) => set(await runKubeCert(options, io())));
}
