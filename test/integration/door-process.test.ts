/**
 * The door's entry point as a real process (dist/services/mediator/door/main.js):
 * it starts from its config file, prints its ready line, refuses a session
 * channel to the real ssh client with DOOR_SESSION_REFUSED, and on SIGTERM
 * closes a trail that verifies and holds the refusal.
 */
import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditFiles } from '../../services/core/audit/index.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { formatPublicKeyLine, generateCaKey } from '../../services/core/ssh-cert/index.js';
import { sshUser } from '../support/mediator-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-door-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

describe('door: the entry point as a process', () => {
  it('starts from its config, refuses a session channel to stock ssh, and closes a verifiable trail', async () => {
    const sshCa = generateCaKey('ed25519', 'test ssh user ca');
    const audit = generateKeyPairSync('ed25519');
    const trail = join(dir, 'audit', 'door.jsonl');
    const config = file(
      'door.json',
      JSON.stringify({
        listen: '127.0.0.1:0',
        hostKeyFile: join(dir, 'host-key'),
        policyFile: join(repoRoot(), 'docs', 'policy.example.json'),
        sshUserCaKeysFile: file('ssh-user-ca.pub', `${formatPublicKeyLine(sshCa.publicKey)}\n`),
        mediators: { static: { 'req-a1': '127.0.0.1:9' } },
        audit: {
          path: trail,
          signingKeyFile: file(
            'audit.key',
            audit.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          ),
        },
        drainSeconds: 1,
        logLevel: 'warn',
      }),
    );
    const child = spawn(
      process.execPath,
      [join(repoRoot(), 'dist', 'services', 'mediator', 'door', 'main.js'), '--config', config],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const done = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(`${code ?? signal}`)),
    );
    try {
      const lines = createInterface({ input: child.stdout! });
      const ready: string[] = [];
      await new Promise<void>((resolve, reject) => {
        lines.on('line', (line) => {
          ready.push(line);
          if (line.startsWith('known_hosts: ')) resolve();
        });
        void done.then((status) => reject(new Error(`door exited (${status}) before ready`)));
      });
      const port = Number(/^ready port=(\d+) /.exec(ready[0] ?? '')?.[1]);
      const knownHosts = file(
        'known_hosts',
        `[127.0.0.1]:${port} ${ready[1]!.slice('known_hosts: '.length)}\n`,
      );
      const user = sshUser(sshCa, {
        scope: {
          cluster: 'prod-eu1',
          namespace: 'payments',
          podPatterns: ['payments-api-*'],
          profile: 'oncall-debug',
          requestId: 'req-a1',
          groups: [],
        },
        validSeconds: 600,
      });
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const ssh = spawn(
          'ssh',
          [
            '-F',
            '/dev/null',
            '-p',
            String(port),
            '-o',
            `UserKnownHostsFile=${knownHosts}`,
            '-o',
            'StrictHostKeyChecking=yes',
            '-o',
            'BatchMode=yes',
            '-o',
            'IdentitiesOnly=yes',
            '-i',
            user.keyPath,
            '-o',
            `CertificateFile=${user.certPath}`,
            'alice@127.0.0.1',
            'whoami',
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        ssh.stderr.on('data', (d) => {
          stderr += d;
        });
        ssh.on('close', (code) => resolve({ code, stderr }));
      });
      expect(result.code).toBe(255);
      expect(result.stderr).toContain('administratively prohibited: DOOR_SESSION_REFUSED');
      child.kill('SIGTERM');
      expect(await done).toBe('0');
    } finally {
      child.kill('SIGKILL');
    }
    const verified = await verifyAuditFiles([trail], {
      publicKeys: [createPublicKey(audit.publicKey.export({ type: 'spki', format: 'pem' }))],
      requireClosed: true,
    });
    expect(verified.problems).toEqual([]);
    const records = readFileSync(trail, 'utf8')
      .trim()
      .split('\n')
      .map(
        (line) => JSON.parse(line) as { tier: string; event?: string; code?: string; request_id?: string },
      );
    expect(records.every((r) => r.tier === 'door')).toBe(true);
    expect(records).toContainEqual(
      expect.objectContaining({ event: 'door.connect', code: 'DOOR_SESSION_REFUSED', request_id: 'req-a1' }),
    );
  });
});
