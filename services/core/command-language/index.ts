/**
 * The words of airlock's command language, shared by both tiers: the
 * mediator runs what a user types, the executor checks a certificate's
 * `force-command` against the calls that command makes. Splitting a line
 * into words (POSIX quoting, no expansion), the command table, parsing words
 * into a typed Command, and terminal-safe text. Pure functions only; the
 * mediator's side (help, completion, output, exit statuses) lives in
 * services/mediator/command-language/.
 */
export {
  COMMAND_ALIASES,
  COMMAND_NAMES,
  COMMAND_SPECS,
  type CommandName,
  type CommandSpec,
  type FlagSpec,
  RESOURCE_ALIASES,
  RESOURCE_KINDS,
  type ResourceKind,
  resolveCommandName,
} from './commands.js';
export {
  type Command,
  type OutputFormat,
  type ParseDefaults,
  type PodTarget,
  parseCommand,
  requestedOutputFormat,
} from './parse-command.js';
export { jsonForTerminal, sanitizeForTerminal } from './sanitize.js';
export { MAX_COMMAND_LINE_BYTES, splitCommandLine } from './split-command-line.js';
