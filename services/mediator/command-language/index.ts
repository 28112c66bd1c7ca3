/**
 * The mediator's side of the command language: help, tab completion,
 * terminal-safe text output and the SSH exit statuses. The words themselves
 * (splitting, the command table, parsing, sanitising) are shared with the
 * executor and live in services/core/command-language/. Pure functions
 * only; see README.md.
 */
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
