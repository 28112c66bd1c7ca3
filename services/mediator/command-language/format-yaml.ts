/**
 * YAML for one Kubernetes object, as `kubectl get -o yaml` shows it: block
 * mappings, sequences at their key's indentation, plain scalars where that
 * is unambiguous and double-quoted ones everywhere else. Pure; the input is
 * a JSON value (what JSON.parse returns), so there are no cycles, no
 * undefined and no non-finite numbers.
 *
 * Quoting is decided conservatively so that the text reads back as the same
 * value under both YAML 1.2 (core schema) and YAML 1.1, which go-yaml and
 * many tools still follow: a string is plain only when it starts with a
 * letter, holds nothing but letters, digits, space and `._/@+-:` (a colon
 * not followed by a space or the end), does not end in a space and is not
 * one of YAML 1.1's booleans or null (`yes`, `off`, `y`, `null`, any case).
 * Everything else (numbers as strings, timestamps, empty strings, anything
 * with `#`, quotes or control characters) is double-quoted with JSON
 * escapes, which YAML's double-quoted style shares (YAML 1.2.2 §5.7), plus
 * `\xNN`/`\uNNNN` for DEL, C1 controls, NEL, the line and paragraph
 * separators, bidi controls and the byte-order mark. The output is
 * therefore printable text that a terminal does not interpret.
 */

const PLAIN = /^[A-Za-z][A-Za-z0-9 ._/@+:-]*$/;
/** YAML 1.1 bool and null forms (yaml.org/type/bool.html, null.html); compared lower-cased. */
const RESERVED = new Set(['y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off', 'null']);
/** Characters JSON.stringify leaves as they are but a YAML reader or a terminal would not. */
const EXTRA_ESCAPES = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

function isPlainSafe(text: string): boolean {
  return (
    PLAIN.test(text) &&
    !text.endsWith(' ') &&
    !text.endsWith(':') &&
    !text.includes(': ') &&
    !RESERVED.has(text.toLowerCase())
  );
}

function quoted(text: string): string {
  return JSON.stringify(text).replace(EXTRA_ESCAPES, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** One scalar (or an empty collection) as YAML flow text. */
function scalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'string') return isPlainSafe(value) ? value : quoted(value);
  if (Array.isArray(value)) return '[]';
  return '{}';
}

function isBlock(value: unknown): value is object {
  if (Array.isArray(value)) return value.length > 0;
  return typeof value === 'object' && value !== null && Object.keys(value).length > 0;
}

/** The lines of a non-empty mapping or sequence, each starting with `indent`. */
function blockLines(value: object, indent: string): string[] {
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!isBlock(item)) {
        lines.push(`${indent}- ${scalar(item)}`);
        continue;
      }
      // The item's first line moves up beside the dash; the rest keep the deeper indent.
      const inner = blockLines(item, `${indent}  `);
      lines.push(`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1));
    }
    return lines;
  }
  for (const [key, child] of Object.entries(value)) {
    const name = scalar(key);
    if (!isBlock(child)) lines.push(`${indent}${name}: ${scalar(child)}`);
    else {
      lines.push(`${indent}${name}:`);
      // kubectl's style: a sequence sits at its key's indentation, a mapping one level deeper.
      lines.push(...blockLines(child, Array.isArray(child) ? indent : `${indent}  `));
    }
  }
  return lines;
}

/** A JSON value as a YAML document (no `---`), ending in a newline. */
export function formatYaml(value: unknown): string {
  return isBlock(value) ? `${blockLines(value, '').join('\n')}\n` : `${scalar(value)}\n`;
}
