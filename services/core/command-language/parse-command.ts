/**
 * The mediator's command language: argv (from splitCommandLine, or the words
 * of `ssh gw <command>`) to a typed Command the mediator turns into an
 * executor RPC. Pure; every problem is an AirlockError('USAGE') whose message
 * ends with a `usage:` line for the command concerned.
 *
 * Names follow Kubernetes object-name rules
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/):
 * pods, deployments, replicasets, events and nodes are RFC 1123 subdomains
 * (lowercase alphanumerics, `-` and `.`, at most 253), namespaces and
 * containers RFC 1123 labels (no `.`, at most 63).
 */
import { AirlockError } from '../errors.js';
import {
  CLUSTER_SCOPED_KINDS,
  COMMAND_SPECS,
  type CommandName,
  type FlagSpec,
  HELP_FLAG,
  OUTPUT_FLAG,
  RESOURCE_ALIASES,
  RESOURCE_KINDS,
  type ResourceKind,
  resolveCommandName,
  suggestCommandName,
} from './commands.js';
import { sanitizeForTerminal } from './sanitize.js';

export type OutputFormat = 'text' | 'json';

/** A pod (and optionally a container) as named by the user, namespace filled in. */
export interface PodTarget {
  namespace: string;
  pod: string;
  /** Absent: the executor picks the pod's default container. */
  container?: string;
}

export type Command =
  | { kind: 'pods'; namespace: string; output: OutputFormat }
  | {
      kind: 'get';
      resource: ResourceKind;
      name?: string;
      /** Empty for cluster-scoped kinds (nodes, namespaces). */
      namespace: string;
      output: OutputFormat;
    }
  | { kind: 'describe'; target: PodTarget; output: OutputFormat }
  | { kind: 'events'; namespace: string; output: OutputFormat }
  | {
      kind: 'logs';
      target: PodTarget;
      follow: boolean;
      sinceSeconds?: number;
      tailLines?: number;
      timestamps: boolean;
      output: OutputFormat;
    }
  | { kind: 'exec'; target: PodTarget; argv: string[]; tty: boolean; output: OutputFormat }
  | { kind: 'shell'; target: PodTarget; output: OutputFormat }
  | {
      kind: 'debug';
      /** `container` is the --target container whose process namespace the debug container shares. */
      target: PodTarget;
      image: string;
      /** Empty: the image's default command. */
      argv: string[];
      tty: boolean;
      output: OutputFormat;
    }
  | { kind: 'forward'; output: OutputFormat }
  | { kind: 'whoami'; output: OutputFormat }
  | { kind: 'help'; topic?: CommandName; output: OutputFormat }
  | { kind: 'exit'; output: OutputFormat };

export interface ParseDefaults {
  /** The session's namespace, used when a pod or list names none. */
  namespace: string;
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Image references: registry/path:tag@digest characters only; the policy decides which are allowed. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$/;
const DURATION_PART = /(\d+)([smh])/g;
const DURATION = /^(\d+[smh])+$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;
/** The longest --since / --tail accepted: more than any retention, well inside int64. */
const MAX_SINCE_SECONDS = 10 * 365 * 24 * 3600;
const MAX_TAIL_LINES = 10_000_000;

const q = (text: string) => `'${sanitizeForTerminal(text)}'`;

function usageError(command: CommandName | undefined, problem: string): AirlockError {
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

/** `unknown command 'podz'; did you mean 'pods'?` */
function unknownCommand(word: string): string {
  const meant = suggestCommandName(word);
  if (word === 'json' || word === 'text') return `unknown command ${q(word)}: ${OUTPUT_FLAG_HINT}`;
  return `unknown command ${q(word)}${meant === undefined ? '' : `; did you mean '${meant}'?`}`;
}

function isValidName(value: string, kind: 'label' | 'subdomain'): boolean {
  return kind === 'label'
    ? value.length <= 63 && LABEL.test(value)
    : value.length <= 253 && SUBDOMAIN.test(value);
}

function checkNamespace(command: CommandName, value: string): string {
  if (!isValidName(value, 'label')) {
    throw usageError(
      command,
      `invalid namespace ${q(value)}: lowercase letters, digits and '-', at most 63 characters`,
    );
  }
  return value;
}

function checkObjectName(command: CommandName, what: string, value: string): string {
  if (!isValidName(value, 'subdomain')) {
    throw usageError(
      command,
      `invalid ${what} name ${q(value)}: lowercase letters, digits, '-' and '.', at most 253 characters`,
    );
  }
  return value;
}

function checkContainer(command: CommandName, value: string): string {
  if (!isValidName(value, 'label')) {
    throw usageError(
      command,
      `invalid container name ${q(value)}: lowercase letters, digits and '-', at most 63 characters`,
    );
  }
  return value;
}

/** Splits `[NS/]NAME`; the namespace defaults to `defaultNamespace`. */
function splitNamespaced(
  command: CommandName,
  what: string,
  value: string,
  defaultNamespace: string,
): { namespace: string; name: string } {
  const parts = value.split('/');
  if (parts.length === 1) return { namespace: defaultNamespace, name: checkObjectName(command, what, value) };
  if (parts.length !== 2)
    throw usageError(command, `invalid ${what} ${q(value)}: expected ${what} or namespace/${what}`);
  const [namespace, name] = parts as [string, string];
  return { namespace: checkNamespace(command, namespace), name: checkObjectName(command, what, name) };
}

interface ParsedArgs {
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
function parseArgs(
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

function parseOutput(command: CommandName | undefined, value: string | true | undefined): OutputFormat {
  if (value === undefined) return 'text';
  if (value === 'text' || value === 'json') return value;
  throw usageError(
    command,
    `invalid output format ${q(String(value))}: use json or text (${OUTPUT_FLAG_HINT})`,
  );
}

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

function str(values: Map<string, string | true>, key: string): string | undefined {
  const v = values.get(key);
  return typeof v === 'string' ? v : undefined;
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

function podTarget(
  command: CommandName,
  positionals: string[],
  values: Map<string, string | true>,
  defaults: ParseDefaults,
): PodTarget {
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

function listNamespace(
  command: CommandName,
  values: Map<string, string | true>,
  defaults: ParseDefaults,
): string {
  const ns = str(values, 'namespace');
  return ns === undefined ? defaults.namespace : checkNamespace(command, ns);
}

/**
 * Parses one command. `argv` is the whole command line as words, the command
 * name first; the global `-o/--output json|text` may appear anywhere before
 * `--`, including before the command name.
 */
export function parseCommand(argv: readonly string[], defaults: ParseDefaults): Command {
  // Global flags before the command name: only --output and --help.
  let start = 0;
  const leading: string[] = [];
  while (start < argv.length && argv[start]!.startsWith('-') && argv[start] !== '--') {
    const arg = argv[start]!;
    leading.push(arg);
    start++;
    const takesNext = arg === '-o' || arg === '--output';
    if (takesNext && start < argv.length) leading.push(argv[start++]!);
  }
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

  switch (command) {
    case 'pods':
    case 'events':
      none(command, positionals);
      return { kind: command, namespace: listNamespace(command, values, defaults), output };
    case 'get':
      return parseGet(positionals, values, defaults, output);
    case 'describe':
    case 'shell':
      return { kind: command, target: podTarget(command, positionals, values, defaults), output };
    case 'logs': {
      const target = podTarget(command, positionals, values, defaults);
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
    case 'exec': {
      const target = podTarget(command, positionals, values, defaults);
      if (rest === undefined) throw usageError(command, "exec: missing '--' before the command to run");
      if (rest.length === 0) throw usageError(command, "exec: missing the command to run after '--'");
      return { kind: 'exec', target, argv: rest, tty: values.has('tty') || values.has('stdinTty'), output };
    }
    case 'debug': {
      const target = podTarget(command, positionals, values, defaults);
      const image = str(values, 'image');
      if (image === undefined) throw usageError(command, 'debug: missing --image');
      if (image.length > 4096 || !IMAGE.test(image))
        throw usageError(command, `debug: invalid image ${q(image)}`);
      return { kind: 'debug', target, image, argv: rest ?? [], tty: values.has('tty'), output };
    }
    case 'help': {
      const [topicWord, extra] = positionals;
      if (extra !== undefined) throw usageError(command, `help: unexpected argument ${q(extra)}`);
      if (topicWord === undefined) return { kind: 'help', output };
      const topic = resolveCommandName(topicWord);
      if (topic === undefined) throw usageError(command, `help: unknown command ${q(topicWord)}`);
      return { kind: 'help', topic, output };
    }
    case 'forward':
    case 'whoami':
    case 'exit':
      none(command, positionals);
      return { kind: command, output };
  }
}

function parseGet(
  positionals: string[],
  values: Map<string, string | true>,
  defaults: ParseDefaults,
  output: OutputFormat,
): Command {
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
