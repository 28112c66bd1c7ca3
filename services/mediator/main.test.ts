import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../core/repo/repo-root.js';
import { loadOrCreateHostKey } from '../core/ssh-cert/host-key.js';
import {
  formatPublicKeyLine,
  generateCaKey,
  parsePublicKeyLine,
  signHostCertificate,
  signUserCertificate,
} from '../core/ssh-cert/index.js';
import { createTierCa } from '../core/x509/index.js';
import { runMediator } from './main.js';

// The composition root: its start line says which crypto ssh2 runs on; with `hostCertificateFile`
// the mediator process presents the certificate (`ssh-keyscan -c` asks for certificates only),
// and refuses to start with a user certificate.

async function configWithCertificate(sign: typeof signHostCertificate, logLevel = 'fatal'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-mediator-hostcert-'));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return name;
  };
  const now = new Date();
  const mediatorCa = await createTierCa({ tier: 'mediator', now });
  const executorCa = await createTierCa({ tier: 'executor', now });
  const hostKey = loadOrCreateHostKey(join(dir, 'host_ed25519'));
  const hostCa = generateCaKey('ed25519', 'host-ca');
  const certificate = sign({
    caPrivateKey: hostCa,
    publicKey: parsePublicKeyLine(hostKey.publicKeyLine).key,
    keyId: 'mediator/main-test',
    principals: ['mediator.airlock'],
    validAfter: new Date(now.getTime() - 60_000),
    validBefore: new Date(now.getTime() + 3_600_000),
  }).line;
  const audit = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const config = {
    listen: '127.0.0.1:0',
    hostKeyFile: 'host_ed25519',
    hostCertificateFile: file('host_ed25519-cert.pub', `${certificate}\n`),
    policyFile: join(repoRoot(), 'docs', 'policy.example.json'),
    sshUserCaKeysFile: file(
      'ssh-user-ca.pub',
      `${formatPublicKeyLine(generateCaKey('ed25519').publicKey)}\n`,
    ),
    mediatorCa: {
      certFile: file('mediator-ca.pem', mediatorCa.certPem),
      keyFile: file('mediator-ca.key', mediatorCa.privateKeyPem),
    },
    executor: { address: '127.0.0.1:9', caBundleFile: file('executor-ca.pem', executorCa.certPem) },
    audit: { path: 'audit/mediator.jsonl', signingKeyFile: file('audit.key', audit) },
    drainSeconds: 0,
    logLevel,
  };
  return join(dir, file('mediator.json', JSON.stringify(config)));
}

const run = promisify(execFile);

describe('mediator main: start line', () => {
  it('says which crypto ssh2 runs on (ssh2Crypto: native here, where the binding is built)', async () => {
    const lines: Record<string, unknown>[] = [];
    const logDestination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    const mediator = await runMediator(await configWithCertificate(signHostCertificate, 'info'), {
      logDestination,
    });
    try {
      const listening = lines.find((line) => line.msg === 'mediator listening (SSH)');
      expect(listening).toMatchObject({ tier: 'mediator', port: mediator.port, ssh2Crypto: 'native' });
    } finally {
      await mediator.stop();
    }
  });
});

describe('mediator main: hostCertificateFile', () => {
  it('presents the host certificate it is configured with', async () => {
    const mediator = await runMediator(await configWithCertificate(signHostCertificate));
    try {
      // -c: certificates only; keyscan also tries RSA and ECDSA certificates, which the mediator has not.
      // Async: the mediator runs in this process, so a blocking spawn would starve it.
      const { stdout } = await run('ssh-keyscan', ['-c', '-p', String(mediator.port), '127.0.0.1']);
      const presented = mediator.hostKey.certificate?.split(' ').slice(0, 2).join(' ');
      expect(presented).toMatch(/^ssh-ed25519-cert-v01@openssh\.com \S+$/);
      expect(stdout.split('\n')).toContain(presented);
    } finally {
      await mediator.stop();
    }
  });

  it('refuses to start with a user certificate of its host key (CONFIG_INVALID)', async () => {
    const config = await configWithCertificate(signUserCertificate);
    await expect(runMediator(config)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('is a user certificate, not a host certificate'),
    });
  });
});
