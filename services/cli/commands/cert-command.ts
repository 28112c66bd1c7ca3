/**
 * `airlock cert`: fetches the certificate of an approved request, writes it
 * next to the key the request was made with, and (with --host-ca or --door)
 * the known_hosts and ssh_config that verify the mediator.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { parseCertificateLine, type SshPublicKey } from '../../core/ssh-cert/index.js';
import { call, type Session, session } from './broker-api.js';
import { type BrokerCallOptions, type BrokerClientIo, expandHome, printJson } from './broker-client-io.js';
import { certifiedKeyPath, rememberedRequestKey } from './cert-key.js';
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
  pendingReason,
  type RequestView,
  SSH_HOST_PLACEHOLDER,
  shellWord,
  sshCommandFor,
} from './request-view.js';

/** Options of `airlock cert`. */
export interface CertOptions extends BrokerCallOptions {
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

/** What the broker answers to `POST /v1/requests/ID/certificate`. */
interface IssuedCertificate {
  requestId: string;
  certificate: string;
  serial: string;
  keyId: string;
  validBefore: string;
  /** Ephemeral mode: the host CA keys of the request's mediator. */
  hostCertificateAuthorities?: unknown;
}

/** Fetches the request's certificate; a refusal of a pending request names what is missing. */
async function fetchCertificate(s: Session, id: string): Promise<IssuedCertificate> {
  try {
    return (await call(s, 'POST', `/v1/requests/${encodeURIComponent(id)}/certificate`)) as IssuedCertificate;
  } catch (error) {
    throw await explainRefusal(s, id, error);
  }
}

/** Prints what `airlock cert` wrote and the ssh command that uses it: one JSON document, or text. */
function printCertResult(
  io: BrokerClientIo,
  options: CertOptions,
  written: {
    issued: IssuedCertificate;
    out: string;
    sshCommand: string;
    trust: { knownHosts: string; sshConfig: string } | undefined;
    viaDoor: { path: string; knownHosts: string } | undefined;
  },
): void {
  const { issued, out, sshCommand, trust, viaDoor } = written;
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
}

/** `airlock cert`: fetches the certificate, writes it next to the key, prints how to use it. */
export async function runCert(id: string, options: CertOptions, io: BrokerClientIo): Promise<number> {
  if (options.hostCa !== undefined && options.sshHost === undefined && options.door === undefined)
    throw new AirlockError('USAGE', '--host-ca needs --ssh-host or --door (the ssh_config entry it is for)');
  const hostCa = options.hostCa === undefined ? undefined : await readHostCa(expandHome(options.hostCa, io));
  const s = await session(io, options);
  const issued = await fetchCertificate(s, id);
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
  printCertResult(io, options, { issued, out, sshCommand, trust, viaDoor });
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
