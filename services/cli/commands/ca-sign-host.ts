/**
 * `airlock ca sign-host`: the airlock host CA certifies a mediator's host
 * key, so clients verify the mediator with `@cert-authority` in known_hosts
 * (docs/operations.md "Host CA"). The certificate is a host certificate for
 * the given host names, valid from a minute ago (clocks a little behind)
 * for --validity, at most MAX_HOST_CERT_LIFETIME_SECONDS, with a key id naming what it is for (the
 * request of a per-request mediator, or the standing mediator).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { AirlockError } from '../../core/errors.js';
import { assertPrivateKeyFile } from '../../core/files/private-key-file.js';
import {
  parseOpenSshPrivateKey,
  parsePublicKeyLine,
  signHostCertificate,
} from '../../core/ssh-cert/index.js';
import type { CliIo } from './ssh-cert.js';
import { parseTtl } from './ttl.js';

/** Options of `airlock ca sign-host`. */
export interface CaSignHostOptions {
  /** The host CA private key (`airlock ca init --kind host`). */
  readonly ca: string;
  /** The host public key file, e.g. ssh_host_ed25519_key.pub. */
  readonly key: string;
  /** Host names the certificate is valid for (HostKeyAlias or DNS names). */
  readonly principal: readonly string[];
  /** Key id, e.g. `mediator/req-42`. */
  readonly id: string;
  /** Validity like 24h or 30m; at most 31 days. */
  readonly validity: string;
  /** Default `<key without .pub>-cert.pub`. */
  readonly out?: string;
}

/** Seconds the certificate is valid before now, for clocks a little behind. */
const BACKDATE_SECONDS = 60;

/** Signs the host certificate and writes it; returns the exit status (0). */
export async function runCaSignHost(
  options: CaSignHostOptions,
  io: Pick<CliIo, 'out' | 'err' | 'now'>,
): Promise<number> {
  assertPrivateKeyFile(options.ca, 'the host CA key');
  const ca = parseOpenSshPrivateKey(await readFile(options.ca, 'utf8'));
  // A private key file given as --key would be a mistake; only its public half is read.
  const hostKey = parsePublicKeyLine(await readFile(options.key, 'utf8')).key;
  let lifetimeSeconds: number;
  try {
    lifetimeSeconds = parseTtl(options.validity);
  } catch {
    throw new AirlockError('USAGE', `--validity ${options.validity} is not a duration like 24h or 30m`);
  }
  // The window is --validity long and starts a minute ago (so it ends a minute early).
  const validAfter = new Date(io.now().getTime() - BACKDATE_SECONDS * 1000);
  const signed = signHostCertificate({
    caPrivateKey: ca,
    publicKey: hostKey,
    keyId: options.id,
    principals: options.principal,
    validAfter,
    validBefore: new Date(validAfter.getTime() + lifetimeSeconds * 1000),
  });
  const out = options.out ?? `${options.key.replace(/\.pub$/, '')}-cert.pub`;
  try {
    await writeFile(out, `${signed.line}\n`, { mode: 0o644 });
  } catch (error) {
    throw new AirlockError('USAGE', `cannot write ${out}: ${(error as Error).message}`, { cause: error });
  }
  io.out(`${out}\n`);
  io.err(
    `host certificate serial ${signed.serial} for ${options.principal.join(', ')}, ` +
      `valid ${options.validity}; the mediator presents it with hostCertificateFile\n`,
  );
  return 0;
}
