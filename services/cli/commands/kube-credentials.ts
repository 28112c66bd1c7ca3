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
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AirlockError, isErrorCode } from '../../core/errors.js';
import { type HttpsCallOptions, httpsCall } from '../../core/https/https-client.js';
import { literalName, toPem } from '../../core/x509/certificate-input.js';
import { type CsrKeyType, createCsr } from '../../core/x509/index.js';
import { crypto, x509 } from '../../core/x509/provider.js';
import { type BrokerClientIo, parseTtl, processBrokerClientIo, type TokenCache } from './broker-client.js';

/** A cached credential is used until this many seconds before its certificate expires. */
export const REFRESH_MARGIN_SECONDS = 60;

/** The ExecCredential API version written into kubeconfigs and printed by cred-helper. */
export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';

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

/** One cached kubectl credential. The private key is a secret: the file is 0600. */
export interface CachedCredential {
  readonly cluster: string;
  readonly requestId: string;
  /** PEM. */
  readonly certificate: string;
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** RFC 3339: the certificate's notAfter. */
  readonly notAfter: string;
}

/** True while the credential may be handed out: until {@link REFRESH_MARGIN_SECONDS} before notAfter. */
export function isCredentialFresh(
  entry: CachedCredential,
  now: Date,
  marginSeconds = REFRESH_MARGIN_SECONDS,
): boolean {
  const notAfter = Date.parse(entry.notAfter);
  return Number.isFinite(notAfter) && now.getTime() < notAfter - marginSeconds * 1000;
}

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function checkCluster(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster))
    throw new AirlockError('USAGE', `--cluster ${JSON.stringify(cluster)} is not a cluster name`);
  return cluster;
}

/** Where cred-helper caches the credential for `cluster`. */
export function credentialCachePath(io: Pick<KubeCredentialsIo, 'cacheDir'>, cluster: string): string {
  return join(io.cacheDir, `cred-${checkCluster(cluster)}.json`);
}

async function readCachedCredential(path: string): Promise<CachedCredential | undefined> {
  try {
    const entry = JSON.parse(await readFile(path, 'utf8')) as Partial<CachedCredential>;
    if (
      typeof entry.cluster === 'string' &&
      typeof entry.requestId === 'string' &&
      typeof entry.certificate === 'string' &&
      typeof entry.privateKey === 'string' &&
      typeof entry.notAfter === 'string'
    ) {
      return entry as CachedCredential;
    }
    return undefined; // unreadable entries are replaced, never trusted
  } catch {
    return undefined;
  }
}

async function writeCachedCredential(path: string, dir: string, entry: CachedCredential): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
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

function keyTypeOf(value: string | undefined): CsrKeyType {
  if (value === undefined || value === 'ecdsa-p256' || value === 'ecdsa') return 'ecdsa-p256';
  if (value === 'ed25519') return 'ed25519';
  throw new AirlockError('USAGE', `--key-type must be ecdsa-p256 or ed25519, not ${value}`);
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
export async function runKubeconfig(options: KubeconfigOptions, io: KubeCredentialsIo): Promise<number> {
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

/**
 * A CSR for `CN=<commonName>, O=<each organization>` signed with an existing
 * private key (PEM: PKCS#8, SEC1 EC or OpenSSL's Ed25519). Only ECDSA P-256
 * and Ed25519 keys are accepted, as the broker accepts only those.
 */
export async function createCsrForKey(
  privateKeyPem: string,
  subject: { commonName: string; organizations: readonly string[] },
): Promise<string> {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new AirlockError('USAGE', 'the key file is not a PEM private key', { cause });
  }
  let importAlgorithm: { name: string; namedCurve?: string };
  let signingAlgorithm: { name: string; hash?: string };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    importAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' };
    signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
  } else if (key.asymmetricKeyType === 'ed25519') {
    importAlgorithm = { name: 'Ed25519' };
    signingAlgorithm = { name: 'Ed25519' };
  } else {
    throw new AirlockError(
      'USAGE',
      `the key is ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}; use an EC P-256 or Ed25519 key`,
    );
  }
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const keys = {
    privateKey: await crypto.subtle.importKey('pkcs8', pkcs8, importAlgorithm, false, ['sign']),
    publicKey: await crypto.subtle.importKey('spki', spki, importAlgorithm, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: literalName([['CN', subject.commonName], ...subject.organizations.map((o) => ['O', o] as const)]),
    keys,
    signingAlgorithm,
  });
  return toPem(csr.rawData, 'CERTIFICATE REQUEST');
}

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
