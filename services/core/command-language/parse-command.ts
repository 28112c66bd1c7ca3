/**
 * The mediator's command language: argv (from splitCommandLine, or the words
 * of `ssh gw <command>`) to a typed Command the mediator turns into an
 * executor RPC. Pure; every problem is an AirlockError('USAGE') whose message
 * ends with a `usage:` line for the command concerned.
 *
 * This file reads the command name and its flags; parse-args.ts parses
 * flags, object-names.ts checks Kubernetes names, command-parsers.ts turns
 * each command's arguments into its Command.
 */
import { parseCommandArguments } from './command-parsers.js';
import { COMMAND_SPECS, HELP_FLAG, OUTPUT_FLAG, resolveCommandName, suggestCommandName } from './commands.js';
import { OUTPUT_FLAG_HINT, parseArgs, parseOutput, q, usageError } from './parse-args.js';

export { OUTPUT_FLAG_HINT } from './parse-args.js';

import type { Command, OutputFormat, ParseDefaults } from './command-types.js';

export type { Command, OutputFormat, ParseDefaults, PodTarget } from './command-types.js';

/** `unknown command 'podz'; did you mean 'pods'?` */
function unknownCommand(word: string): string {
  const meant = suggestCommandName(word);
  if (word === 'json' || word === 'text') return `unknown command ${q(word)}: ${OUTPUT_FLAG_HINT}`;
  return `unknown command ${q(word)}${meant === undefined ? '' : `; did you mean '${meant}'?`}`;
}

/**
 * The words before the command name: global flags only (--output and
 * --help), with the value word that follows `-o`/`--output`. `start` is the
 * index of the command name (or of `--`, or argv.length).
 */
function leadingGlobalFlags(argv: readonly string[]): { leading: string[]; start: number } {
  let start = 0;
  const leading: string[] = [];
  while (start < argv.length && argv[start]!.startsWith('-') && argv[start] !== '--') {
    const arg = argv[start]!;
    leading.push(arg);
    start++;
    const takesNext = arg === '-o' || arg === '--output';
    if (takesNext && start < argv.length) leading.push(argv[start++]!);
  }
  return { leading, start };
}

/**
 * Parses one command. `argv` is the whole command line as words, the command
 * name first; the global `-o/--output json|text` may appear anywhere before
 * `--`, including before the command name.
 */
export function parseCommand(argv: readonly string[], defaults: ParseDefaults): Command {
  const { leading, start } = leadingGlobalFlags(argv);
  const pre = parseArgs(undefined, leading, [OUTPUT_FLAG, HELP_FLAG]);
  const word = argv[start];
  if (word === undefined || word === '--') {
    if (pre.values.has('help'))
      return { kind: 'help', output: parseOutput(undefined, pre.values.get('output')) };
    throw usageError(
      undefined,
      word === undefined ? 'no command given' : "unexpected '--' before the command",
    );
  }
  const command = resolveCommandName(word);
  if (command === undefined) throw usageError(undefined, unknownCommand(word));
  const spec = COMMAND_SPECS[command];

  const {
    positionals,
    values,
    argv: rest,
  } = parseArgs(command, argv.slice(start + 1), [...spec.flags, OUTPUT_FLAG, HELP_FLAG]);
  if (pre.values.has('output') && values.has('output')) {
    throw usageError(command, 'flag -o/--output given more than once');
  }
  const output = parseOutput(command, values.get('output') ?? pre.values.get('output'));
  if (values.has('help') || pre.values.has('help')) return { kind: 'help', topic: command, output };
  if (rest !== undefined && !spec.takesArgv) {
    throw usageError(command, `${command}: '--' is only for exec and debug`);
  }

  return parseCommandArguments(command, positionals, values, rest, defaults, output);
}

/**
 * The output format `argv` asks for, read leniently: for formatting the
 * USAGE error of an argv that parseCommand refused, so `ssh gw logs -o json`
 * still gets its error as JSON. Text unless a well-formed `-o json`,
 * `--output json` or `--output=json` comes before any `--`.
 */
export function requestedOutputFormat(argv: readonly string[]): OutputFormat {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '--output=json') return 'json';
    if ((arg === '-o' || arg === '--output') && argv[i + 1] === 'json') return 'json';
  }
  return 'text';
}
