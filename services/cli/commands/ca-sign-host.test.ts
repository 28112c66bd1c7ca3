/**
 * `airlock ca init --kind host` and `airlock ca sign-host`, through main():
 * a host CA, and a host certificate of a mediator host key that ssh-keygen
 * reads as one and the mediator loads.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { loadHostCertificate, loadOrCreateHostKey } from '../../core/ssh-cert/host-key.js';
import { parseCertificateLine, parsePublicKeyLine } from '../../core/ssh-cert/index.js';
import { main } from '../main.js';
import { caKeyPaths } from './ca.js';
import { resetAfterEachCommand } from './cli-test-support.js';

let ws: KeygenWorkspace;
const written: string[] = [];
beforeAll(() => {
  ws = new KeygenWorkspace();
});
afterAll(() => ws.cleanup());
resetAfterEachCommand();
afterEach(() => {
  written.length = 0;
});

function capture(): void {
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
}

describe('airlock ca init --kind host / ca sign-host', () => {
  it('creates the host CA and certifies a host key for its names, bounded in time', async () => {
    capture();
    const out = ws.path('host-ca');
    expect(
      await main(['node', 'airlock', 'ca', 'init', '--kind', 'host', '--type', 'ed25519', '--out', out]),
    ).toBe(0);
    const ca = caKeyPaths(out, 'airlock_host_ca');
    expect(readFileSync(ca.publicKey, 'utf8')).toMatch(/^ssh-ed25519 \S+ airlock-host-ca\n$/);
    expect(written.join('')).toContain('@cert-authority');

    const hostKey = loadOrCreateHostKey(ws.path('ssh_host_ed25519_key'));
    const pub = ws.path('ssh_host_ed25519_key.pub');
    writeFileSync(pub, `${hostKey.publicKeyLine}\n`);
    const args = [
      '--ca',
      ca.privateKey,
      '--key',
      pub,
      '--principal',
      'mediator.airlock',
      '--principal',
      'm-0.airlock',
    ];
    const before = Date.now();
    expect(
      await main([
        'node',
        'airlock',
        'ca',
        'sign-host',
        ...args,
        '--id',
        'mediator/req-7',
        '--validity',
        '30m',
      ]),
    ).toBe(0);
    const certPath = ws.path('ssh_host_ed25519_key-cert.pub');
    const { certificate } = parseCertificateLine(readFileSync(certPath, 'utf8'));
    expect(certificate.type).toBe('host');
    expect(certificate.principals).toEqual(['mediator.airlock', 'm-0.airlock']);
    expect(certificate.keyId).toBe('mediator/req-7');
    expect(certificate.signatureKey.blob).toEqual(
      parsePublicKeyLine(readFileSync(ca.publicKey, 'utf8')).key.blob,
    );
    expect(certificate.validBefore - certificate.validAfter).toBe(30n * 60n);
    expect(Number(certificate.validAfter)).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 60);
    expect(ws.run(['-L', '-f', certPath])).toContain('host certificate');
    expect(loadHostCertificate(certPath, hostKey, new Date()).certificate).toBe(
      readFileSync(certPath, 'utf8').trim(),
    );
  });

  it('refuses (exit 2, USAGE) a validity beyond 31 days, a wildcard principal, and a bad duration', async () => {
    capture();
    const out = ws.path('host-ca-2');
    await main(['node', 'airlock', 'ca', 'init', '--kind', 'host', '--type', 'ed25519', '--out', out]);
    const ca = caKeyPaths(out, 'airlock_host_ca').privateKey;
    const pub = ws.makeKey('ed25519', 'refused-host').path;
    const base = ['node', 'airlock', 'ca', 'sign-host', '--ca', ca, '--key', `${pub}.pub`, '--id', 'x'];
    expect(await main([...base, '--principal', 'mediator.airlock', '--validity', '745h'])).toBe(2);
    expect(await main([...base, '--principal', '*.airlock'])).toBe(2);
    expect(await main([...base, '--principal', 'mediator.airlock', '--validity', 'soon'])).toBe(2);
    expect(written.join('')).toContain('airlock: USAGE:');
    expect(await main([...base, '--principal', 'mediator.airlock', '--validity', '744h'])).toBe(0);
  });
});
