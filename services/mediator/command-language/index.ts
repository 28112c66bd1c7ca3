/**
 * The mediator's command language: splitting a typed line into words,
 * parsing words into a typed Command, help, tab completion, terminal-safe
 * text output and the SSH exit statuses. Pure functions only; see README.md.
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
export { completeCommandLine } from './complete-command-line.js';
export { EXIT_CODES, type ExitCode, exitCodeFor, formatError } from './exit-codes.js';
export {
  type EpochMillis,
  type EventJson,
  type EventListJson,
  formatAge,
  formatEventTable,
  formatPodTable,
  formatTable,
  formatTimeLeft,
  formatWhoami,
  type PodJson,
  type PodListJson,
  type WhoamiJson,
} from './format-output.js';
export { formatPodDescription, formatResourceTable } from './format-resources.js';
export { formatYaml } from './format-yaml.js';
export { FORWARD_EXPLANATION, helpText } from './help-text.js';
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
