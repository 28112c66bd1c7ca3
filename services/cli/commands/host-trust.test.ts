/**
 * `airlock cert --host-ca`'s files: the @cert-authority line, the ssh_config
 * entry as the real `ssh -G` resolves it, and rewriting without losing other
 * known_hosts lines.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPublicKeyLine, generateCaKey } from '../../core/ssh-cert/index.js';
import {
  certAuthorityLine,
  hostTrustPaths,
  readHostCa,
  sshConfigBlock,
  writeHostTrust,
} from './host-trust.js';

const ca = generateCaKey('ed25519', 'host-ca');
const target = {
  sshHost: 'airlock.example.com',
  hostAlias: 'mediator.airlock',
  user: 'alice',
  identityFile: '/home/alice/.ssh/id_ed25519',
  certificateFile: '/home/alice/.ssh/id_ed25519-cert.pub',
};

describe('airlock host trust files', () => {
  it('writes the @cert-authority line for the alias', () => {
    expect(certAuthorityLine('mediator.airlock', ca.publicKey)).toBe(
      `@cert-authority mediator.airlock ${formatPublicKeyLine(ca.publicKey, 'airlock-host-ca')}`,
    );
  });

  it.each(['*', '*.airlock', 'a,b', 'a b', '!bad', ''])('refuses the alias %j (no patterns)', (alias) => {
    expect(() => certAuthorityLine(alias, ca.publicKey)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('the ssh_config entry resolves, in the real ssh, to strict checking against the airlock known_hosts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-host-trust-'));
    const paths = hostTrustPaths(join(dir, 'with space'));
    const config = join(dir, 'ssh_config');
    writeFileSync(config, sshConfigBlock(target, paths.knownHosts));
    const resolved = execFileSync('ssh', ['-G', '-F', config, 'airlock.example.com'], { encoding: 'utf8' });
    expect(resolved).toContain('\nhostkeyalias mediator.airlock\n');
    expect(resolved).toContain(`\nuserknownhostsfile ${paths.knownHosts}\n`); // one value, space and all
    expect(resolved).toContain('\nstricthostkeychecking true\n');
    expect(resolved).toContain('\nuser alice\n');
    expect(resolved).toContain(`\ncertificatefile ${target.certificateFile}\n`);
  });

  it('replaces its own line for the alias, keeps every other line, and reads the CA back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-host-trust-'));
    const paths = hostTrustPaths(dir);
    writeFileSync(
      paths.knownHosts,
      'other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE5vdEFSZWFsS2V5Rm9yVGVzdGluZ09ubHkxMjM0\n',
    );
    const next = generateCaKey('ed25519', 'next-host-ca');
    await writeHostTrust(dir, [ca.publicKey], target);
    // A rotation: old and new CA, then the new one alone once the old one is retired.
    await writeHostTrust(dir, [ca.publicKey, next.publicKey], target);
    const both = readFileSync(paths.knownHosts, 'utf8').trimEnd().split('\n');
    expect(both.slice(1)).toEqual([
      certAuthorityLine('mediator.airlock', ca.publicKey),
      certAuthorityLine('mediator.airlock', next.publicKey),
    ]);
    await writeHostTrust(dir, [next.publicKey], target);
    const lines = readFileSync(paths.knownHosts, 'utf8').trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^other\.example /),
      certAuthorityLine('mediator.airlock', next.publicKey),
    ]);
    const caFile = join(dir, 'ca.pub');
    writeFileSync(caFile, `${formatPublicKeyLine(ca.publicKey)}\n`);
    writeFileSync(caFile, `${formatPublicKeyLine(ca.publicKey)}\n${formatPublicKeyLine(next.publicKey)}\n`);
    expect((await readHostCa(caFile)).map((k) => k.blob)).toEqual([ca.publicKey.blob, next.publicKey.blob]);
    writeFileSync(caFile, '');
    await expect(readHostCa(caFile)).rejects.toMatchObject({ code: 'USAGE' });
  });
});
