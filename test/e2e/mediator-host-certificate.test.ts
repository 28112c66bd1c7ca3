import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certAuthorityLine } from '../../services/cli/commands/host-trust.js';
import { type HostKey, loadOrCreateHostKey } from '../../services/core/ssh-cert/host-key.js';
import {
  generateCaKey,
  parsePublicKeyLine,
  type SshPrivateKey,
  signHostCertificate,
} from '../../services/core/ssh-cert/index.js';
import type { Gateway } from '../support/executor-harness.js';
import {
  debugTarget,
  type Mediator,
  type SshUser,
  ssh,
  sshUser,
  startDebugGateway,
  startMediator,
} from '../support/mediator-harness.js';

// The mediator presents an OpenSSH host certificate (patches/ssh2-openssh-host-certificates.patch)
// and the stock OpenSSH client, with StrictHostKeyChecking=yes and a known_hosts holding only
// `@cert-authority <alias> <host CA>`, decides whether to trust it. No host key is pinned anywhere.

const ALIAS = 'mediator.airlock.test';
const HOUR_MS = 3_600_000;

function certifiedHostKey(
  ca: SshPrivateKey,
  options: { principals?: string[]; validAfterMs?: number; validBeforeMs?: number } = {},
): HostKey {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-hostcert-'));
  const hostKey = loadOrCreateHostKey(join(dir, 'host_ed25519'));
  const now = Date.now();
  const signed = signHostCertificate({
    caPrivateKey: ca,
    publicKey: parsePublicKeyLine(hostKey.publicKeyLine).key,
    keyId: 'mediator/req-hc',
    principals: options.principals ?? [ALIAS],
    validAfter: new Date(now + (options.validAfterMs ?? -60_000)),
    validBefore: new Date(now + (options.validBeforeMs ?? HOUR_MS)),
  });
  return { ...hostKey, certificate: signed.line };
}

describe('mediator: host certificate verified by the stock ssh client (@cert-authority)', () => {
  const target = debugTarget('hc', 'req-hc');
  const hostCa = generateCaKey('ed25519', 'airlock-host-ca');
  const otherCa = generateCaKey('ed25519', 'another-host-ca');
  let gateway: Gateway;
  let plain: Mediator;
  let user: SshUser;
  const started: Mediator[] = [];
  let caKnownHosts: string;

  beforeAll(async () => {
    ({ gateway, mediator: plain } = await startDebugGateway(target));
    user = sshUser(gateway.sshCa, { scope: target.scope });
    caKnownHosts = join(mkdtempSync(join(tmpdir(), 'airlock-kh-')), 'known_hosts');
    writeFileSync(caKnownHosts, `${certAuthorityLine(ALIAS, hostCa.publicKey)}\n`);
  });

  afterAll(async () => {
    for (const mediator of started) await mediator.stop();
    await plain?.stop();
    await gateway?.stop();
  });

  async function mediatorWith(hostKey: HostKey): Promise<Mediator> {
    const mediator = await startMediator(gateway, target.policy, {}, undefined, {}, hostKey);
    started.push(mediator);
    return mediator;
  }

  /** ssh with only the @cert-authority line as known_hosts, checking `alias` against the principals. */
  function sshViaCa(mediator: Mediator, alias = ALIAS) {
    return ssh({ ...mediator, knownHosts: caKnownHosts }, user, ['whoami'], {
      extra: ['-v', '-o', `HostKeyAlias=${alias}`],
    });
  }

  it('connects and runs whoami when the host CA certified the host for the alias', async () => {
    const mediator = await mediatorWith(certifiedHostKey(hostCa));
    const result = await sshViaCa(mediator);
    expect(result.stderr).toContain('Server host certificate: ssh-ed25519-cert-v01@openssh.com');
    expect(result.stderr).toMatch(/Host '[^']*' is known and matches the ED25519-CERT host certificate/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('alice');
  });

  it('refuses a mediator without a certificate: nothing pinned, no trust on first use', async () => {
    const result = await sshViaCa(plain);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Host key verification failed/);
    expect(result.stdout).toBe('');
  });

  it('refuses a host certificate signed by another CA', async () => {
    const mediator = await mediatorWith(certifiedHostKey(otherCa));
    const result = await sshViaCa(mediator);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('Server host certificate: ssh-ed25519-cert-v01@openssh.com');
    expect(result.stderr).toMatch(/Host key verification failed/);
    expect(result.stdout).toBe('');
  });

  it('refuses an expired host certificate', async () => {
    const expired = certifiedHostKey(hostCa, { validAfterMs: -2 * HOUR_MS, validBeforeMs: -HOUR_MS });
    const result = await sshViaCa(await mediatorWith(expired));
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/[Cc]ertificate invalid: expired/);
    expect(result.stderr).toMatch(/Host key verification failed/);
    expect(result.stdout).toBe('');
  });

  it('refuses a host certificate whose principals do not name the HostKeyAlias', async () => {
    const mediator = await mediatorWith(certifiedHostKey(hostCa, { principals: ['other.airlock.test'] }));
    const result = await sshViaCa(mediator);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/name is not a listed principal/);
    expect(result.stderr).toMatch(/Host key verification failed/);
    // The same certificate is accepted under the name it lists: the refusal is the principal check.
    const known = join(mkdtempSync(join(tmpdir(), 'airlock-kh-')), 'known_hosts');
    writeFileSync(known, `${certAuthorityLine('other.airlock.test', hostCa.publicKey)}\n`);
    const named = await ssh({ ...mediator, knownHosts: known }, user, ['whoami'], {
      extra: ['-o', 'HostKeyAlias=other.airlock.test'],
    });
    expect(named.code).toBe(0);
  });
});
