/**
 * Issue 26.3: Ctrl-C on `npm start 2>&1 | tee log` ends `tee` too, so the
 * tier's stdout/stderr reader is gone when it drains; its next write fails
 * with EPIPE. A tier must still close its audit trail: here a real mediator
 * process whose stdout and stderr readers close right after it is ready,
 * then SIGINT or SIGTERM; its trail must verify with --require-closed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditFiles } from '../../services/core/audit/index.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { formatPublicKeyLine, generateCaKey } from '../../services/core/ssh-cert/index.js';
import { createTierCa } from '../../services/core/x509/index.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-tier-stdio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A mediator configuration that starts without a cluster or an executor (it dials the executor per session). */
async function mediatorConfig(name: string): Promise<{ config: string; trail: string; publicKey: string }> {
  const now = new Date();
  const mediatorCa = await createTierCa({ tier: 'mediator', now });
  const executorCa = await createTierCa({ tier: 'executor', now });
  const file = (base: string, content: string) => {
    const path = join(dir, `${name}-${base}`);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const sshCa = generateCaKey('ed25519', 'test ssh user ca');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const trail = join(dir, `${name}-audit`, 'mediator.jsonl');
  const config = file(
    'mediator.json',
    JSON.stringify({
      listen: '127.0.0.1:0',
      hostKeyFile: join(dir, `${name}-host-key`),
      policyFile: join(repoRoot(), 'docs', 'policy.example.json'),
      sshUserCaKeysFile: file('ssh-user-ca.pub', `${formatPublicKeyLine(sshCa.publicKey)}\n`),
      mediatorCa: {
        certFile: file('mediator-ca.pem', mediatorCa.certPem),
        keyFile: file('mediator-ca.key', mediatorCa.privateKeyPem),
      },
      executor: { address: '127.0.0.1:9', caBundleFile: file('executor-ca.pem', executorCa.certPem) },
      audit: {
        path: trail,
        signingKeyFile: file('audit.key', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      },
      drainSeconds: 1,
      logLevel: 'debug',
    }),
  );
  return {
    config,
    trail,
    publicKey: file('audit.pub', publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

function exited(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(`${code ?? signal}`)));
}

describe('a tier whose stdout/stderr reader is gone (EPIPE) when it is stopped', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('closes its audit trail on %s', async (signal) => {
    const { config, trail, publicKey } = await mediatorConfig(signal);
    const child = spawn(
      process.execPath,
      [join(repoRoot(), 'dist', 'services', 'mediator', 'main.js'), '--config', config],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const done = exited(child);
    try {
      const lines = createInterface({ input: child.stdout! });
      const ready = await new Promise<string>((resolve, reject) => {
        lines.on('line', (line) => line.startsWith('ready ') && resolve(line));
        void done.then((status) => reject(new Error(`mediator exited (${status}) before ready`)));
      });
      expect(ready).toMatch(/^ready port=\d+/);
      // The reader goes away, as `tee` does on Ctrl-C: every later write of the tier fails with EPIPE.
      lines.close();
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.kill(signal);
      expect(await done).toBe('0');
    } finally {
      child.kill('SIGKILL');
    }
    const result = await verifyAuditFiles([trail], {
      publicKeys: [createPublicKey(readFileSync(publicKey))],
      requireClosed: true,
    });
    expect(result.problems).toEqual([]);
    expect(result).toMatchObject({ ok: true, closed: true });
  });
});
