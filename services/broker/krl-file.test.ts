/**
 * The broker publishes revocations as an OpenSSH KRL: `ssh-keygen -Q` and the
 * tiers' own revocation watcher (with the KRL as their only revocation list)
 * refuse a certificate revoked through the broker API, and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.js';
import { watchSshTrust } from '../core/service/tier-trust.js';
import {
  parseCertificateLine,
  parseKrl,
  parsePublicKeyLine,
  verifyCertificateWithoutSession,
} from '../core/ssh-cert/index.js';
import { sshKeyIn } from './broker-test-support.js';
import { createFileKrl } from './krl-file.js';
import { type BrokerTestEnv, startBrokerTestEnv } from './testing.js';

let env: BrokerTestEnv;
let keyLine: string;

beforeAll(async () => {
  env = await startBrokerTestEnv({ kubeCertificatesCluster: false });
  keyLine = sshKeyIn(env.dir, 'id_krl', 'krl');
});
afterAll(async () => {
  await env?.stop();
});

/** An auto-approved request (incident reference) for alice and its certificate line. */
async function certifiedRequest(): Promise<{ id: string; line: string; file: string }> {
  const alice = await env.provider.mintIdToken('alice');
  const created = await env.call('POST', '/v1/requests', alice, {
    profile: 'oncall-debug',
    cluster: 'prod-eu',
    namespace: 'payments',
    podPatterns: ['payments-api-*'],
    reason: 'INC-4711 checkout latency',
    ttlSeconds: 900,
    sshPublicKey: keyLine,
  });
  expect(created.body.status).toBe('approved');
  const cert = await env.call('POST', `/v1/requests/${created.body.id}/certificate`, alice);
  expect(cert.status).toBe(200);
  const file = join(env.dir, `${created.body.id}-cert.pub`);
  writeFileSync(file, `${cert.body.certificate}\n`);
  return { id: created.body.id, line: cert.body.certificate, file };
}

/** `ssh-keygen -Q`: 'REVOKED' (exit 1) or 'ok' (exit 0). */
function keygenQuery(certFile: string): 'REVOKED' | 'ok' {
  try {
    execFileSync('ssh-keygen', ['-Q', '-f', env.config.revocationKrlFile!, certFile], { stdio: 'pipe' });
    return 'ok';
  } catch (error) {
    const { status, stdout } = error as { status: number; stdout: Buffer };
    expect(status).toBe(1);
    expect(stdout.toString()).toContain('REVOKED');
    return 'REVOKED';
  }
}

describe('broker KRL publication', () => {
  it('writes an empty KRL at start-up, readable by the tiers (0644)', () => {
    const path = env.config.revocationKrlFile!;
    expect(statSync(path).mode & 0o777).toBe(0o644);
    // This test runs first in the file: nothing has been revoked yet.
    const krl = parseKrl(readFileSync(path));
    expect(krl.comment).toBe('airlock broker revocations');
    expect(krl.certificateSections).toEqual([]);
  });

  it('a certificate revoked through the broker is refused by the KRL alone; another is not', async () => {
    const revoked = await certifiedRequest();
    const kept = await certifiedRequest();
    expect(keygenQuery(revoked.file)).toBe('ok');

    const alice = await env.provider.mintIdToken('alice');
    const answer = await env.call('POST', `/v1/requests/${revoked.id}/revoke`, alice, { comment: 'done' });
    expect(answer.body.status).toBe('revoked');

    // OpenSSH's reading of the KRL.
    expect(keygenQuery(revoked.file)).toBe('REVOKED');
    expect(keygenQuery(kept.file)).toBe('ok');

    // The mediator's and executor's reading: their trust set-up with the KRL as the only list.
    const caFile = join(env.dir, 'ssh_user_ca.pub');
    writeFileSync(caFile, `${env.sshCaPublicLine}\n`);
    const trust = watchSshTrust(
      {
        sshUserCaKeysFile: caFile,
        revocation: { krlFiles: [env.config.revocationKrlFile!], denyListFiles: [] },
      },
      () => new Date(),
    );
    const verify = (line: string) =>
      verifyCertificateWithoutSession(parseCertificateLine(line).certificate, {
        trustedCAs: trust.trustedSshCas(),
        principal: 'alice',
        now: new Date(),
        revocation: trust.revocation(),
      });
    expect(() => verify(revoked.line)).toThrow(expect.objectContaining({ code: 'CERT_REVOKED' }));
    expect(verify(kept.line).keyId).toBe(`airlock:${kept.id}:alice`);

    // Serial under the signing CA, and the key id.
    const krl = parseKrl(readFileSync(env.config.revocationKrlFile!));
    const section = krl.certificateSections.find(
      (s) =>
        s.caKey !== undefined &&
        Buffer.from(s.caKey).equals(Buffer.from(parsePublicKeyLine(env.sshCaPublicLine).key.blob)),
    );
    const { certificate } = parseCertificateLine(revoked.line);
    expect(section?.serials).toContain(certificate.serial);
    expect(section?.keyIds).toContain(`airlock:${revoked.id}:alice`);
    expect(krl.version).toBeGreaterThanOrEqual(1n);
  });
});

describe('createFileKrl', () => {
  it('revokes a key id under any CA when no certificate was issued', async () => {
    const path = join(env.dir, 'unit-any-ca.krl');
    const krl = createFileKrl(path, () => new Date('2030-01-01T00:00:00Z'));
    await krl.revoke({ keyId: 'airlock:req-x:bob' });
    await krl.revoke({ keyId: 'airlock:req-x:bob' });
    const parsed = parseKrl(readFileSync(path));
    expect(parsed.certificateSections).toEqual([
      { caKey: undefined, serials: [], serialRanges: [], serialBitmaps: [], keyIds: ['airlock:req-x:bob'] },
    ]);
    expect(parsed.version).toBe(2n);
    expect(parsed.generatedAt).toBe(1_893_456_000n);
  });

  it('refuses a serial without its CA rather than dropping it, and leaves the file as it was', async () => {
    const path = join(env.dir, 'unit-no-ca.krl');
    const krl = createFileKrl(path, () => new Date());
    await krl.ensureExists();
    const before = readFileSync(path);
    await expect(krl.revoke({ serial: 77n, keyId: 'k' })).rejects.toThrow(/without the CA key/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses to extend a damaged KRL (CERT_MALFORMED) and does not overwrite it', async () => {
    const path = join(env.dir, 'unit-damaged.krl');
    writeFileSync(path, 'not a KRL');
    const krl = createFileKrl(path, () => new Date());
    const failure = krl.revoke({ keyId: 'k' });
    await expect(failure).rejects.toBeInstanceOf(AirlockError);
    await expect(failure).rejects.toMatchObject({ code: 'CERT_MALFORMED' });
    await expect(krl.ensureExists()).rejects.toMatchObject({ code: 'CERT_MALFORMED' });
    expect(readFileSync(path, 'utf8')).toBe('not a KRL');
  });
});
