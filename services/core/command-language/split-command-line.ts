/**
 * POSIX shell-word splitting of one command line, without a shell.
 *
 * Quoting follows POSIX.1-2017 XCU 2.2 (Quoting): a backslash outside quotes
 * preserves the next character; single quotes preserve everything up to the
 * next single quote; inside double quotes a backslash escapes only `$`, `` ` ``,
 * `"`, `\` and newline and is kept literally before anything else; a
 * backslash-newline pair is removed (line continuation) outside single
 * quotes. Adjacent quoted and unquoted parts form one word, and `''` / `""`
 * are kept as empty words.
 *
 * Nothing is ever expanded: `$VAR`, `$(...)`, backticks, `*`, `?`, `[`, `~`
 * and `#` are ordinary characters. The words are an argv for the executor
 * and are never joined into a string for a shell.
 *
 * Because there is no shell, the control and redirection operators a user
 * might expect to work (`|`, `;`, `&`, `&&`, `>`, `<`, `2>&1`, and a newline
 * between words) are refused when unquoted, anywhere on the line, including
 * after `--` and inside a word (`aux|grep`): in a shell they would split the
 * command, so passing them on literally would run something other than what
 * was typed. Quoted, they are ordinary characters (`grep 'a|b'`).
 */
import { AirlockError } from '../errors.js';
import { sanitizeForTerminal } from './sanitize.js';

/** Longest accepted command line, in UTF-8 bytes. */
export const MAX_COMMAND_LINE_BYTES = 64 * 1024;

const OPERATOR_CHARS = new Set(['|', '&', ';', '<', '>']);
const BLANKS = new Set([' ', '\t', '\r']);
const DOUBLE_QUOTE_ESCAPABLE = new Set(['$', '`', '"', '\\']);

function usage(message: string): AirlockError {
  return new AirlockError('USAGE', message);
}

function noShell(operator: string, column: number): AirlockError {
  return usage(
    `no shell here: '${sanitizeForTerminal(operator)}' at column ${column} is a shell operator; ` +
      `quote it or use exec -- sh -c '...' if your profile allows`,
  );
}

/**
 * The text of the double-quoted part that opens at `open` (POSIX XCU 2.2.3):
 * a backslash escapes only `$`, `` ` ``, `"`, `\` and newline (backslash-newline
 * is removed) and is kept before anything else. `next` is the index after
 * the closing quote.
 */
function readDoubleQuoted(line: string, open: number): { text: string; next: number } {
  let text = '';
  let i = open + 1;
  for (;;) {
    const c = line[i];
    if (c === undefined) throw usage(`unterminated double quote starting at column ${open + 1}`);
    if (c === '"') return { text, next: i + 1 };
    if (c === '\\') {
      const next = line[i + 1];
      if (next === undefined) throw usage(`unterminated double quote starting at column ${open + 1}`);
      if (next === '\n') {
        // continuation: both characters removed
      } else if (DOUBLE_QUOTE_ESCAPABLE.has(next)) {
        text += next;
      } else {
        text += c + next;
      }
      i += 2;
      continue;
    }
    text += c;
    i++;
  }
}

/**
 * Splits `line` into words. Throws AirlockError('USAGE') for an unbalanced
 * quote, a trailing lone backslash, a NUL byte, an unquoted shell operator or
 * a line longer than {@link MAX_COMMAND_LINE_BYTES}. Columns in messages are
 * 1-based UTF-16 positions.
 */
export function splitCommandLine(line: string): string[] {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > MAX_COMMAND_LINE_BYTES) {
    throw usage(`command line too long: ${bytes} bytes, at most ${MAX_COMMAND_LINE_BYTES}`);
  }
  const nul = line.indexOf('\0');
  if (nul !== -1) throw usage(`NUL byte at column ${nul + 1}`);

  const words: string[] = [];
  let word = '';
  // A word exists once any part of it (even an empty quoted string) was seen.
  let inWord = false;
  let i = 0;
  const end = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };

  while (i < line.length) {
    const ch = line[i]!;
    if (BLANKS.has(ch)) {
      end();
      i++;
    } else if (ch === '\n') {
      // An unquoted newline separates commands in a shell; only trailing ones are harmless.
      if (line.slice(i).trim() !== '') throw noShell('\\n', i + 1);
      end();
      i++;
    } else if (ch === '\\') {
      const next = line[i + 1];
      if (next === undefined) throw usage(`trailing backslash at column ${i + 1}: nothing to escape`);
      if (next !== '\n') {
        word += next;
        inWord = true;
      }
      i += 2;
    } else if (ch === "'") {
      const close = line.indexOf("'", i + 1);
      if (close === -1) throw usage(`unterminated single quote starting at column ${i + 1}`);
      word += line.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (ch === '"') {
      const quoted = readDoubleQuoted(line, i);
      word += quoted.text;
      inWord = true;
      i = quoted.next;
    } else if (OPERATOR_CHARS.has(ch)) {
      let j = i;
      while (j < line.length && OPERATOR_CHARS.has(line[j]!)) j++;
      throw noShell(line.slice(i, j), i + 1);
    } else {
      word += ch;
      inWord = true;
      i++;
    }
  }
  end();
  return words;
}
