import { expect } from 'vitest';
import { AirlockError } from '../errors.js';
import { COMMAND_SPECS, type CommandName } from './commands.js';
import { type Command, parseCommand } from './parse-command.js';
import { splitCommandLine } from './split-command-line.js';

/*
 * What the parse-command*.test.ts files share: parsing a line with the test defaults, and the USAGE message a line gets.
 */

export const defaults = { namespace: 'default' };
export const parse = (line: string): Command => parseCommand(splitCommandLine(line), defaults);

export function usageError(line: string): string {
  try {
    parse(line);
  } catch (error) {
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe('USAGE');
    return (error as AirlockError).message;
  }
  throw new Error(`expected ${JSON.stringify(line)} to be refused`);
}

export const usage = (command: CommandName) => `usage: ${COMMAND_SPECS[command].usage}`;

export const OUTPUT_HINT =
  'over ssh, put it after the command (ssh gw pods -o json), or the whole command after -- (ssh gw -- --output json pods): ssh takes a -o before the command as its own option';
