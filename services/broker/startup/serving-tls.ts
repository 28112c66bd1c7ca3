/** The broker's HTTPS serving certificate, issued at start by its tier CA. */
import { readFile } from 'node:fs/promises';
import { AirlockError } from '../../core/errors.js';
import { issueServingCertificate, loadTierCa } from '../../core/x509/index.js';
import type { BrokerConfig } from '../config.js';

/** The key and chain the HTTPS server presents, and when the certificate ends. */
export interface ServingTls {
  readonly key: string;
  readonly cert: string;
  readonly notAfter: Date;
}

/**
 * Loads the tier CA of `config.tls` (refused unless it is the broker's,
 * CONFIG_INVALID) and issues the serving certificate for its names now.
 */
export async function issueBrokerServingTls(config: BrokerConfig, now: Date): Promise<ServingTls> {
  const tierCa = await loadTierCa(
    await readFile(config.tls.tierCaCertFile, 'utf8'),
    await readFile(config.tls.tierCaKeyFile, 'utf8'),
  );
  if (tierCa.tier !== 'broker') {
    throw new AirlockError(
      'CONFIG_INVALID',
      `tls.tierCaCertFile is the ${tierCa.tier} tier CA, not the broker's`,
    );
  }
  const serving = await issueServingCertificate(tierCa, {
    dnsNames: config.tls.dnsNames,
    ipAddresses: config.tls.ipAddresses,
    lifetimeSeconds: config.tls.lifetimeSeconds,
    now,
  });
  return {
    key: serving.privateKeyPem ?? '',
    cert: `${serving.certPem}${tierCa.certPem}`,
    notAfter: serving.notAfter,
  };
}
