/**
 * Canonical JSON for hashing and for the stored lines themselves: object keys
 * sorted recursively by UTF-16 code units (as RFC 8785 sorts them), no
 * whitespace, numbers and strings as `JSON.stringify` writes them.
 *
 * Each record is written exactly as its canonical JSON, so the verifier can
 * demand byte equality between a line and the canonical form of what it
 * parses to: a non-canonical but equivalent line (`\u001B` for `\u001b`, a
 * trailing space, a duplicated key) is tampering too.
 *
 * Beyond what JSON requires, characters a terminal or editor may interpret
 * are escaped as `\uXXXX` so that `cat`/`less` on a trail is safe: JSON
 * already escapes C0 controls (ESC becomes `\u001b`); we also escape DEL and
 * the C1 controls (U+0080–U+009F, which include the 8-bit CSI U+009B), the
 * line/paragraph separators and the bidirectional overrides used by "Trojan
 * Source" (CVE-2021-42574).
 */
import { createHash } from 'node:crypto';

const EXTRA_ESCAPES = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** Canonical JSON text of a JSON-compatible value. Throws TypeError for BigInt or cycles. */
export function canonicalJson(value: unknown): string {
  // Round-trip first so toJSON, undefined members and non-finite numbers
  // behave exactly as JSON.stringify defines, then sort.
  const plain: unknown = JSON.parse(JSON.stringify(value) ?? 'null');
  return JSON.stringify(sortKeys(plain)).replace(
    EXTRA_ESCAPES,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Hex SHA-256 of a UTF-8 string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
