import type { Algorithms } from 'ssh2';

/**
 * The only algorithms the mediator speaks. Modern key exchange (curve25519,
 * NIST ECDH), AEAD or CTR ciphers, encrypt-then-MAC SHA-2 MACs, no
 * compression, and an ed25519 host key. A client that offers only CBC
 * ciphers, SHA-1 MACs or SHA-1 key exchange fails the handshake.
 */
export const HARDENED_ALGORITHMS: Algorithms = {
  kex: [
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
