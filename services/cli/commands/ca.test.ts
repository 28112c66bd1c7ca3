/**
 * `airlock ca init`: the key pair is OpenSSH-readable, private 0600, never
 * overwritten, and usable by `ssh-keygen -s` as a CA that airlock accepts.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError } from '../../core/errors.js';
import { testPolicyJson } from '../../core/policy/testing.js';
import { parseOpenSshPrivateKey, parsePublicKeyLine } from '../../core/ssh-cert/index.js';
import { devDebugScopeOption } from '../../core/ssh-cert/scope-test-support.js';
import { main } from '../main.js';
import { caKeyPaths, runCaInit } from './ca.js';
import { capturedOutput, resetAfterEachCommand } from './cli-test-support.js';

let ws: KeygenWorkspace;
beforeAll(() => {
  ws = new KeygenWorkspace();
});
afterAll(() => ws.cleanup());
resetAfterEachCommand();

const io = capturedOutput;

describe('airlock ca init', () => {
  for (const type of ['ed25519', 'ecdsa-p256'] as const) {
    it(`writes a ${type} key pair ssh-keygen reads, private key 0600, and prints the public line`, async () => {
      const out = ws.path(`ca-${type}`);
      const capture = io();
      expect(await runCaInit({ type, out }, capture)).toBe(0);
      const paths = caKeyPaths(out);
      expect(statSync(paths.privateKey).mode & 0o777).toBe(0o600);
      expect(statSync(out).mode & 0o777).toBe(0o700);
      const publicLine = readFileSync(paths.publicKey, 'utf8').trim();
      expect(capture.stdout.join('')).toBe(`${publicLine}\n`);
      expect(parsePublicKeyLine(publicLine).key.type).toBe(
        type === 'ed25519' ? 'ssh-ed25519' : 'ecdsa-sha2-nistp256',
      );
      // OpenSSH derives the same public key from our private key file.
      expect(ws.run(['-y', '-f', paths.privateKey]).trim()).toBe(publicLine);
      expect(parseOpenSshPrivateKey(readFileSync(paths.privateKey, 'utf8')).comment).toBe('airlock-user-ca');
    });
  }

  it('refuses to overwrite an existing key with CA_KEY_EXISTS and leaves it untouched', async () => {
    const out = ws.path('ca-twice');
    await runCaInit({ type: 'ed25519', out }, io());
    const before = readFileSync(caKeyPaths(out).privateKey, 'utf8');
    await expect(runCaInit({ type: 'ed25519', out }, io())).rejects.toSatisfy(
      (error) => error instanceof AirlockError && error.code === 'CA_KEY_EXISTS',
    );
    expect(readFileSync(caKeyPaths(out).privateKey, 'utf8')).toBe(before);
  });

  it('makes a CA that ssh-keygen -s signs with and airlock ssh-cert check accepts', async () => {
    const out = ws.path('ca-e2e');
    await runCaInit({ type: 'ecdsa-p256', out, name: 'user_ca' }, io());
    const user = ws.makeKey('ed25519', 'e2e-user');
    ws.signCert(caKeyPaths(out, 'user_ca').privateKey, user.path, [
      '-I',
      'e2e',
      '-n',
      'alice',
      '-V',
      '-5m:+5m',
      // The scope the broker puts in every certificate; the mediator requires it.
      ...devDebugScopeOption(),
    ]);
    const policy = ws.path('ca-e2e-policy.json');
    writeFileSync(policy, JSON.stringify(testPolicyJson()));
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const status = await main([
      'node',
      'airlock',
      'ssh-cert',
      'check',
      '--cert',
      `${user.path}-cert.pub`,
      '--ca',
      caKeyPaths(out, 'user_ca').publicKey,
      '--principal',
      'alice',
      '--policy',
      policy,
    ]);
    expect(written.join('')).toMatch(/^accepted/);
    expect(status).toBe(0);
  });

  it('via main(): exit 1 with CA_KEY_EXISTS on overwrite, exit 2 for a bad --type, and --help', async () => {
    const out = ws.path('ca-main');
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    expect(await main(['node', 'airlock', 'ca', 'init', '--type', 'ed25519', '--out', out])).toBe(0);
    process.exitCode = undefined;
    expect(await main(['node', 'airlock', 'ca', 'init', '--type', 'ed25519', '--out', out])).toBe(1);
    expect(written.join('')).toContain('airlock: CA_KEY_EXISTS:');
    expect(await main(['node', 'airlock', 'ca', 'init', '--type', 'rsa', '--out', out])).toBe(2);
    expect(await main(['node', 'airlock', 'ca', 'init', '--out', out])).toBe(2);
    written.length = 0;
    expect(await main(['node', 'airlock', 'ca', 'init', '--help'])).toBe(0);
    expect(written.join('').replace(/\s+/g, ' ')).toContain(
      'Prints the public key line for sshd TrustedUserCAKeys',
    );
  });
});
