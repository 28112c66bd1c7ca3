/**
 * The arguments of each command, once the command name and its flags are
 * known: which positionals it takes, how its flag values are checked, and the
 * typed Command it becomes. Every problem is a USAGE error for that command.
 */

import type { Command, OutputFormat, ParseDefaults, PodTarget } from './command-types.js';
import {
  CLUSTER_SCOPED_KINDS,
  type CommandName,
  RESOURCE_ALIASES,
  RESOURCE_KINDS,
  type ResourceKind,
  resolveCommandName,
} from './commands.js';
import { checkContainer, checkNamespace, checkObjectName, splitNamespaced } from './object-names.js';
import { q, str, usageError } from './parse-args.js';

/** Image references: registry/path:tag@digest characters only; the policy decides which are allowed. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$/;
const DURATION_PART = /(\d+)([smh])/g;
const DURATION = /^(\d+[smh])+$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;
/** The longest --since / --tail accepted: more than any retention, well inside int64. */
const MAX_SINCE_SECONDS = 10 * 365 * 24 * 3600;
const MAX_TAIL_LINES = 10_000_000;

function parseSince(value: string): number {
  if (!DURATION.test(value)) {
    throw usageError('logs', `invalid --since ${q(value)}: use a duration like 30s, 5m, 2h or 1h30m`);
  }
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(DURATION_PART)) {
    seconds += Number(amount) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  }
  if (seconds <= 0) throw usageError('logs', `invalid --since ${q(value)}: must be more than 0s`);
  if (!(seconds <= MAX_SINCE_SECONDS))
    throw usageError('logs', `invalid --since ${q(value)}: at most 87600h`);
  return seconds;
}

function parseTail(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > MAX_TAIL_LINES) {
    throw usageError('logs', `invalid --tail ${q(value)}: a number of lines from 0 to ${MAX_TAIL_LINES}`);
  }
  return Number(value);
}

function exactlyOne(command: CommandName, positionals: string[], what: string): string {
  const [first, second] = positionals;
  if (first === undefined) throw usageError(command, `${command}: missing ${what}`);
  if (second !== undefined) throw usageError(command, `${command}: unexpected argument ${q(second)}`);
  return first;
}

function none(command: CommandName, positionals: string[]): void {
  const [first] = positionals;
  if (first !== undefined) throw usageError(command, `${command}: unexpected argument ${q(first)}`);
}

/** What every command's arguments are parsed from: see {@link parseCommandArguments}. */
interface CommandArgs {
  positionals: string[];
  values: FlagValues;
  rest: string[] | undefined;
  defaults: ParseDefaults;
  output: OutputFormat;
}

function podTarget(command: CommandName, { positionals, values, defaults }: CommandArgs): PodTarget {
  const { namespace, name } = splitNamespaced(
    command,
    'pod',
    exactlyOne(command, positionals, 'pod'),
    defaults.namespace,
  );
  const container = str(values, 'container');
  return container === undefined
    ? { namespace, pod: name }
    : { namespace, pod: name, container: checkContainer(command, container) };
}

function listNamespace(command: CommandName, values: FlagValues, defaults: ParseDefaults): string {
  const ns = str(values, 'namespace');
  return ns === undefined ? defaults.namespace : checkNamespace(command, ns);
}

type FlagValues = Map<string, string | true>;

function parseLogs(args: CommandArgs): Command {
  const { values, output } = args;
  const target = podTarget('logs', args);
  const since = str(values, 'since');
  const tail = str(values, 'tail');
  return {
    kind: 'logs',
    target,
    follow: values.has('follow'),
    ...(since === undefined ? {} : { sinceSeconds: parseSince(since) }),
    ...(tail === undefined ? {} : { tailLines: parseTail(tail) }),
    timestamps: values.has('timestamps'),
    output,
  };
}

/** `exec POD -- ARGV…`: the command to run is required, after `--`. */
function parseExec(args: CommandArgs): Command {
  const { values, rest, output } = args;
  const target = podTarget('exec', args);
  if (rest === undefined) throw usageError('exec', "exec: missing '--' before the command to run");
  if (rest.length === 0) throw usageError('exec', "exec: missing the command to run after '--'");
  return { kind: 'exec', target, argv: rest, tty: values.has('tty') || values.has('stdinTty'), output };
}

/** `debug POD --image IMAGE [-- ARGV…]`: the image is required and checked for reference characters only. */
function parseDebug(args: CommandArgs): Command {
  const { values, rest, output } = args;
  const target = podTarget('debug', args);
  const image = str(values, 'image');
  if (image === undefined) throw usageError('debug', 'debug: missing --image');
  if (image.length > 4096 || !IMAGE.test(image))
    throw usageError('debug', `debug: invalid image ${q(image)}`);
  return { kind: 'debug', target, image, argv: rest ?? [], tty: values.has('tty'), output };
}

/** `help [COMMAND]`: the topic must be a known command (or alias). */
function parseHelp(positionals: string[], output: OutputFormat): Command {
  const [topicWord, extra] = positionals;
  if (extra !== undefined) throw usageError('help', `help: unexpected argument ${q(extra)}`);
  if (topicWord === undefined) return { kind: 'help', output };
  const topic = resolveCommandName(topicWord);
  if (topic === undefined) throw usageError('help', `help: unknown command ${q(topicWord)}`);
  return { kind: 'help', topic, output };
}

/**
 * The typed Command for `command`, from its positionals, flag values and the
 * words after `--` (`rest`; parseCommand has already refused `--` for
 * commands that take no argv).
 */
export function parseCommandArguments(
  command: CommandName,
  positionals: string[],
  values: FlagValues,
  rest: string[] | undefined,
  defaults: ParseDefaults,
  output: OutputFormat,
): Command {
  const args: CommandArgs = { positionals, values, rest, defaults, output };
  switch (command) {
    case 'pods':
    case 'events':
      none(command, positionals);
      return { kind: command, namespace: listNamespace(command, values, defaults), output };
    case 'get':
      return parseGet(args);
    case 'describe':
    case 'shell':
      return { kind: command, target: podTarget(command, args), output };
    case 'logs':
      return parseLogs(args);
    case 'exec':
      return parseExec(args);
    case 'debug':
      return parseDebug(args);
    case 'help':
      return parseHelp(positionals, output);
    case 'forward':
    case 'whoami':
    case 'exit':
      none(command, positionals);
      return { kind: command, output };
  }
}

/**
 * `get KIND [NAME]`: cluster-scoped kinds take no namespace; a namespaced
 * NAME may carry its own `NS/`, which must agree with an explicit -n.
 */
function parseGet({ positionals, values, defaults, output }: CommandArgs): Command {
  const [kindWord, nameWord, extra] = positionals;
  if (kindWord === undefined)
    throw usageError('get', `get: missing kind (one of ${RESOURCE_KINDS.join(', ')})`);
  const resource = (RESOURCE_KINDS as readonly string[]).includes(kindWord)
    ? (kindWord as ResourceKind)
    : Object.hasOwn(RESOURCE_ALIASES, kindWord)
      ? RESOURCE_ALIASES[kindWord]
      : undefined;
  if (resource === undefined) {
    throw usageError('get', `get: unknown kind ${q(kindWord)} (one of ${RESOURCE_KINDS.join(', ')})`);
  }
  if (extra !== undefined) throw usageError('get', `get: unexpected argument ${q(extra)}`);
  const what = resource === 'namespaces' ? 'namespace' : resource.replace(/s$/, '');
  if (CLUSTER_SCOPED_KINDS.has(resource)) {
    if (values.has('namespace')) throw usageError('get', `get: ${resource} are not namespaced; drop -n`);
    if (nameWord === undefined) return { kind: 'get', resource, namespace: '', output };
    const name =
      resource === 'namespaces' ? checkNamespace('get', nameWord) : checkObjectName('get', what, nameWord);
    return { kind: 'get', resource, name, namespace: '', output };
  }
  const namespace = listNamespace('get', values, defaults);
  if (nameWord === undefined) return { kind: 'get', resource, namespace, output };
  const split = splitNamespaced('get', what, nameWord, namespace);
  if (values.has('namespace') && nameWord.includes('/') && split.namespace !== namespace) {
    throw usageError('get', `get: -n ${q(namespace)} contradicts ${q(nameWord)}`);
  }
  return { kind: 'get', resource, name: split.name, namespace: split.namespace, output };
}
