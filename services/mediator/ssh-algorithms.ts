import type { Algorithms, EncryptedPrivateKey, KexAlgorithm } from 'ssh2';
import type { HostKey } from '../core/ssh-cert/host-key.js';

/**
 * The only algorithms the mediator speaks. Key exchange: the post-quantum
 * hybrid mlkem768x25519-sha256 first (ML-KEM-768 + X25519, what OpenSSH
 * 10.x prefers; without it OpenSSH 10.1+ warns on every connection), then
 * curve25519 and NIST ECDH for older clients. AEAD or CTR ciphers,
 * encrypt-then-MAC SHA-2 MACs, no compression, and an ed25519 host key
 * (offered as ssh-ed25519-cert-v01@openssh.com first when certified). A
 * client that offers only CBC ciphers, SHA-1 MACs or SHA-1 key exchange
 * fails the handshake.
 *
 * mlkem768x25519-sha256 comes from patches/ssh2-mlkem768x25519-sha256.patch
 * (applied at install); on an unpatched ssh2 the server refuses to start,
 * since ssh2 rejects a name it does not support. sntrup761x25519-sha512 is not
 * offered: neither node:crypto nor OpenSSL has Streamlined NTRU Prime, and a
 * hand-written lattice KEM in JavaScript is not something to trust with
 * session keys; every client that has it (OpenSSH 8.5+) also has ML-KEM from
 * 9.9 on, or falls back to curve25519.
 */
export const HARDENED_ALGORITHMS: Algorithms = {
  kex: [
    // Not in @types/ssh2's list of names yet.
    'mlkem768x25519-sha256' as KexAlgorithm,
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
  ],
  cipher: [
    'chacha20-poly1305@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-gcm@openssh.com',
    'aes256-ctr',
    'aes192-ctr',
    'aes128-ctr',
  ],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  serverHostKey: ['ssh-ed25519'],
  compress: ['none'],
};

/**
 * ssh2's `hostKeys` for the mediator's host key. With a host certificate the
 * entry carries it (patches/ssh2-openssh-host-certificates.patch): ssh2 then
 * offers ssh-ed25519-cert-v01@openssh.com ahead of ssh-ed25519 and sends the
 * certificate as the host key when the client picks it, which OpenSSH does
 * by default. ssh2 refuses a certificate that is not a host certificate of
 * this key at construction.
 */
export function ssh2HostKeys(hostKey: HostKey): (EncryptedPrivateKey | string)[] {
  if (hostKey.certificate === undefined) return [hostKey.privateKey];
  const entry: EncryptedPrivateKey & { certificate: string } = {
    key: hostKey.privateKey,
    certificate: hostKey.certificate,
  };
  return [entry];
}
