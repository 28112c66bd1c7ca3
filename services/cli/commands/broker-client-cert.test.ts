import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCertificateLine } from '../../core/ssh-cert/index.js';
import { env, oncallDebugRequest, personIo, useBrokerTestEnv } from './broker-client-test-support.js';
import { runCert } from './cert-command.js';
import { runLogin } from './login.js';
import { runRequest } from './request-commands.js';

useBrokerTestEnv();

describe('airlock cert writes the certificate only next to the key it certifies', () => {
  let homes = 0;
  /** Alice in a fresh home without ~/.ssh and with her keys elsewhere: what a new user has. */
  async function carolWithKeys() {
    const home = join(env.dir, `home-new-user-${++homes}`);
    const carol = { ...personIo('alice'), homeDir: home, configDir: join(home, '.config', 'airlock') };
    const keys = join(carol.homeDir, 'keys');
    mkdirSync(keys, { recursive: true });
    for (const name of ['work', 'other']) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, name)]);
    }
    await runLogin({ broker: env.url, ca: env.caFile }, carol);
    carol.stdout.length = 0;
    await runRequest(
      oncallDebugRequest({ ttl: '30m', reason: 'INC-4321 checkout errors', key: join(keys, 'work.pub') }),
      carol,
    );
    const id = (JSON.parse(carol.stdout.join('')) as { id: string; status: string }).id;
    carol.stdout.length = 0;
    carol.stderr.length = 0;
    return { carol, keys, id };
  }

  it('defaults to the key the request was made with, never ~/.ssh/id_ed25519', async () => {
    const { carol, keys, id } = await carolWithKeys();
    await runCert(id, {}, carol);
    expect(carol.stdout.join('')).toBe(`${join(keys, 'work-cert.pub')}\n`);
    const { certificate } = parseCertificateLine(readFileSync(join(keys, 'work-cert.pub'), 'utf8'));
    expect(certificate.keyId).toBe(`airlock:${id}:alice`);
    expect(existsSync(join(carol.homeDir, '.ssh'))).toBe(false);
  });

  it('refuses a --key the certificate does not certify, writing nothing', async () => {
    const { carol, keys, id } = await carolWithKeys();
    await expect(runCert(id, { key: join(keys, 'other.pub') }, carol)).rejects.toMatchObject({
      code: 'CERT_KEY_MISMATCH',
      message: expect.stringMatching(
        new RegExp(
          `^the certificate of ${id} certifies the key SHA256:\\S+, but --key \\S+other\\.pub holds another key \\(SHA256:`,
        ),
      ),
    });
    expect(existsSync(join(keys, 'other-cert.pub'))).toBe(false);
  });

  it('refuses the default key when this config directory did not make the request', async () => {
    const { carol, id } = await carolWithKeys();
    rmSync(join(carol.configDir, 'request-keys.json'));
    await expect(runCert(id, {}, carol)).rejects.toMatchObject({
      code: 'CERT_KEY_MISMATCH',
      message: expect.stringContaining(
        'id_ed25519.pub (the default; this config directory did not make the request) cannot be read',
      ),
    });
    expect(existsSync(join(carol.homeDir, '.ssh'))).toBe(false);
  });

  it('creates a missing directory for --out with mode 0700', async () => {
    const { carol, id } = await carolWithKeys();
    const out = join(carol.homeDir, 'new-dir', 'work-cert.pub');
    await runCert(id, { out }, carol);
    expect(statSync(join(carol.homeDir, 'new-dir')).mode & 0o777).toBe(0o700);
    expect(readFileSync(out, 'utf8')).toMatch(/^ssh-ed25519-cert-v01@openssh.com /);
  });
});
