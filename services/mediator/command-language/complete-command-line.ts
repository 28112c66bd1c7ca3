/**
 * Tab completion for the interactive session. Pure: the line, the cursor and
 * the pod names the caller knows in; candidate words out.
 */
import {
  COMMAND_ALIASES,
  COMMAND_NAMES,
  COMMAND_SPECS,
  type CommandName,
  type FlagSpec,
  HELP_FLAG,
  OUTPUT_FLAG,
  RESOURCE_ALIASES,
  RESOURCE_KINDS,
  resolveCommandName,
} from '../../core/command-language/commands.js';
import { splitCommandLine } from '../../core/command-language/split-command-line.js';

/** Commands whose first positional is a pod. */
const POD_COMMANDS: ReadonlySet<CommandName> = new Set(['describe', 'logs', 'exec', 'shell', 'debug']);
const GLOBAL_FLAGS: readonly FlagSpec[] = [OUTPUT_FLAG, HELP_FLAG];

/** What a joined moderator or observer may type (live/join-commands.ts). */
const JOINED_WORDS = { moderator: ['y', 'n', 'terminate', 'leave'], observer: ['leave'] } as const;

/** What the prompt knows beyond the command language: four-eyes sessions (live/join-commands.ts). */
export interface PromptCompletion {
  /** The certificate carries a moderator role: `sessions` and `join` are offered, `join` with these ids. */
  readonly sessionIds?: () => readonly string[];
  /** Joined to a live session: only the join's own words are offered. */
  readonly joined?: 'moderator' | 'observer';
}

function matching(candidates: Iterable<string>, prefix: string): string[] {
  return [...new Set([...candidates].filter((c) => c.startsWith(prefix)))].sort();
}

function podCandidates(podNames: readonly string[], prefix: string): string[] {
  const slash = prefix.indexOf('/');
  const namespace = slash === -1 ? undefined : prefix.slice(0, slash);
  const candidates = podNames.flatMap((name) =>
    name.includes('/') || namespace === undefined ? [name] : [name, `${namespace}/${name}`],
  );
  return matching(candidates, prefix);
}

function flagTakingValue(flags: readonly FlagSpec[], word: string): FlagSpec | undefined {
  return word.startsWith('-') && !word.includes('=')
    ? flags.find((f) => f.takesValue && f.names.includes(word))
    : undefined;
}

/**
 * The words that could replace the word under the cursor (the text from the
 * last unquoted blank before `cursor` up to `cursor`), sorted. Completes
 * command names (and `help` topics), each command's flags, `-o` values,
 * `get` kinds, and pods: `podNames` entries are either bare names, offered
 * as they are and under a namespace the user has typed (`payments/` +
 * `api-0`), or `ns/pod`, offered whole. Nothing is offered after `--`, for a
 * flag's free-form value, or while a quote is open. With `prompt.sessionIds`
 * (a moderator certificate) also `sessions` and `join SESSION_ID`; while
 * `prompt.joined`, only the join's words (`y`, `n`, `terminate`, `leave`;
 * an observer's `leave`).
 */
export function completeCommandLine(
  line: string,
  cursor: number,
  podNames: readonly string[],
  prompt: PromptCompletion = {},
): string[] {
  const before = line.slice(0, Math.max(0, Math.min(cursor, line.length)));
  let words: string[];
  try {
    words = splitCommandLine(before);
  } catch {
    return [];
  }
  const atNewWord = before === '' || (/[ \t]$/.test(before) && !/\\[ \t]$/.test(before));
  const prefix = atNewWord ? '' : (words.pop() ?? '');
  if (prompt.joined) return words.length === 0 ? matching(JOINED_WORDS[prompt.joined], prefix) : [];
  const joinWords = prompt.sessionIds ? ['sessions', 'join'] : [];
  if (joinWords.includes(words[0] ?? ''))
    return words[0] === 'join' && words.length === 1 ? matching(prompt.sessionIds!(), prefix) : [];

  // Leading global flags before the command name.
  let i = 0;
  while (i < words.length && words[i]!.startsWith('-')) {
    i += flagTakingValue(GLOBAL_FLAGS, words[i]!) === undefined ? 1 : 2;
  }
  const commandWord = words[i];
  if (commandWord === undefined) {
    if (i > words.length) return matching(['json', 'text'], prefix);
    if (prefix.startsWith('-'))
      return matching(
        GLOBAL_FLAGS.flatMap((f) => f.names),
        prefix,
      );
    return matching(
      [...COMMAND_NAMES, ...Object.keys(COMMAND_ALIASES), ...(i === 0 ? joinWords : [])],
      prefix,
    );
  }
  const command = resolveCommandName(commandWord);
  if (command === undefined) return [];
  const spec = COMMAND_SPECS[command];
  const flags = [...spec.flags, ...GLOBAL_FLAGS];

  const positionals: string[] = [];
  let pendingFlag: FlagSpec | undefined;
  for (const word of words.slice(i + 1)) {
    if (pendingFlag !== undefined) {
      pendingFlag = undefined;
    } else if (word === '--') {
      return [];
    } else if (word.startsWith('-') && word !== '-') {
      pendingFlag = flagTakingValue(flags, word);
    } else {
      positionals.push(word);
    }
  }
  if (pendingFlag !== undefined) return pendingFlag === OUTPUT_FLAG ? matching(['json', 'text'], prefix) : [];
  if (prefix.startsWith('-')) {
    return matching([...flags.flatMap((f) => f.names), ...(spec.takesArgv ? ['--'] : [])], prefix);
  }

  const position = positionals.length;
  if (POD_COMMANDS.has(command)) return position === 0 ? podCandidates(podNames, prefix) : [];
  if (command === 'help')
    return position === 0 ? matching([...COMMAND_NAMES, ...Object.keys(COMMAND_ALIASES)], prefix) : [];
  if (command === 'get') {
    if (position === 0) {
      const kinds = matching(RESOURCE_KINDS, prefix);
      return kinds.length > 0 ? kinds : matching(Object.keys(RESOURCE_ALIASES), prefix);
    }
    const kind = positionals[0] ?? '';
    const isPods = kind === 'pods' || RESOURCE_ALIASES[kind] === 'pods';
    return position === 1 && isPods ? podCandidates(podNames, prefix) : [];
  }
  return [];
}
