/**
 * Terminal sanitizing for any text that came from the cluster or the user
 * (pod names, event messages, error reasons) before it reaches a terminal.
 *
 * A terminal interprets C0 controls, DEL, C1 controls (U+0080–U+009F, which
 * some terminals treat as 8-bit CSI/OSC) and ESC sequences; an attacker who
 * controls an event message could otherwise retitle the window, rewrite the
 * screen or, on some emulators, inject input (CVE-2003-0063 class). Each such
 * character becomes a visible escape (`\x1b`), which neutralizes the whole
 * sequence because the rest of it is ordinary printable text. Unicode
 * bidirectional overrides and the line/paragraph separators are escaped too
 * (`\u202e`), so text cannot be visually reordered ("Trojan Source",
 * CVE-2021-42574).
 *
 * Tab is kept. Backslashes are not doubled, so the output is idempotent but a
 * literal `\x1b` in the input looks the same as an escaped ESC; the output is
 * for eyes, not for parsing back.
 */

// C0 except tab, DEL, C1; bidi embeddings/overrides/isolates, LRM/RLM/ALM, LS/PS.
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Replaces every terminal-interpreted character of `text` by a visible escape. */
export function sanitizeForTerminal(text: string): string {
  return text.replace(UNSAFE, visibleEscape);
}

/** `\\xHH` for a character up to U+00FF, else `\\uHHHH`: how an unsafe character is shown. */
export function visibleEscape(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

// JSON.stringify already escapes C0; these it leaves as they are.
const JSON_UNSAFE = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `JSON.stringify(value)`, terminal-safe: the characters JSON.stringify
 * leaves raw (DEL, C1, bidi controls, LS/PS) are written as `\uXXXX`
 * escapes, which keeps the JSON's value unchanged.
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_UNSAFE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
