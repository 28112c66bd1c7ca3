/**
 * The numbers of the OpenSSH KRL format (PROTOCOL.krl), for the reader
 * (revocation.ts) and the writer (krl-writer.ts): `import * as KRL`.
 */

/** PROTOCOL.krl: `#define KRL_MAGIC 0x5353484b524c0a00ULL` ("SSHKRL\n\0"). */
export const MAGIC = 0x5353484b524c0a00n;
export const FORMAT_VERSION = 1;

export const SECTION_CERTIFICATES = 1;
export const SECTION_EXPLICIT_KEY = 2;
export const SECTION_FINGERPRINT_SHA1 = 3;
export const SECTION_SIGNATURE = 4;
export const SECTION_FINGERPRINT_SHA256 = 5;

export const SECTION_CERT_SERIAL_LIST = 0x20;
export const SECTION_CERT_SERIAL_RANGE = 0x21;
export const SECTION_CERT_SERIAL_BITMAP = 0x22;
export const SECTION_CERT_KEY_ID = 0x23;
