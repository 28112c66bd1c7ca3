/**
 * Options and positionals of one command of the command language: the flag
 * parser (a flag given twice is an error, never last-wins), the output
 * format, and the USAGE error every parser throws.
 */
import { AirlockError } from '../errors.js';
import type { OutputFormat } from './command-types.js';
import { COMMAND_SPECS, type CommandName, type FlagSpec, OUTPUT_FLAG } from './commands.js';
import { sanitizeForTerminal } from './sanitize.js';

/** User input quoted for an error message, after sanitizing it for the terminal. */
export const q = (text: string) => `'${sanitizeForTerminal(text)}'`;

/** AirlockError('USAGE') whose message ends with the command's `usage:` line. */
export function usageError(command: CommandName | undefined, problem: string): AirlockError {
  const hint =
    command === undefined ? "type 'help' for the commands" : `usage: ${COMMAND_SPECS[command].usage}`;
  return new AirlockError('USAGE', `${problem}\n${hint}`);
}

/**
 * ssh reads a `-o` before the remote command as its own option
 * (`ssh gw -o json pods` fails in ssh: no argument after keyword "json"),
 * so over ssh the output flag goes after the command name.
 */
export const OUTPUT_FLAG_HINT =
  'over ssh, put it after the command (ssh gw pods -o json), or the whole command after -- ' +
  '(ssh gw -- --output json pods): ssh takes a -o before the command as its own option';

export interface ParsedArgs {
  positionals: string[];
  values: Map<string, string | true>;
  /** The words after `--`; undefined when there was no `--`. */
  argv: string[] | undefined;
}

function findFlag(flags: readonly FlagSpec[], name: string): FlagSpec | undefined {
  return flags.find((f) => f.names.includes(name));
}

/**
 * Parses options and positionals. Long flags take `--name value` or
 * `--name=value`, short flags `-c value`; a flag given twice is an error
 * rather than last-wins, so a typo cannot silently change the target.
 */
export function parseArgs(
  command: CommandName | undefined,
  args: readonly string[],
  flags: readonly FlagSpec[],
): ParsedArgs {
  const positionals: string[] = [];
  const values = new Map<string, string | true>();
  let argv: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      argv = args.slice(i + 1);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const spec = findFlag(flags, name);
    if (spec === undefined) {
      throw usageError(
        command,
        command === undefined ? `unknown flag ${q(name)}` : `${command}: unknown flag ${q(name)}`,
      );
    }
    const shown = spec.names.join('/');
    if (values.has(spec.key)) throw usageError(command, `flag ${shown} given more than once`);
    if (!spec.takesValue) {
      if (eq !== -1) throw usageError(command, `flag ${q(name)} takes no value`);
      values.set(spec.key, true);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      value = args[i + 1];
      if (value === '--') value = undefined;
      if (value !== undefined) i++;
    }
    if (value === undefined || value === '') {
      const hint = spec === OUTPUT_FLAG ? ` (json or text; ${OUTPUT_FLAG_HINT})` : '';
      throw usageError(command, `flag ${q(name)} needs a value${hint}`);
    }
    values.set(spec.key, value);
  }
  return { positionals, values, argv };
}

export function parseOutput(
  command: CommandName | undefined,
  value: string | true | undefined,
): OutputFormat {
  if (value === undefined) return 'text';
  if (value === 'text' || value === 'json') return value;
  throw usageError(
    command,
    `invalid output format ${q(String(value))}: use json or text (${OUTPUT_FLAG_HINT})`,
  );
}

/** The string value of a flag; undefined when absent (or a flag without a value). */
export function str(values: Map<string, string | true>, key: string): string | undefined {
  const v = values.get(key);
  return typeof v === 'string' ? v : undefined;
}
