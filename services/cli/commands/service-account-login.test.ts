import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerTestEnv, INCIDENT_BOT, startBrokerTestEnv } from '../../broker/testing.js';
import { parseAirlockScope, parseCertificateLine } from '../../core/ssh-cert/index.js';
import type { BrokerClientIo } from './broker-client-io.js';
import { oncallDebugRequest } from './broker-client-test-support.js';
import { runCert } from './cert-command.js';
import { runLogin } from './login.js';
import { runRequest, runStatus } from './request-commands.js';
import { readServiceAccountToken } from './service-account-token.js';

let env: BrokerTestEnv;

/** A token shaped like a projected ServiceAccount token; the broker's TokenReview decides if it is valid. */
function saToken(name: string, exp?: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part({ iss: 'https://kubernetes.default.svc', sub: name, ...(exp === undefined ? {} : { exp }) })}.c2ln`;
}

function machineIo(): BrokerClientIo & { stdout: string[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-sa-'));
  mkdirSync(join(dir, '.ssh'));
  const stdout: string[] = [];
  return {
    dir,
    stdout,
    out: (t) => stdout.push(t),
    err: () => {},
    configDir: join(dir, 'config'),
    homeDir: dir,
    now: () => env.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

beforeAll(async () => {
  env = await startBrokerTestEnv();
});

afterAll(async () => {
  await env?.stop();
});

describe('airlock login --service-account-token: a runbook signs in with its ServiceAccount token', () => {
  it('logs in by TokenReview, requests its runbook (auto-approved), gets a certificate; a rotated token keeps working', async () => {
    const io = machineIo();
    const tokenFile = join(io.dir, 'token');
    const first = saToken('bot-1');
    env.reviewer.add(first, INCIDENT_BOT, ['system:serviceaccounts'], ['airlock-broker']);
    writeFileSync(tokenFile, `${first}\n`);
    expect(await runLogin({ broker: env.url, ca: env.caFile, serviceAccountToken: tokenFile }, io)).toBe(0);
    expect(io.stdout.join('')).toContain(`logged in as ${INCIDENT_BOT} (groups: runbook-runners)`);

    const keyPath = join(io.dir, '.ssh', 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
    io.stdout.length = 0;
    await runRequest(
      oncallDebugRequest({
        ttl: '10m',
        reason: 'health snapshot',
        runbook: 'payments-health',
        key: `${keyPath}.pub`,
      }),
      io,
    );
    const created = JSON.parse(io.stdout.join(''));
    expect(created).toMatchObject({ status: 'approved', requester: { user: INCIDENT_BOT } });

    // The kubelet rotates the projected token in place: the next command reads the new one.
    const second = saToken('bot-2');
    env.reviewer.add(second, INCIDENT_BOT, ['system:serviceaccounts'], ['airlock-broker']);
    writeFileSync(tokenFile, second);
    io.stdout.length = 0;
    await runCert(created.id, {}, io);
    const { certificate } = parseCertificateLine(readFileSync(io.stdout.join('').trim(), 'utf8'));
    expect(certificate.principals).toEqual([INCIDENT_BOT]);
    const scope = parseAirlockScope(certificate.extensions['airlock-scope@airlock.dev'] ?? '');
    expect(scope.runbook?.name).toBe('payments-health');
    io.stdout.length = 0;
    await runStatus(created.id, {}, io);
    expect(io.stdout.join('')).toContain(`${created.id}  approved`);
  });

  it('refuses a token the broker does not accept, and caches nothing', async () => {
    const io = machineIo();
    const tokenFile = join(io.dir, 'token');
    writeFileSync(tokenFile, saToken('unknown'));
    await expect(
      runLogin({ broker: env.url, ca: env.caFile, serviceAccountToken: tokenFile }, io),
    ).rejects.toMatchObject({ code: 'AUTH_INVALID' });
    expect(existsSync(join(io.configDir, 'token.json'))).toBe(false);
  });
});

describe('readServiceAccountToken', () => {
  const file = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'airlock-sa-')), 'token');
    writeFileSync(path, text);
    return path;
  };
  const now = new Date('2026-12-06T12:00:00Z');

  it('reads one JWT and its expiry', async () => {
    const exp = now.getTime() / 1000 + 600;
    await expect(readServiceAccountToken(file(`${saToken('a', exp)}\n`), now)).resolves.toEqual({
      token: saToken('a', exp),
      expiresAt: '2026-12-06T12:10:00.000Z',
      issuer: 'https://kubernetes.default.svc',
    });
  });

  it('refuses an expired token, text that is not one JWT, and a missing file', async () => {
    await expect(
      readServiceAccountToken(file(saToken('a', now.getTime() / 1000 - 1)), now),
    ).rejects.toMatchObject({
      code: 'AUTH_EXPIRED',
    });
    await expect(readServiceAccountToken(file(`${saToken('a')} ${saToken('b')}`), now)).rejects.toMatchObject(
      {
        code: 'AUTH_INVALID',
      },
    );
    await expect(readServiceAccountToken(file('hello'), now)).rejects.toMatchObject({ code: 'AUTH_INVALID' });
    await expect(readServiceAccountToken('/nonexistent/token', now)).rejects.toMatchObject({ code: 'USAGE' });
  });
});
