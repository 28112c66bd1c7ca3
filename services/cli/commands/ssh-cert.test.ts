/**
 * `airlock ssh-cert check`: the handler with an in-memory I/O over files made
 * by ssh-keygen, and the commander wiring through main() for exit statuses.
 */
import { writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError } from '../../core/errors.js';
import { testPolicyJson } from '../../core/policy/testing.js';
import { devDebugScopeOption } from '../../core/ssh-cert/scope-test-support.js';
import { main } from '../main.js';
import { capturedOutput, resetAfterEachCommand } from './cli-test-support.js';
import { type CliIo, runSshCertCheck, type SshCertCheckOptions } from './ssh-cert.js';

const AT = '2030-01-01T12:00:00Z';
let ws: KeygenWorkspace;
let ca: string;
let otherCa: string;
let certPath: string;
let policyPath: string;

/** What the broker puts in a certificate: the scope the mediator requires. */
const SCOPE_OPTION = devDebugScopeOption();

beforeAll(() => {
  ws = new KeygenWorkspace();
  ca = ws.makeKey('ed25519', 'ca').path;
  otherCa = ws.makeKey('ecdsa-256', 'other-ca').path;
  const user = ws.makeKey('ed25519', 'user');
  // A one-day certificate: the policy's bound for profile debug is one day too.
  const policy = testPolicyJson();
  policy.limits = { maxTtlSeconds: 86_400 };
  policy.profiles.debug!.maxTtlSeconds = 86_400;
  policyPath = ws.path('policy.json');
  writeFileSync(policyPath, JSON.stringify(policy));
  ws.signCert(ca, user.path, [
    ...SCOPE_OPTION,
    '-I',
    'alice@example.com',
    '-n',
    'alice',
    '-z',
    '99',
    '-V',
    '20300101000000:20300102000000',
    '-O',
    'source-address=10.0.0.0/8',
    '-O',
    'force-command=whoami',
  ]);
  certPath = `${user.path}-cert.pub`;
});
afterAll(() => ws.cleanup());
resetAfterEachCommand();

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  return {
    ...capturedOutput(),
    readFile: (path) => readFile(path),
    now: () => new Date(AT),
  };
}

function check(overrides: Partial<SshCertCheckOptions>) {
  return {
    cert: certPath,
    ca: [`${ca}.pub`],
    principal: 'alice',
    policy: policyPath,
    sourceAddress: '10.0.0.1',
    ...overrides,
  };
}

describe('runSshCertCheck', () => {
  it('prints the identity and returns 0 for an acceptable certificate', async () => {
    const io = capture();
    expect(await runSshCertCheck(check({}), io)).toBe(0);
    const text = io.stdout.join('');
    expect(text).toMatch(/^accepted\n/);
    expect(text).toContain('key id:         alice@example.com');
    expect(text).toContain('serial:         99');
    expect(text).toContain('valid:          2030-01-01T00:00:00Z to 2030-01-02T00:00:00Z');
    expect(text).toContain('force-command:  whoami');
  });

  it('prints JSON with --output json', async () => {
    const io = capture();
    expect(await runSshCertCheck(check({ output: 'json', ca: [`${otherCa}.pub`, `${ca}.pub`] }), io)).toBe(0);
    const result = JSON.parse(io.stdout.join(''));
    expect(result).toMatchObject({
      accepted: true,
      identity: {
        principal: 'alice',
        keyId: 'alice@example.com',
        serial: '99',
        forceCommand: 'whoami',
        scope: { profile: 'debug', namespace: 'payments', requestId: 'req-1' },
      },
    });
    expect(result.identity.caFingerprint).toBe(ws.run(['-l', '-f', `${ca}.pub`]).split(' ')[1]);
  });

  it('prints CODE: reason and returns 1 when refused', async () => {
    const cases: [Partial<SshCertCheckOptions>, string][] = [
      [{ principal: 'bob' }, 'CERT_PRINCIPAL_MISMATCH'],
      [{ sourceAddress: '192.0.2.1' }, 'CERT_SOURCE_ADDRESS'],
      [{ ca: [`${otherCa}.pub`] }, 'CERT_UNTRUSTED_CA'],
      [{ at: '2030-01-03T00:00:00Z' }, 'CERT_EXPIRED'],
    ];
    for (const [overrides, code] of cases) {
      const io = capture();
      expect(await runSshCertCheck(check(overrides), io)).toBe(1);
      expect(io.stdout.join('')).toMatch(new RegExp(`^${code}: `));
    }
  });

  it('refuses revoked certificates from --krl and --revoked, with JSON output', async () => {
    const krl = ws.path('revoked.krl');
    await writeFile(krl, ws.makeKrl('serial: 99\n', `${ca}.pub`));
    const io = capture();
    expect(await runSshCertCheck(check({ krl: [krl], output: 'json' }), io)).toBe(1);
    expect(JSON.parse(io.stdout.join(''))).toMatchObject({ accepted: false, code: 'CERT_REVOKED' });
    const deny = ws.path('deny.json');
    await writeFile(deny, JSON.stringify({ keyIds: ['alice@example.com'] }));
    const io2 = capture();
    expect(await runSshCertCheck(check({ revoked: [deny] }), io2)).toBe(1);
    expect(io2.stdout.join('')).toMatch(/^CERT_REVOKED: /);
  });

  /** A certificate for a new key, signed with extra ssh-keygen arguments. */
  function certWith(name: string, args: string[]): string {
    const key = ws.makeKey('ed25519', name).path;
    ws.signCert(ca, key, ['-n', 'alice', ...args]);
    return `${key}-cert.pub`;
  }

  it('refuses a certificate without the airlock scope, as the mediator does (CERT_SCOPE_INVALID)', async () => {
    const io = capture();
    const cert = certWith('no-scope', ['-I', 'x', '-V', '20300101113000:20300101123000']);
    expect(await runSshCertCheck(check({ cert, sourceAddress: undefined }), io)).toBe(1);
    expect(io.stdout.join('')).toMatch(/^CERT_SCOPE_INVALID: /);
  });

  it('refuses a certificate valid for longer than the policy allows (CERT_LIFETIME_EXCEEDS_POLICY)', async () => {
    for (const validity of ['always:forever', '20300101000000:20300102000001']) {
      const io = capture();
      const cert = certWith(`long-${validity.length}`, ['-I', 'x', '-V', validity, ...SCOPE_OPTION]);
      expect(await runSshCertCheck(check({ cert, sourceAddress: undefined }), io), validity).toBe(1);
      expect(io.stdout.join('')).toMatch(/^CERT_LIFETIME_EXCEEDS_POLICY: /);
    }
  });

  it('prints a key id with escape sequences escaped, in text and JSON', async () => {
    const cert = certWith('escapes', [
      '-I',
      'alice\x1b]0;owned\x07\x9b2J\u202e',
      '-V',
      '20300101113000:20300101123000',
      ...SCOPE_OPTION,
    ]);
    const text = capture();
    expect(await runSshCertCheck(check({ cert, sourceAddress: undefined }), text)).toBe(0);
    const printed = text.stdout.join('');
    expect(printed).toContain('key id:         alice\\x1b]0;owned\\x07\\x9b2J\\u202e\n');
    expect(printed).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    const json = capture();
    expect(await runSshCertCheck(check({ cert, sourceAddress: undefined, output: 'json' }), json)).toBe(0);
    const line = json.stdout.join('');
    expect(line).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    expect(JSON.parse(line).identity.keyId).toBe('alice\x1b]0;owned\x07\x9b2J\u202e');
  });

  it('reports a corrupt certificate file as CERT_MALFORMED (refused, not usage)', async () => {
    const bad = ws.path('bad-cert.pub');
    await writeFile(bad, 'ssh-ed25519-cert-v01@openssh.com AAAA\n');
    const io = capture();
    expect(await runSshCertCheck(check({ cert: bad }), io)).toBe(1);
    expect(io.stdout.join('')).toMatch(/^CERT_MALFORMED: /);
  });

  it('throws USAGE for unreadable files, bad CA files, bad KRLs and bad --at', async () => {
    const junk = ws.path('junk');
    await writeFile(junk, 'hello');
    for (const overrides of [
      { cert: ws.path('missing') },
      { ca: [junk] },
      { ca: [] },
      { krl: [junk] },
      { revoked: [junk] },
      { at: 'tomorrow' },
      { at: '2030-01-01' },
      { policy: ws.path('missing-policy.json') },
      { policy: junk },
      { skew: '-5' },
    ]) {
      await expect(runSshCertCheck(check(overrides), capture()), JSON.stringify(overrides)).rejects.toSatisfy(
        (error) => error instanceof AirlockError && error.code === 'USAGE',
      );
    }
  });
});

describe('airlock ssh-cert check via main()', () => {
  function silence() {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    return out;
  }
  const argv = (...args: string[]) => ['node', 'airlock', 'ssh-cert', 'check', ...args];

  it('exits 0 when accepted and 1 when refused', async () => {
    silence();
    const base = [
      '--cert',
      certPath,
      '--ca',
      `${ca}.pub`,
      '--policy',
      policyPath,
      '--at',
      AT,
      '--source-address',
      '10.0.0.1',
    ];
    expect(await main(argv(...base, '--principal', 'alice'))).toBe(0);
    process.exitCode = undefined;
    expect(await main(argv(...base, '--principal', 'mallory'))).toBe(1);
  });

  it('exits 2 for usage errors: a missing required option, a bad --output, a bad --at', async () => {
    const out = silence();
    expect(await main(argv('--cert', certPath, '--ca', `${ca}.pub`, '--policy', policyPath))).toBe(2);
    expect(out.join('')).toContain("required option '--principal <name>' not specified");
    expect(await main(argv('--cert', certPath, '--principal', 'a'))).toBe(2);
    expect(out.join('')).toContain("required option '--ca <file>' not specified");
    expect(
      await main(argv('--cert', certPath, '--ca', `${ca}.pub`, '--principal', 'a', '--output', 'xml')),
    ).toBe(2);
    expect(await main(argv('--cert', certPath, '--ca', `${ca}.pub`, '--principal', 'a'))).toBe(2);
    expect(out.join('')).toContain("required option '--policy <file>' not specified");
    expect(
      await main(
        argv(
          '--cert',
          certPath,
          '--ca',
          `${ca}.pub`,
          '--principal',
          'a',
          '--policy',
          policyPath,
          '--at',
          'now',
        ),
      ),
    ).toBe(2);
    expect(out.join('')).toContain('airlock: USAGE: --at now is not an RFC 3339 time');
  });

  it('has a helpful --help', async () => {
    const out = silence();
    expect(await main(argv('--help'))).toBe(0);
    const help = out.join('').replace(/\s+/g, ' ');
    for (const flag of [
      '--cert',
      '--ca',
      '--principal',
      '--policy',
      '--source-address',
      '--krl',
      '--revoked',
      '--at',
      '--output',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('Exit 0 accepted, 1 refused');
  });
});
