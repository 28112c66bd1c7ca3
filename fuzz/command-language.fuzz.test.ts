/**
 * Fuzz target: the mediator's command line, from the SSH exec request's
 * bytes to a Command (splitCommandLine, then parseCommand). Whatever a
 * client sends, the result is a Command or an AirlockError the user sees as
 * `airlock: CODE: reason` — never another exception, which would end the
 * channel without a clear error. Inputs are random lines over the shell's
 * special characters, real command lines from docs/commands.md with
 * mutations, and arbitrary Unicode.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../services/core/command-language/parse-command.js';
import { splitCommandLine } from '../services/core/command-language/split-command-line.js';
import { AirlockError } from '../services/core/errors.js';
import { fuzz } from './fuzz-runs.js';
import { mutatedBytes } from './mutate.js';

const EXAMPLES = [
  'pods -n payments',
  'get deploy -o json',
  'logs payments/api-0 -c app -f --since 10m',
  'exec payments/api-0 -- ps aux',
  'exec api-0 -t -- top',
  'shell payments/api-0',
  'debug payments/api-0 --image busybox:1.36 --target app -t -- sh',
  'whoami',
  'exec api-0 -- sh -c \'echo "$HOME"\' \\; x',
  'logs api-0 --tail=10000000 --since 1h30m --timestamps',
  'help exec',
];

const SHELL_ALPHABET = fc.constantFrom(
  ...' \t\n\\\'"|&;<>$`*~#\0aZ9-=é/.:'.split(''),
  '--',
  ' -- ',
  '-o',
  'json',
  'exec',
  'logs',
  '-f',
  '\u202e',
  '\x1b[2J',
);

describe('fuzz: the mediator command language', () => {
  it('splitCommandLine then parseCommand: a Command or an AirlockError, nothing else', async () => {
    const line = fc.oneof(
      fc.array(SHELL_ALPHABET, { maxLength: 40 }).map((parts) => parts.join('')),
      mutatedBytes(EXAMPLES.map((e) => Buffer.from(e))).map((b) => b.toString('utf8')),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
    );
    await fuzz(
      'splitCommandLine+parseCommand',
      fc.property(line, (text) => {
        try {
          const argv = splitCommandLine(text);
          expect(Array.isArray(argv)).toBe(true);
          const command = parseCommand(argv, { namespace: 'payments' });
          expect(typeof command.kind).toBe('string');
        } catch (error) {
          if (!(error instanceof AirlockError)) throw error;
        }
      }),
      4,
    );
  });
});
