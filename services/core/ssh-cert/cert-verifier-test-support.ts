import { afterAll, beforeAll } from 'vitest';
import { type KeygenKeyType, KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';

import { codeOf } from '../errors-test-support.js';

import { type VerifyCertificateOptions, verifyCertificateWithoutSession } from './cert-verifier.js';
import { certificateBlobFromLine } from './certificate.js';
import { parsePublicKeyLine, type SshPublicKey } from './public-key.js';

/*
 * What the cert-verifier*.test.ts files share: an ssh-keygen workspace with
 * a user key of every type and three CAs (made once per test file by
 * useKeygenFixture), and helpers to sign and verify with them.
 */

export const NOW = new Date('2030-01-01T12:00:00Z');
export const WINDOW = '20300101000000:20300102000000';

export let ws: KeygenWorkspace;
export const userKeys = new Map<KeygenKeyType, { path: string; publicLine: string; privateText: string }>();
export let caEd25519: { path: string; publicLine: string; key: SshPublicKey };
export let caEcdsa: { path: string; publicLine: string; key: SshPublicKey };
export let caRsa: { path: string; publicLine: string; key: SshPublicKey };

export const USER_TYPES: KeygenKeyType[] = ['ed25519', 'ecdsa-256', 'ecdsa-384', 'ecdsa-521', 'rsa'];

export function makeCa(type: KeygenKeyType, name: string) {
  const made = ws.makeKey(type, name);
  return { ...made, key: parsePublicKeyLine(made.publicLine).key };
}

/** Registers, in the calling test file, the making of the keys (beforeAll) and the workspace's removal. */
export function useKeygenFixture(): void {
  beforeAll(() => {
    ws = new KeygenWorkspace();
    for (const type of USER_TYPES) userKeys.set(type, ws.makeKey(type, `user-${type}`));
    caEd25519 = makeCa('ed25519', 'ca-ed25519');
    caEcdsa = makeCa('ecdsa-256', 'ca-ecdsa');
    caRsa = makeCa('rsa', 'ca-rsa');
  });
  afterAll(() => ws.cleanup());
}

export function user(type: KeygenKeyType) {
  return userKeys.get(type)!;
}

/** Signs the ed25519 user key with the ed25519 CA plus extra ssh-keygen args. */
export function certFor(
  args: string[],
  opts: { userType?: KeygenKeyType; caPath?: string } = {},
): Uint8Array {
  const base = user(opts.userType ?? 'ed25519').path;
  return certificateBlobFromLine(ws.signCert(opts.caPath ?? caEd25519.path, base, args));
}

/** A certificate for principal alice, key id `id`, valid through WINDOW, plus `extra` ssh-keygen args. */
export function aliceCert(extra: string[] = [], opts: { caPath?: string } = {}): Uint8Array {
  return certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW, ...extra], opts);
}

/** The code verifyCertificateWithoutSession refuses `blob` with under options(overrides), or 'accepted'. */
export function verdict(blob: Uint8Array, overrides: Partial<VerifyCertificateOptions> = {}) {
  return codeOf(() => verifyCertificateWithoutSession(blob, options(overrides)));
}

export function options(overrides: Partial<VerifyCertificateOptions> = {}): VerifyCertificateOptions {
  return { trustedCAs: [caEd25519.key], principal: 'alice', now: NOW, ...overrides };
}

export { codeOf };

export function keygenFingerprint(publicPath: string): string {
  return ws.run(['-l', '-E', 'sha256', '-f', publicPath]).split(' ')[1]!;
}
