/**
 * The broker's client commands: `airlock login | request | approve | deny |
 * cert | status | revoke`.
 *
 * `login` runs the OAuth 2.0 Device Authorization Grant (RFC 8628) against
 * the issuer the broker names at `/v1/config` (or, with `--flow auth-code` or
 * when the issuer has no device grant, the authorization code flow with PKCE
 * on a loopback redirect: oidc-auth-code.ts), verifies the ID token's
 * signature, issuer and audience, and caches the ID token, the
 * broker URL and its CA at ~/.config/airlock/token.json (mode 0600). The
 * other commands call the broker's HTTPS JSON API with that token. The
 * private SSH key never leaves this machine: requests carry the public key,
 * `cert` writes the certificate next to it.
 */

import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AirlockError, isAirlockError, isErrorCode } from '../../core/errors.js';
import { type HttpsCallOptions, httpsCall } from '../../core/https/https-client.js';
import { parseCertificateLine, type SshPublicKey } from '../../core/ssh-cert/index.js';
import { nearestAutoApprovalMisses } from './auto-approval-miss.js';
import { certifiedKeyPath, rememberedRequestKey, rememberRequestKey } from './cert-key.js';
import {
  defaultDoorSshConfigPath,
  doorHostCas,
  doorKnownHosts,
  doorKnownHostsPath,
  doorSshConfig,
  writeDoorSshConfig,
} from './door-ssh-config.js';
import { readHostCa, writeHostTrust } from './host-trust.js';
import {
  authCodeLogin,
  discoverProvider,
  fetchJwks,
  type ProviderEndpoints,
  verifyLoginIdToken,
} from './oidc-auth-code.js';
import { readServiceAccountToken } from './service-account-token.js';

/** What the commands touch: output, files, time. Tests pass their own. */
export interface BrokerClientIo {
  out(text: string): void;
  err(text: string): void;
  /** Directory of token.json; default `$XDG_CONFIG_HOME/airlock` or `~/.config/airlock`. */
  readonly configDir: string;
  readonly homeDir: string;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Opens a URL in the person's browser (`airlock login --open-browser`); absent: not possible. */
  openBrowser?(url: string): void;
}

/** The real process. */
export function processBrokerClientIo(): BrokerClientIo {
  const home = homedir();
  const base = process.env.XDG_CONFIG_HOME || join(home, '.config');
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    configDir: process.env.AIRLOCK_CONFIG_DIR || join(base, 'airlock'),
    homeDir: home,
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    openBrowser: (url) => {
      // No shell: the URL is one argument. A missing opener only means the person opens it.
      const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
      const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
      child.on('error', () => process.stderr.write(`(could not run ${opener}; open the URL yourself)\n`));
      child.unref();
    },
  };
}

/** The cached login. */
export interface TokenCache {
  readonly broker: string;
  /** Absolute path of the PEM bundle trusted for the broker (and the issuer unless issuerCa). */
  readonly ca?: string;
  readonly issuer: string;
  readonly idToken: string;
  /** RFC 3339. */
  readonly expiresAt: string;
  readonly user?: string;
  /**
   * `login --service-account-token`: the absolute path of the token file,
   * read again by every command (a projected token rotates); `idToken` is
   * then empty.
   */
  readonly tokenFile?: string;
}

/** Connection options every command takes. */
export interface ConnectionOptions {
  readonly broker?: string;
  readonly ca?: string;
}

/** `-o, --output`: text for people, or one JSON document on stdout for scripts. */
export type OutputFormat = 'text' | 'json';

/** The output option every command takes. */
export interface OutputOptions {
  /** Default `text`. */
  readonly output?: OutputFormat;
}

/** Checks an `--output` value; anything but `text` or `json` is a USAGE error. */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new AirlockError('USAGE', `--output ${value} is not one of text, json`);
}

function printJson(io: BrokerClientIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** RFC 8628 §3.4 grant type. */
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function tokenPath(io: BrokerClientIo): string {
  return join(io.configDir, 'token.json');
}

async function readCache(io: BrokerClientIo): Promise<TokenCache | undefined> {
  try {
    return JSON.parse(await readFile(tokenPath(io), 'utf8')) as TokenCache;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError('USAGE', `cannot read ${tokenPath(io)}: ${(error as Error).message}`);
  }
}

async function writeCache(io: BrokerClientIo, cache: TokenCache): Promise<void> {
  await mkdir(io.configDir, { recursive: true, mode: 0o700 });
  const path = tokenPath(io);
  await writeFile(path, `${JSON.stringify(cache, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode applies only when it creates the file
}

async function readPem(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read CA file ${path}: ${(error as Error).message}`);
  }
}

/** Throws the broker's `{code, message}` as an AirlockError. */
function brokerError(status: number, body: unknown): AirlockError {
  const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && isErrorCode(code)) {
    return new AirlockError(code, typeof message === 'string' ? message : code);
  }
  return new AirlockError('INTERNAL', `broker answered HTTP ${status}`);
}

interface Session {
  readonly broker: string;
  readonly ca: string | undefined;
  readonly token: string;
  /** From the cached login, when known. */
  readonly user?: string;
}

/** The broker URL, CA and a current token, from the options and the cache. */
async function session(io: BrokerClientIo, options: ConnectionOptions): Promise<Session> {
  const cache = await readCache(io);
  if (!cache) throw new AirlockError('AUTH_REQUIRED', 'not logged in; run airlock login --broker URL');
  if (cache.tokenFile !== undefined) {
    const { token } = await readServiceAccountToken(cache.tokenFile, io.now());
    return {
      broker: options.broker ?? cache.broker,
      ca: await readPem(options.ca ?? cache.ca),
      token,
      ...(cache.user === undefined ? {} : { user: cache.user }),
    };
  }
  if (Date.parse(cache.expiresAt) <= io.now().getTime()) {
    throw new AirlockError('AUTH_EXPIRED', 'the cached login has expired; run airlock login');
  }
  const broker = options.broker ?? cache.broker;
  return {
    broker,
    ca: await readPem(options.ca ?? cache.ca),
    token: cache.idToken,
    ...(cache.user === undefined ? {} : { user: cache.user }),
  };
}

async function call(s: Session, method: 'GET' | 'POST', path: string, json?: unknown): Promise<unknown> {
  const init: HttpsCallOptions = {
    method,
    ca: s.ca,
    headers: { authorization: `Bearer ${s.token}` },
    ...(json === undefined ? {} : { json }),
  };
  const response = await httpsCall(`${s.broker.replace(/\/$/, '')}${path}`, init);
  if (response.status >= 400) throw brokerError(response.status, response.body);
  return response.body;
}

/** How `airlock login` signs in. */
export type LoginFlow = 'device' | 'auth-code';

/** Options of `airlock login`. */
export interface LoginOptions extends ConnectionOptions, OutputOptions {
  /** PEM bundle for the issuer's TLS; default: the --ca bundle. */
  readonly issuerCa?: string;
  /** Default: `device` when the issuer offers it, else `auth-code`. */
  readonly flow?: string;
  /** Open the sign-in URL in a browser (auth-code flow). */
  readonly openBrowser?: boolean;
  /** How long the auth-code flow waits for the browser, in seconds; default 300. */
  readonly timeoutSeconds?: number;
  /** A file holding a Kubernetes ServiceAccount token (a runbook's machine identity) instead of a person's sign-in. */
  readonly serviceAccountToken?: string;
}

/** `airlock login --service-account-token FILE`: checks the token at the broker (TokenReview) and remembers the file. */
async function runServiceAccountLogin(
  options: LoginOptions & { serviceAccountToken: string },
  io: BrokerClientIo,
): Promise<number> {
  const cached = await readCache(io);
  const broker = options.broker ?? cached?.broker;
  if (!broker) throw new AirlockError('USAGE', 'the first login needs --broker URL');
  const caPath = options.ca === undefined ? cached?.ca : resolve(options.ca);
  const tokenFile = resolve(options.serviceAccountToken);
  const read = await readServiceAccountToken(tokenFile, io.now());
  const s: Session = { broker, ca: await readPem(caPath), token: read.token };
  const me = (await call(s, 'GET', '/v1/whoami')) as { user: string; groups: string[]; kind?: string };
  // The file is read again by each command: a projected token's expiry is not the login's.
  const expiresAt = read.expiresAt ?? 'never';
  await writeCache(io, {
    broker,
    ...(caPath === undefined ? {} : { ca: caPath }),
    issuer: read.issuer ?? 'kubernetes',
    idToken: '',
    expiresAt,
    user: me.user,
    tokenFile,
  });
  if (options.output === 'json') printJson(io, { user: me.user, groups: me.groups, tokenFile });
  else {
    io.out(
      `logged in as ${me.user} (groups: ${me.groups.join(', ') || 'none'}) with the token in ${tokenFile} (read again by each command)\n`,
    );
  }
  return 0;
}

/** `airlock login`: device flow or auth-code flow, then verifies and caches the ID token. */
export async function runLogin(options: LoginOptions, io: BrokerClientIo): Promise<number> {
  if (options.serviceAccountToken !== undefined) {
    if (options.flow !== undefined || options.openBrowser) {
      throw new AirlockError('USAGE', '--service-account-token takes no --flow or --open-browser');
    }
    return runServiceAccountLogin({ ...options, serviceAccountToken: options.serviceAccountToken }, io);
  }
  const cached = await readCache(io);
  const broker = options.broker ?? cached?.broker;
  if (!broker) throw new AirlockError('USAGE', 'the first login needs --broker URL');
  const caPath = options.ca === undefined ? cached?.ca : resolve(options.ca);
  const ca = await readPem(caPath);
  const issuerCa = options.issuerCa === undefined ? ca : await readPem(options.issuerCa);

  const config = await httpsCall(`${broker.replace(/\/$/, '')}/v1/config`, { ca });
  const { issuer, clientId } = (config.body ?? {}) as { issuer?: string; clientId?: string };
  if (config.status !== 200 || typeof issuer !== 'string' || typeof clientId !== 'string') {
    throw new AirlockError('INTERNAL', `${broker} did not name its issuer (HTTP ${config.status})`);
  }
  if (options.flow !== undefined && options.flow !== 'device' && options.flow !== 'auth-code') {
    throw new AirlockError('USAGE', `--flow ${options.flow} is not one of device, auth-code`);
  }
  const provider = await discoverProvider(issuer, issuerCa);
  const flow: LoginFlow =
    (options.flow as LoginFlow | undefined) ??
    (provider.deviceAuthorizationEndpoint ? 'device' : 'auth-code');
  const idToken =
    flow === 'device'
      ? await deviceFlowLogin(provider, clientId, issuerCa, io)
      : await authCodeLogin({
          provider,
          clientId,
          ca: issuerCa,
          tell: (text) => io.err(text),
          ...(options.openBrowser && io.openBrowser ? { openBrowser: io.openBrowser.bind(io) } : {}),
          now: () => io.now(),
          ...(options.timeoutSeconds === undefined ? {} : { timeoutMs: options.timeoutSeconds * 1000 }),
        });
  // The auth-code flow verified it with its nonce already; this covers the device flow too.
  const { exp } = await verifyLoginIdToken(idToken, {
    issuer,
    clientId,
    jwks: await fetchJwks(provider.jwksUri, issuerCa),
    now: io.now(),
  });
  const s: Session = { broker, ca, token: idToken };
  const me = (await call(s, 'GET', '/v1/whoami')) as { user: string; groups: string[] };
  await writeCache(io, {
    broker,
    ...(caPath === undefined ? {} : { ca: caPath }),
    issuer,
    idToken,
    expiresAt: new Date((exp ?? 0) * 1000).toISOString(),
    user: me.user,
  });
  const expiresAt = new Date((exp ?? 0) * 1000).toISOString();
  if (options.output === 'json') printJson(io, { user: me.user, groups: me.groups, expiresAt });
  else io.out(`logged in as ${me.user} (groups: ${me.groups.join(', ') || 'none'}) until ${expiresAt}\n`);
  return 0;
}

/** RFC 8628: shows the user code, polls the token endpoint; returns the (unverified) ID token. */
async function deviceFlowLogin(
  provider: ProviderEndpoints,
  clientId: string,
  issuerCa: string | undefined,
  io: BrokerClientIo,
): Promise<string> {
  const issuer = provider.issuer;
  if (provider.deviceAuthorizationEndpoint === undefined) {
    throw new AirlockError('AUTH_INVALID', `${issuer} does not offer the device authorization grant`);
  }
  const started = await httpsCall(provider.deviceAuthorizationEndpoint, {
    ca: issuerCa,
    form: { client_id: clientId, scope: 'openid profile email groups' },
  });
  const device = (started.body ?? {}) as {
    device_code?: string;
    user_code?: string;
    verification_uri?: string;
    verification_uri_complete?: string;
    expires_in?: number;
    interval?: number;
  };
  if (
    started.status !== 200 ||
    typeof device.device_code !== 'string' ||
    typeof device.user_code !== 'string'
  ) {
    throw new AirlockError(
      'AUTH_INVALID',
      `${issuer} refused the device authorization (HTTP ${started.status})`,
    );
  }
  io.err(
    `To sign in, open ${device.verification_uri ?? issuer} and enter the code ${device.user_code}\n` +
      (device.verification_uri_complete ? `(or open ${device.verification_uri_complete})\n` : ''),
  );
  // RFC 8628 §3.5: poll no faster than `interval`, +5 s on slow_down, until expires_in.
  let interval = (device.interval ?? 5) * 1000;
  const deadline = Date.now() + (device.expires_in ?? 600) * 1000;
  let idToken: string | undefined;
  while (idToken === undefined) {
    if (Date.now() >= deadline)
      throw new AirlockError('AUTH_EXPIRED', 'the sign-in code expired; run airlock login again');
    await io.sleep(interval);
    const polled = await httpsCall(provider.tokenEndpoint, {
      ca: issuerCa,
      form: { grant_type: DEVICE_CODE_GRANT, device_code: device.device_code, client_id: clientId },
    });
    const body = (polled.body ?? {}) as { error?: string; id_token?: string };
    if (polled.status === 200 && typeof body.id_token === 'string') idToken = body.id_token;
    else if (body.error === 'authorization_pending') continue;
    else if (body.error === 'slow_down') interval += 5000;
    else if (body.error === 'access_denied') throw new AirlockError('AUTH_INVALID', 'sign-in was denied');
    else if (body.error === 'expired_token') {
      throw new AirlockError('AUTH_EXPIRED', 'the sign-in code expired; run airlock login again');
    } else throw new AirlockError('AUTH_INVALID', `sign-in failed: ${body.error ?? `HTTP ${polled.status}`}`);
  }
  return idToken;
}

/** Parses `30m`, `1h`, `90s`, `1h30m` or plain seconds. */
export function parseTtl(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!match || text.trim() === '')
    throw new AirlockError('USAGE', `--ttl ${text} is not a duration like 30m, 1h or 900`);
  const seconds = Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
  if (seconds <= 0) throw new AirlockError('USAGE', '--ttl must be positive');
  return seconds;
}

function expandHome(path: string, io: BrokerClientIo): string {
  return path === '~' || path.startsWith('~/') ? join(io.homeDir, path.slice(1)) : path;
}

/** Options of `airlock request`. */
export interface RequestOptions extends ConnectionOptions, OutputOptions {
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly pod: readonly string[];
  readonly ttl: string;
  readonly reason: string;
  readonly key?: string;
  readonly runbook?: string;
  /** Container name patterns (`--container`, repeatable); none: every container the profile allows. */
  readonly container?: readonly string[];
  /** `--moderate`: ask for the profile's moderator role (join and moderate its sessions) instead of access. */
  readonly moderate?: boolean;
  /** Same as `output: 'json'` (the `--json` flag, kept for existing scripts). */
  readonly json?: boolean;
}

interface RequestView {
  id: string;
  status: string;
  requester: { user: string };
  scope: {
    profile: string;
    cluster: string;
    namespace: string;
    podPatterns: string[];
    ttlSeconds: number;
    reason: string;
  };
  decision: {
    decision: string;
    rule?: string;
    approvers?: { groups: string[]; count: number };
    /** Why, rule by rule: for a request that missed auto-approval, each failed condition. */
    reasons?: string[];
  };
  createdAt: string;
  pendingExpiresAt?: string;
  accessExpiresAt?: string;
  approvals: { user: string }[];
  certificate?: { serial: string };
  launch?: { status: string; code?: string; reason?: string };
}

/**
 * The request as the person should read it now: the broker keeps an approved
 * request `approved` after its access window, but no certificate is valid
 * or issued after `accessExpiresAt`, so it is shown as `expired`.
 */
export function asOf(r: RequestView, now: Date): RequestView {
  const ended = r.accessExpiresAt !== undefined && Date.parse(r.accessExpiresAt) <= now.getTime();
  return r.status === 'approved' && ended ? { ...r, status: 'expired' } : r;
}

function describe(r: RequestView): string {
  const lines = [
    `${r.id}  ${r.status}`,
    `  requester  ${r.requester.user}`,
    `  scope      ${r.scope.profile} ${r.scope.cluster}/${r.scope.namespace} pods ${r.scope.podPatterns.join(',')} for ${r.scope.ttlSeconds}s`,
    `  reason     ${r.scope.reason}`,
    `  decision   ${r.decision.decision}${r.decision.rule ? ` (${r.decision.rule})` : ''}`,
  ];
  if (r.decision.decision === 'needs-approval') {
    // Which auto-approval came nearest, and what it lacked (as `airlock policy explain` says).
    for (const [i, miss] of nearestAutoApprovalMisses(r.decision.reasons).entries()) {
      lines.push(`  ${i === 0 ? 'missed   ' : '         '}  ${miss}`);
    }
  }
  if (r.status === 'pending' && r.decision.approvers) {
    lines.push(
      `  waiting    for ${r.decision.approvers.count} approval(s) from ${r.decision.approvers.groups.join(', ')} until ${r.pendingExpiresAt}`,
    );
  }
  if (r.approvals.length > 0) lines.push(`  approved   by ${r.approvals.map((a) => a.user).join(', ')}`);
  if (r.accessExpiresAt) lines.push(`  access     until ${r.accessExpiresAt}`);
  if (r.certificate) lines.push(`  cert       serial ${r.certificate.serial}`);
  if (r.launch?.status === 'failed') lines.push(`  pods       ${r.launch.code}: ${r.launch.reason}`);
  else if (r.launch) lines.push(`  pods       ${r.launch.status}`);
  return `${lines.join('\n')}\n`;
}

/** `airlock request`. */
export async function runRequest(options: RequestOptions, io: BrokerClientIo): Promise<number> {
  const s = await session(io, options);
  const keyPath = expandHome(options.key ?? '~/.ssh/id_ed25519.pub', io);
  let sshPublicKey: string;
  try {
    sshPublicKey = (await readFile(keyPath, 'utf8')).trim();
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read public key ${keyPath}: ${(error as Error).message}`);
  }
  if (options.pod.length === 0) throw new AirlockError('USAGE', 'name at least one --pod pattern');
  const created = (await call(s, 'POST', '/v1/requests', {
    profile: options.profile,
    cluster: options.cluster,
    namespace: options.namespace,
    podPatterns: [...options.pod],
    reason: options.reason,
    ttlSeconds: parseTtl(options.ttl),
    sshPublicKey,
    ...(options.runbook === undefined ? {} : { runbook: options.runbook }),
    ...(options.container && options.container.length > 0
      ? { containerPatterns: [...options.container] }
      : {}),
    ...(options.moderate ? { role: 'moderator' } : {}),
  })) as RequestView;
  // `airlock cert ID` then writes the certificate next to this key, and only this key.
  await rememberRequestKey(io.configDir, created.id, keyPath);
  if (options.output === 'json' || options.json) printJson(io, created);
  else {
    io.out(describe(created));
    io.err(
      created.status === 'approved'
        ? `approved; get the certificate with: airlock cert ${created.id}\n`
        : `ask an approver to run: airlock approve ${created.id}\n`,
    );
  }
  return 0;
}

/** Options of `airlock approve | deny | revoke`. */
export interface DecisionOptions extends ConnectionOptions, OutputOptions {
  /** Recorded in the audit trail. */
  readonly comment?: string;
}

/** Options of `airlock status`. */
export interface StatusOptions extends ConnectionOptions, OutputOptions {
  /** Requests the caller may approve now, instead of the caller's own. */
  readonly pending?: boolean;
  /** Same as `output: 'json'` (the `--json` flag, kept for existing scripts). */
  readonly json?: boolean;
}

/** `airlock approve` / `airlock deny` / `airlock revoke`. */
export async function runDecision(
  action: 'approve' | 'deny' | 'revoke',
  id: string,
  options: DecisionOptions,
  io: BrokerClientIo,
): Promise<number> {
  const s = await session(io, options);
  const r = (await call(s, 'POST', `/v1/requests/${encodeURIComponent(id)}/${action}`, {
    ...(options.comment === undefined ? {} : { comment: options.comment }),
  })) as RequestView;
  if (options.output === 'json') printJson(io, r);
  else io.out(describe(r));
  return 0;
}

/** Options of `airlock cert`. */
export interface CertOptions extends ConnectionOptions, OutputOptions {
  /**
   * The public key the request was made with; default the one `airlock
   * request` remembered for this request, else ~/.ssh/id_ed25519.pub. It must
   * be the key the certificate certifies (else CERT_KEY_MISMATCH).
   */
  readonly key?: string;
  /** Default: `<key without .pub>-cert.pub`, where ssh finds it next to the key. */
  readonly out?: string;
  /** The airlock SSH gateway's host for the printed ssh command; default the placeholder `GATEWAY`. */
  readonly sshHost?: string;
  /**
   * The airlock host CA public key: also write the airlock known_hosts
   * (`@cert-authority`) and ssh_config snippet (host-trust.ts). Needs sshHost
   * or door; with door it replaces the keys the broker sent.
   */
  readonly hostCa?: string;
  /** The name the mediator's host certificate lists; default sshHost. */
  readonly hostAlias?: string;
  /** The jump door (`host[:port]`): write an ssh_config entry that reaches the request's mediator through it. */
  readonly door?: string;
  /** Where that entry goes; default `<config dir>/ssh/<request id>.conf`. */
  readonly sshConfig?: string;
}

/** What `airlock cert --output json` prints. */
export interface CertResult {
  readonly requestId: string;
  readonly certificatePath: string;
  readonly keyId: string;
  /** RFC 3339. */
  readonly validBefore: string;
  readonly sshCommand: string;
  /** With --host-ca: the airlock-managed known_hosts; with `--door`: the request's own (`@cert-authority <request id>`). */
  readonly knownHostsPath?: string;
  /** With `--door`: the ssh_config entry written for this request; with --host-ca: the airlock ssh_config. */
  readonly sshConfigPath?: string;
}

/** Stands in for the gateway's host when `--ssh-host` is not given: the CLI does not know it. */
export const SSH_HOST_PLACEHOLDER = 'GATEWAY';

/** Quotes one word for a POSIX shell, only when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The ssh command that uses the certificate: the private key next to the
 * public one, the certificate file, and the certificate's principal as the
 * user (the gateway maps the principal to the person). Nothing else is
 * known here: no port, no known_hosts.
 */
export function sshCommandFor(
  privateKey: string,
  certificatePath: string,
  user: string,
  host: string,
): string {
  return ['ssh', '-i', privateKey, '-o', `CertificateFile=${certificatePath}`, `${user}@${host}`]
    .map(shellWord)
    .join(' ');
}

/**
 * Why a pending request has no certificate yet, from the broker's request
 * object: e.g. `request req-… is pending: needs 1 approval from group sre-leads`.
 */
function pendingReason(r: RequestView): string {
  const approvers = r.decision.approvers;
  if (!approvers) return `request ${r.id} is pending`;
  const missing = Math.max(approvers.count - r.approvals.length, 0);
  const from =
    approvers.groups.length === 1 ? `group ${approvers.groups[0]}` : `groups ${approvers.groups.join(', ')}`;
  const until = r.pendingExpiresAt ? ` before ${r.pendingExpiresAt}` : '';
  return `request ${r.id} is pending: needs ${missing} approval${missing === 1 ? '' : 's'} from ${from}${until}`;
}

/**
 * The broker refuses the certificate of a request that is not approved with
 * REQUEST_STATE and no detail; for a pending one, the request itself says
 * what is missing, so the error names it. Other refusals pass unchanged.
 */
async function explainRefusal(s: Session, id: string, error: unknown): Promise<unknown> {
  if (!isAirlockError(error, 'REQUEST_STATE')) return error;
  let r: RequestView;
  try {
    r = (await call(s, 'GET', `/v1/requests/${encodeURIComponent(id)}`)) as RequestView;
  } catch {
    return error; // the broker's own refusal is still true
  }
  return r.status === 'pending'
    ? new AirlockError('REQUEST_STATE', pendingReason(r), { cause: error })
    : error;
}

/** `airlock cert`: fetches the certificate, writes it next to the key, prints how to use it. */
export async function runCert(id: string, options: CertOptions, io: BrokerClientIo): Promise<number> {
  if (options.hostCa !== undefined && options.sshHost === undefined && options.door === undefined)
    throw new AirlockError('USAGE', '--host-ca needs --ssh-host or --door (the ssh_config entry it is for)');
  const hostCa = options.hostCa === undefined ? undefined : await readHostCa(expandHome(options.hostCa, io));
  const s = await session(io, options);
  let issued: {
    requestId: string;
    certificate: string;
    serial: string;
    keyId: string;
    validBefore: string;
    /** Ephemeral mode: the host CA keys of the request's mediator. */
    hostCertificateAuthorities?: unknown;
  };
  try {
    issued = (await call(s, 'POST', `/v1/requests/${encodeURIComponent(id)}/certificate`)) as typeof issued;
  } catch (error) {
    throw await explainRefusal(s, id, error);
  }
  // The principal the broker signed is the ssh user name (docs/broker.md: principal = the requester).
  const principal = parseCertificateLine(issued.certificate).certificate.principals[0] ?? s.user ?? 'USER';
  const remembered = await rememberedRequestKey(io.configDir, id);
  const key = await certifiedKeyPath(id, parseCertificateLine(issued.certificate).certificate.publicKey, {
    ...(options.key === undefined ? {} : { explicit: expandHome(options.key, io) }),
    ...(remembered === undefined ? {} : { remembered }),
    fallback: expandHome('~/.ssh/id_ed25519.pub', io),
  });
  // Before anything is written: --door without a host CA to verify the mediator by fails closed.
  const doorCas =
    options.door === undefined ? undefined : doorHostCas(issued.hostCertificateAuthorities, hostCa);
  const out = expandHome(options.out ?? `${key.replace(/\.pub$/, '')}-cert.pub`, io);
  // Like ssh-keygen and ssh: a directory made for keys is the owner's only.
  await mkdir(dirname(out), { recursive: true, mode: 0o700 });
  await writeFile(out, `${issued.certificate}\n`, { mode: 0o644 });
  const trust =
    hostCa && options.sshHost !== undefined
      ? await writeHostTrust(io.configDir, hostCa, {
          sshHost: options.sshHost,
          hostAlias: options.hostAlias ?? options.sshHost,
          user: principal,
          identityFile: key.replace(/\.pub$/, ''),
          certificateFile: out,
        })
      : undefined;
  const viaDoor =
    doorCas === undefined
      ? undefined
      : await writeCertDoorEntry(io, options, {
          ...issued,
          principal,
          privateKey: key.replace(/\.pub$/, ''),
          out,
          hostCas: doorCas,
        });
  const sshCommand =
    viaDoor?.sshCommand ??
    (trust
      ? ['ssh', '-F', trust.sshConfig, options.sshHost ?? ''].map(shellWord).join(' ')
      : sshCommandFor(key.replace(/\.pub$/, ''), out, principal, options.sshHost ?? SSH_HOST_PLACEHOLDER));
  if (options.output === 'json') {
    const result: CertResult = {
      requestId: issued.requestId,
      certificatePath: out,
      keyId: issued.keyId,
      validBefore: issued.validBefore,
      sshCommand,
      ...(trust ? { knownHostsPath: trust.knownHosts, sshConfigPath: trust.sshConfig } : {}),
      ...(viaDoor ? { sshConfigPath: viaDoor.path, knownHostsPath: viaDoor.knownHosts } : {}),
    };
    printJson(io, result);
  } else {
    io.out(`${out}\n`);
    io.err(
      `certificate serial ${issued.serial}, valid until ${issued.validBefore}\n` +
        (viaDoor
          ? `ssh_config entry: ${viaDoor.path} (or add \`Include ${viaDoor.path}\` to ~/.ssh/config)\n` +
            `mediator verified by the airlock host CA for ${issued.requestId} (${viaDoor.knownHosts})\n`
          : '') +
        `connect with: ${sshCommand}\n` +
        (trust
          ? `host verified by the airlock host CA (${trust.knownHosts}); ` +
            `or add "Include ${trust.sshConfig}" to ~/.ssh/config\n`
          : '') +
        (options.sshHost === undefined && viaDoor === undefined
          ? `(replace ${SSH_HOST_PLACEHOLDER} with the airlock SSH gateway's host, or pass --ssh-host)\n`
          : ''),
    );
  }
  return 0;
}

/** `airlock cert --door`: the request's ssh_config entry through the jump door, written; how to use it. */
async function writeCertDoorEntry(
  io: BrokerClientIo,
  options: CertOptions,
  cert: {
    requestId: string;
    validBefore: string;
    principal: string;
    privateKey: string;
    out: string;
    hostCas: readonly SshPublicKey[];
  },
): Promise<{ path: string; knownHosts: string; sshCommand: string }> {
  const path =
    options.sshConfig === undefined
      ? defaultDoorSshConfigPath(io.configDir, cert.requestId)
      : expandHome(options.sshConfig, io);
  const knownHosts = doorKnownHostsPath(path);
  const text = doorSshConfig({
    requestId: cert.requestId,
    principal: cert.principal,
    privateKey: cert.privateKey,
    certificatePath: cert.out,
    door: options.door!,
    validBefore: cert.validBefore,
    knownHostsFile: knownHosts,
  });
  await writeDoorSshConfig(path, text, {
    path: knownHosts,
    text: doorKnownHosts(cert.requestId, cert.hostCas),
  });
  return { path, knownHosts, sshCommand: ['ssh', '-F', path, cert.requestId].map(shellWord).join(' ') };
}

/** `airlock status [ID]`. */
export async function runStatus(
  id: string | undefined,
  options: StatusOptions,
  io: BrokerClientIo,
): Promise<number> {
  const s = await session(io, options);
  const fetched =
    id === undefined
      ? (
          (await call(s, 'GET', options.pending ? '/v1/requests?pending=1' : '/v1/requests?mine=1')) as {
            requests: RequestView[];
          }
        ).requests
      : [(await call(s, 'GET', `/v1/requests/${encodeURIComponent(id)}`)) as RequestView];
  const now = io.now();
  const result = fetched.map((r) => asOf(r, now));
  if (options.output === 'json' || options.json) printJson(io, id === undefined ? result : result[0]);
  else if (result.length === 0)
    io.out(options.pending ? 'nothing waiting for your approval\n' : 'no requests\n');
  else for (const r of result) io.out(describe(r));
  return 0;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Exit statuses of services/cli/main.ts (`EXIT`): a USAGE error exits 2, any other refusal 1. */
const EXIT_REFUSED = 1;
const EXIT_USAGE = 2;

/**
 * Runs one command's action with its `--output`. An invalid value is a USAGE
 * error in the text form (the format is unknown); main.ts prints it and
 * exits 2. With `json`, an error is one `{"code","message"}` line on stderr
 * and the exit status text mode would give; the stack never reaches the user.
 */
async function runWithOutput(
  io: BrokerClientIo,
  output: string | undefined,
  action: (output: OutputFormat) => Promise<number>,
): Promise<number> {
  const format = parseOutputFormat(output);
  try {
    return await action(format);
  } catch (error) {
    if (format !== 'json') throw error;
    const e =
      error instanceof AirlockError
        ? error
        : new AirlockError('INTERNAL', error instanceof Error ? error.message : String(error));
    io.err(`${JSON.stringify({ code: e.code, message: e.message })}\n`);
    return e.code === 'USAGE' ? EXIT_USAGE : EXIT_REFUSED;
  }
}

function connection(command: Command): Command {
  return command
    .option('--broker <url>', 'broker URL (default: from the last airlock login)')
    .option('--ca <file>', 'PEM CA bundle trusted for the broker (default: from the last airlock login)')
    .option(
      '-o, --output <text|json>',
      'text, or one JSON document on stdout (errors: {code, message} on stderr)',
      'text',
    );
}

/** What commander hands an action: `--output` is not checked yet. */
type Raw<T> = Omit<T, 'output'> & { output?: string };

/** Registers the broker client commands. */
export function registerBrokerClientCommands(
  program: Command,
  io: () => BrokerClientIo = processBrokerClientIo,
): void {
  const set = (status: number) => {
    process.exitCode = status;
  };
  /** Runs `action` with a fresh io and the checked `--output`, and sets the exit status. */
  const act = async (
    output: string | undefined,
    action: (client: BrokerClientIo, output: OutputFormat) => Promise<number>,
  ) => {
    const current = io();
    set(await runWithOutput(current, output, (format) => action(current, format)));
  };
  connection(
    program
      .command('login')
      .description(
        'Sign in with your identity provider (OAuth device flow, or auth code + PKCE on 127.0.0.1) and cache the ID token at ~/.config/airlock/token.json (mode 0600)',
      ),
  )
    .option('--issuer-ca <file>', 'PEM CA bundle trusted for the identity provider (default: --ca)')
    .option(
      '--flow <device|auth-code>',
      'device code, or authorization code + PKCE with a redirect to 127.0.0.1 (default: device when the provider offers it)',
    )
    .option('--open-browser', 'auth-code flow: open the sign-in URL in a browser (default: only print it)')
    .option('--timeout <seconds>', 'auth-code flow: how long to wait for the browser', '300')
    .option(
      '--service-account-token <file>',
      'sign in as a machine (a runbook): the Kubernetes ServiceAccount token in FILE (projected, or from kubectl create token --audience airlock-broker), checked by the broker with a TokenReview; each command reads FILE again',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  airlock login --broker https://airlock.example.com --ca broker-ca.pem\n' +
        '  airlock login --flow auth-code --open-browser\n' +
        '  airlock login --broker https://airlock.example.com --ca broker-ca.pem \\\n' +
        '    --service-account-token /var/run/secrets/airlock/token',
    )
    .action((options: Raw<LoginOptions> & { timeout?: string }) =>
      act(options.output, (client, output) => {
        const timeoutSeconds = Number(options.timeout ?? '300');
        if (!Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0) {
          throw new AirlockError('USAGE', `--timeout ${options.timeout} is not a positive number of seconds`);
        }
        return runLogin({ ...options, output, timeoutSeconds }, client);
      }),
    );

  connection(
    program
      .command('request')
      .description('Ask for temporary, scoped access; prints the request and its decision'),
  )
    .requiredOption('--profile <name>', 'policy profile')
    .requiredOption('--cluster <name>', 'cluster')
    .requiredOption('--namespace <name>', 'namespace')
    .requiredOption('--pod <pattern>', 'pod name pattern (repeatable)', collect, [])
    .requiredOption('--ttl <duration>', 'how long, e.g. 30m, 1h, 900')
    .requiredOption('--reason <text>', 'why (an incident reference may allow auto-approval)')
    .option('--key <file>', 'your SSH public key', '~/.ssh/id_ed25519.pub')
    .option(
      '--container <pattern>',
      'container name pattern for -c (repeatable; default: every container)',
      collect,
      [],
    )
    .option('--runbook <name>', 'request a pre-approved runbook (the session may then exec only its steps)')
    .option(
      '--moderate',
      "ask for the profile's moderator role: join and moderate its sessions (ssh gw sessions, ssh -t gw join ID)",
    )
    .option('--json', 'same as --output json')
    .addHelpText(
      'after',
      '\nExample:\n  airlock request --profile oncall-debug --cluster prod-eu --namespace payments \\\n' +
        '    --pod "payments-api-*" --ttl 30m --reason "INC-1234 checkout latency"',
    )
    .action((options: Raw<RequestOptions>) =>
      act(options.json ? 'json' : options.output, (client, output) =>
        runRequest({ ...options, output }, client),
      ),
    );

  for (const action of ['approve', 'deny'] as const) {
    connection(
      program
        .command(`${action} <id>`)
        .description(
          action === 'approve'
            ? "Approve someone else's pending request"
            : 'Deny a pending request (or withdraw your own)',
        ),
    )
      .option('--comment <text>', 'recorded in the audit trail')
      .action((id: string, options: Raw<DecisionOptions>) =>
        act(options.output, (client, output) => runDecision(action, id, { ...options, output }, client)),
      );
  }
  connection(
    program
      .command('revoke <id>')
      .description('Revoke granted access: its certificate goes on the deny list at once'),
  )
    .option('--comment <text>', 'recorded in the audit trail')
    .action((id: string, options: Raw<DecisionOptions>) =>
      act(options.output, (client, output) => runDecision('revoke', id, { ...options, output }, client)),
    );
  connection(
    program
      .command('cert <id>')
      .description('Fetch the SSH certificate of an approved request and write it next to your key'),
  )
    .option(
      '--key <file>',
      'the public key the request was made with (default: the one `airlock request` used, else ~/.ssh/id_ed25519.pub); refused unless the certificate certifies it',
    )
    .option('--out <file>', 'where to write the certificate (default: <key>-cert.pub)')
    .option(
      '--ssh-host <host>',
      `the airlock SSH gateway's host, for the printed ssh command (default: ${SSH_HOST_PLACEHOLDER})`,
    )
    .option(
      '--host-ca <file>',
      'the airlock host CA public key (old and new during a rotation): write "@cert-authority" into the airlock known_hosts and an ' +
        'ssh_config entry using it (in the airlock config directory, never ~/.ssh); needs --ssh-host or --door',
    )
    .option(
      '--host-alias <name>',
      "the name the mediator's host certificate lists (ssh HostKeyAlias; default: --ssh-host)",
    )
    .option(
      '--door <host[:port]>',
      'the airlock jump door: write an ssh_config entry (Host <request-id>, ProxyJump through the door) for stock ssh, ' +
        'and a known_hosts that accepts only a mediator certified by the airlock host CA for this request ' +
        '(the key the broker sends, or --host-ca)',
    )
    .option(
      '--ssh-config <file>',
      'where --door writes the entry (default: <config dir>/ssh/<request-id>.conf)',
    )
    .action((id: string, options: Raw<CertOptions>) =>
      act(options.output, (client, output) => runCert(id, { ...options, output }, client)),
    );
  connection(
    program
      .command('status [id]')
      .description('Show one request, your requests, or (--pending) those waiting for you'),
  )
    .option('--pending', 'requests you may approve')
    .option('--json', 'same as --output json')
    .action((id: string | undefined, options: Raw<StatusOptions>) =>
      act(options.json ? 'json' : options.output, (client, output) =>
        runStatus(id, { ...options, output }, client),
      ),
    );
}
