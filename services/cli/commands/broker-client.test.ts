import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../broker/testing.js';
import { parseAirlockScope, parseCertificateLine } from '../../core/ssh-cert/index.js';
import { buildProgram } from '../main.js';
import {
  type BrokerClientIo,
  parseTtl,
  runCert,
  runDecision,
  runLogin,
  runRequest,
  runStatus,
} from './broker-client.js';

let env: BrokerTestEnv;

/** An IO for one person: own config dir and home, captured output, and a sleep that signs in at the provider. */
function personIo(user: string): BrokerClientIo & { stdout: string[]; stderr: string[] } {
  const home = join(env.dir, `home-${user}`);
  mkdirSync(join(home, '.ssh'), { recursive: true });
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    configDir: join(home, '.config', 'airlock'),
    homeDir: home,
    now: () => env.now(),
    async sleep(ms) {
      // The person reads the code from the terminal and approves it on the provider's page.
      const code = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(stderr.join(''))?.[1];
      if (code) {
        try {
          env.provider.approveDeviceCode(code, user);
        } catch {
          // already redeemed
        }
      }
      await new Promise((r) => setTimeout(r, ms));
    },
  };
}

beforeAll(async () => {
  env = await startBrokerTestEnv();
});

afterAll(async () => {
  await env?.stop();
});

describe('airlock login / request / approve / cert / status against a real broker and OpenID provider', () => {
  it('runs the whole flow: device login, request, approval by a second person, certificate next to the key', async () => {
    const alice = personIo('alice');
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-f',
      join(alice.homeDir, '.ssh', 'id_ed25519'),
    ]);
    expect(await runLogin({ broker: env.url, ca: env.caFile }, alice)).toBe(0);
    expect(alice.stderr.join('')).toContain(`open ${env.provider.issuer}/device and enter the code`);
    expect(alice.stdout.join('')).toContain('logged in as alice (groups: payments-oncall)');
    const tokenFile = join(alice.configDir, 'token.json');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(tokenFile, 'utf8'))).toMatchObject({ broker: env.url, user: 'alice' });

    alice.stdout.length = 0;
    await runRequest(
      {
        profile: 'oncall-debug',
        cluster: 'prod-eu',
        namespace: 'payments',
        pod: ['payments-api-*'],
        ttl: '30m',
        reason: 'checkout latency',
        json: true,
      },
      alice,
    );
    const created = JSON.parse(alice.stdout.join(''));
    expect(created.status).toBe('pending');

    // Before approval the certificate is refused with the broker's code.
    await expect(runCert(created.id, {}, alice)).rejects.toMatchObject({ code: 'REQUEST_STATE' });

    const bob = personIo('bob');
    await runLogin({ broker: env.url, ca: env.caFile }, bob);
    bob.stdout.length = 0;
    await runStatus(undefined, { pending: true }, bob);
    expect(bob.stdout.join('')).toContain(created.id);
    await expect(runDecision('approve', created.id, {}, alice)).rejects.toMatchObject({
      code: 'APPROVAL_NOT_ALLOWED',
    });
    bob.stdout.length = 0;
    await runDecision('approve', created.id, { comment: 'ok' }, bob);
    expect(bob.stdout.join('')).toContain(`${created.id}  approved`);

    alice.stdout.length = 0;
    await runCert(created.id, {}, alice);
    const certPath = join(alice.homeDir, '.ssh', 'id_ed25519-cert.pub');
    expect(alice.stdout.join('')).toBe(`${certPath}\n`);
    const listing = execFileSync('ssh-keygen', ['-L', '-f', certPath], { encoding: 'utf8' });
    expect(listing).toContain(`Key ID: "airlock:${created.id}:alice"`);
    expect(listing).toMatch(/Principals: \n\s+alice\n/);
    const { certificate } = parseCertificateLine(readFileSync(certPath, 'utf8'));
    expect(certificate.validBefore - certificate.validAfter).toBe(1800n);
    expect(parseAirlockScope(certificate.extensions['airlock-scope@airlock.dev'] ?? '').requestId).toBe(
      created.id,
    );

    alice.stdout.length = 0;
    await runStatus(created.id, {}, alice);
    expect(alice.stdout.join('')).toContain(`cert       serial ${certificate.serial}`);
  });

  it('refuses commands without a login, and with an expired cached login', async () => {
    const nobody = personIo('nobody');
    await expect(runStatus(undefined, {}, nobody)).rejects.toMatchObject({ code: 'AUTH_REQUIRED' });
    const carol = personIo('carol');
    await runLogin({ broker: env.url, ca: env.caFile }, carol);
    env.advance(7200);
    try {
      await expect(runStatus(undefined, {}, carol)).rejects.toMatchObject({ code: 'AUTH_EXPIRED' });
    } finally {
      env.advance(-7200);
    }
  });
});

describe('airlock broker client commands: parsing and help', () => {
  it('parses TTLs', () => {
    expect(parseTtl('30m')).toBe(1800);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl('1h30m')).toBe(5400);
    expect(parseTtl('900')).toBe(900);
    expect(parseTtl('45s')).toBe(45);
    expect(() => parseTtl('soon')).toThrow(/not a duration/);
  });

  it.each([
    'login',
    'request',
    'approve',
    'deny',
    'revoke',
    'cert',
    'status',
  ])('airlock %s --help', (name) => {
    const program = buildProgram();
    const sub = program.commands.find((c) => c.name() === name);
    expect(sub).toBeDefined();
    const help = sub?.helpInformation() ?? '';
    expect(help).toContain('--broker');
    expect(help).toContain(`Usage: airlock ${name}`);
  });
});
