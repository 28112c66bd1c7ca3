import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CsrKeyType, createCsr, parseCsr } from './csr.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-csr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tamperSignature(csrPem: string): string {
  const body = csrPem.replace(/-----[A-Z ]+-----|\s/g, '');
  const der = Buffer.from(body, 'base64');
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

describe.each<[CsrKeyType, string]>([
  ['ecdsa-p256', 'ecdsa-with-SHA256'],
  ['ed25519', 'ED25519'],
])('CSR with %s keys', (keyType, opensslAlgorithm) => {
  it('names the user in CN and each group in its own O, and parses back', async () => {
    const created = await createCsr({
      commonName: 'alice, "ops"+x',
      organizations: ['jit:payments', 'devs'],
      keyType,
    });
    expect(created.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const parsed = await parseCsr(created.csrPem);
    expect(parsed).toMatchObject({
      commonName: 'alice, "ops"+x',
      organizations: ['jit:payments', 'devs'],
      publicKeyAlgorithm: keyType,
      signatureValid: true,
    });
  });

  it('is accepted by openssl req -verify', async () => {
    const created = await createCsr({ commonName: 'bob', organizations: ['jit:a', 'jit:b'], keyType });
    const file = join(dir, `${keyType}.csr`);
    writeFileSync(file, created.csrPem);
    const out = execFileSync('openssl', ['req', '-in', file, '-verify', '-noout', '-text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toMatch(/Subject: CN\s?=\s?bob, O\s?=\s?jit:a, O\s?=\s?jit:b/);
    expect(out).toContain(`Signature Algorithm: ${opensslAlgorithm}`);
    // openssl prints "verify OK" on stderr; a failure exits non-zero and throws above.
  });

  it('reports a broken self-signature instead of throwing', async () => {
    const created = await createCsr({ commonName: 'carol', organizations: [], keyType });
    const tampered = tamperSignature(created.csrPem);
    expect((await parseCsr(tampered)).signatureValid).toBe(false);
    const file = join(dir, `${keyType}-bad.csr`);
    writeFileSync(file, tampered);
    // OpenSSL 3.0 exits 0 here; the verdict is only in its output.
    const result = spawnSync('openssl', ['req', '-in', file, '-verify', '-noout'], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('self-signature verify failure');
  });
});

describe('parseCsr', () => {
  it('reads CSRs made by openssl, naming other key types', async () => {
    const key = join(dir, 'p384.key');
    const csr = join(dir, 'p384.csr');
    openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-384',
        '-nodes',
        '-keyout',
        key,
      ].concat(['-subj', '/CN=dave/O=g1', '-out', csr]),
    );
    const parsed = await parseCsr(execFileSync('cat', [csr], { encoding: 'utf8' }));
    expect(parsed).toMatchObject({ commonName: 'dave', organizations: ['g1'], signatureValid: true });
    expect(parsed.publicKeyAlgorithm).toBe('ECDSA P-384');
  });

  it('refuses text that is not one CSR with X509_INVALID', async () => {
    await expect(parseCsr('hello')).rejects.toMatchObject({ code: 'X509_INVALID' });
    await expect(
      parseCsr('-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n'),
    ).rejects.toMatchObject({ code: 'X509_INVALID' });
  });

  it('refuses bad names with USAGE', async () => {
    await expect(createCsr({ commonName: '', organizations: [], keyType: 'ed25519' })).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(
      createCsr({ commonName: 'a', organizations: ['x\n'], keyType: 'ed25519' }),
    ).rejects.toMatchObject({
      code: 'USAGE',
    });
  });
});
