/**
 * splitCommandLine: POSIX quoting without any expansion, and a USAGE error
 * naming the problem and its column for everything a shell would have done
 * differently.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AirlockError, isAirlockError } from '../errors.js';
import { MAX_COMMAND_LINE_BYTES, splitCommandLine } from './split-command-line.js';

function usageMessage(line: string): string {
  try {
    splitCommandLine(line);
  } catch (error) {
    expect(isAirlockError(error, 'USAGE')).toBe(true);
    return (error as AirlockError).message;
  }
  throw new Error(`expected ${JSON.stringify(line)} to be refused`);
}

describe('splitCommandLine', () => {
  it.each<[string, string, string[]]>([
    ['empty line', '', []],
    ['blanks only', ' \t  ', []],
    ['plain words', 'logs api-0 --tail 10', ['logs', 'api-0', '--tail', '10']],
    ['runs of blanks and tabs', '  a \t b  ', ['a', 'b']],
    ['trailing newline and CR', 'whoami\r\n', ['whoami']],
    ['single quotes keep everything', `'a "b" \\c $d'`, ['a "b" \\c $d']],
    ['double quotes keep blanks', '"a  b"', ['a  b']],
    ['double-quote escapes', '"\\" \\\\ \\$ \\`"', ['" \\ $ `']],
    ['other backslashes inside double quotes stay', '"\\n \\q \\\'"', ["\\n \\q \\'"]],
    ['backslash outside quotes', 'a\\ b \\"c \\\'d \\\\', ['a b', '"c', "'d", '\\']],
    ['adjacent parts join', `a"b"'c'd`, ['abcd']],
    ['empty single quotes are a word', "exec p -- echo ''", ['exec', 'p', '--', 'echo', '']],
    ['empty double quotes are a word', 'a "" b', ['a', '', 'b']],
    ['empty quotes joined to text vanish', "a''b", ['ab']],
    ['backslash-newline continues', 'a\\\nb c', ['ab', 'c']],
    ['backslash-newline between words', 'a \\\n b', ['a', 'b']],
    ['backslash-newline inside double quotes', '"a\\\nb"', ['ab']],
    ['newline inside quotes is kept', "'a\nb'", ['a\nb']],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${PATH} is what this case proves
    ['$VAR stays literal', 'echo $HOME ${PATH}', ['echo', '$HOME', '${PATH}']],
    ['$VAR in double quotes stays literal', '"$HOME"', ['$HOME']],
    ['globs stay literal', 'ls * ?.txt [ab]', ['ls', '*', '?.txt', '[ab]']],
    ['tilde stays literal', 'ls ~ ~root/x', ['ls', '~', '~root/x']],
    ['backticks stay literal', 'echo `id` "`id`"', ['echo', '`id`', '`id`']],
    ['command substitution stays literal', 'echo $(id) "$(id)"', ['echo', '$(id)', '$(id)']],
    ['hash is not a comment', 'echo # not a comment', ['echo', '#', 'not', 'a', 'comment']],
    ['quoted operators are ordinary', `grep 'a|b' "x;y" \\> '&&'`, ['grep', 'a|b', 'x;y', '>', '&&']],
    ['escaped operator is ordinary', 'a\\|b \\;', ['a|b', ';']],
    ['unicode passes through', 'echo "héllo wörld" ✓', ['echo', 'héllo wörld', '✓']],
  ])('%s', (_name, line, words) => {
    expect(splitCommandLine(line)).toEqual(words);
  });

  const NO_SHELL = "quote it or use exec -- sh -c '...' if your profile allows";
  it.each<[string, string, string]>([
    ['unterminated single quote', "echo 'abc", 'unterminated single quote starting at column 6'],
    ['unterminated double quote', 'echo "abc', 'unterminated double quote starting at column 6'],
    ['double quote ending in a backslash', 'a "b\\', 'unterminated double quote starting at column 3'],
    ['trailing backslash', 'echo a\\', 'trailing backslash at column 7: nothing to escape'],
    ['NUL byte', 'echo a\0b', 'NUL byte at column 7'],
    ['pipe', 'exec p -- ps aux | grep x', `no shell here: '|' at column 18 is a shell operator; ${NO_SHELL}`],
    ['pipe inside a word', 'ps aux|grep', `no shell here: '|' at column 7 is a shell operator; ${NO_SHELL}`],
    ['semicolon', 'whoami; pods', `no shell here: ';' at column 7 is a shell operator; ${NO_SHELL}`],
    ['and-and', 'a && b', `no shell here: '&&' at column 3 is a shell operator; ${NO_SHELL}`],
    ['background', 'a &', `no shell here: '&' at column 3 is a shell operator; ${NO_SHELL}`],
    ['redirect out', 'a > f', `no shell here: '>' at column 3 is a shell operator; ${NO_SHELL}`],
    ['append', 'a >> f', `no shell here: '>>' at column 3 is a shell operator; ${NO_SHELL}`],
    ['redirect in', 'a < f', `no shell here: '<' at column 3 is a shell operator; ${NO_SHELL}`],
    ['fd redirect', 'a 2>&1', `no shell here: '>&' at column 4 is a shell operator; ${NO_SHELL}`],
    [
      'newline between commands',
      'whoami\npods',
      `no shell here: '\\n' at column 7 is a shell operator; ${NO_SHELL}`,
    ],
  ])('refuses %s', (_name, line, message) => {
    expect(usageMessage(line)).toBe(message);
  });

  it('refuses lines over 64 KiB, counted in UTF-8 bytes', () => {
    expect(splitCommandLine('a'.repeat(MAX_COMMAND_LINE_BYTES))).toHaveLength(1);
    expect(usageMessage('a'.repeat(MAX_COMMAND_LINE_BYTES + 1))).toBe(
      'command line too long: 65537 bytes, at most 65536',
    );
    expect(usageMessage('é'.repeat(MAX_COMMAND_LINE_BYTES / 2 + 1))).toBe(
      'command line too long: 65538 bytes, at most 65536',
    );
  });

  it('round-trips any words quoted with single quotes', () => {
    const word = fc.string({ unit: 'binary', maxLength: 20 }).filter((w) => !w.includes('\0'));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 10 }), (words) => {
        const line = words.map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(' ');
        expect(splitCommandLine(line)).toEqual(words);
      }),
      { numRuns: 2000 },
    );
  });

  it('throws nothing but a USAGE AirlockError for any input', () => {
    const alphabet = fc.constantFrom(...' \t\n\\\'"|&;<>$`*~#\0aZ9-=é'.split(''));
    const input = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ unit: alphabet, maxLength: 60 }),
    );
    fc.assert(
      fc.property(input, (line) => {
        try {
          const words = splitCommandLine(line);
          expect(Array.isArray(words)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(AirlockError);
          expect((error as AirlockError).code).toBe('USAGE');
        }
      }),
      { numRuns: 5000 },
    );
  });
});
