/**
 * The command catalogue: names, aliases, flags and one-line usage of every
 * mediator command. Shared by the parser, the help text and completion so
 * the three cannot drift apart.
 */

/** Canonical command names (aliases resolve to these). */
export const COMMAND_NAMES = [
  'pods',
  'get',
  'describe',
  'events',
  'logs',
  'exec',
  'shell',
  'debug',
  'forward',
  'whoami',
  'help',
  'exit',
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

/** Extra words accepted for a command. */
export const COMMAND_ALIASES: Readonly<Record<string, CommandName>> = { quit: 'exit' };

/** Resolves a typed command word (or alias) to its canonical name. */
export function resolveCommandName(word: string): CommandName | undefined {
  if ((COMMAND_NAMES as readonly string[]).includes(word)) return word as CommandName;
  return Object.hasOwn(COMMAND_ALIASES, word) ? COMMAND_ALIASES[word] : undefined;
}

/** Optimal string alignment distance: edits, counting a swap of neighbours as one ("exce" → "exec"). */
function editDistance(a: string, b: string): number {
  const width = b.length + 1;
  const d = new Array<number>((a.length + 1) * width).fill(0);
  const at = (i: number, j: number) => d[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * width] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * width + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The command a mistyped word most likely meant (`podz` → `pods`, `exce` →
 * `exec`): the nearest name or alias within two edits, and within a third of
 * the word, so short words do not match everything. Undefined when none is
 * that near or two are equally near.
 */
export function suggestCommandName(word: string): CommandName | undefined {
  if (word.length > 64) return undefined;
  const limit = Math.min(2, Math.max(1, Math.floor(word.length / 3)));
  const scored = [...COMMAND_NAMES, ...Object.keys(COMMAND_ALIASES)]
    .map((name) => ({ name, distance: editDistance(word.toLowerCase(), name) }))
    .filter((s) => s.distance <= limit)
    .sort((x, y) => x.distance - y.distance);
  if (scored.length === 0) return undefined;
  if (scored.length > 1 && scored[1]!.distance === scored[0]!.distance) return undefined;
  return resolveCommandName(scored[0]!.name);
}

/** The resource kinds `get` lists, as the executor's GetRequest.kind spells them. */
export const RESOURCE_KINDS = [
  'pods',
  'events',
  'deployments',
  'replicasets',
  'nodes',
  'namespaces',
] as const;

export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** Short names and singulars, as kubectl accepts them. */
export const RESOURCE_ALIASES: Readonly<Record<string, ResourceKind>> = {
  po: 'pods',
  pod: 'pods',
  ev: 'events',
  event: 'events',
  deploy: 'deployments',
  deployment: 'deployments',
  rs: 'replicasets',
  replicaset: 'replicasets',
  no: 'nodes',
  node: 'nodes',
  ns: 'namespaces',
  namespace: 'namespaces',
};

/** Cluster-scoped kinds take no namespace. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<ResourceKind> = new Set(['nodes', 'namespaces']);

/** One flag of a command. `key` names the value in the parse result. */
export interface FlagSpec {
  readonly names: readonly string[];
  readonly key: string;
  /** True when the flag takes a value (`--since 5m`, `--since=5m`). */
  readonly takesValue: boolean;
}

/** The global output flag, accepted by every command anywhere before `--`. */
export const OUTPUT_FLAG: FlagSpec = { names: ['-o', '--output'], key: 'output', takesValue: true };
/** `-h` / `--help` on any command shows that command's help. */
export const HELP_FLAG: FlagSpec = { names: ['-h', '--help'], key: 'help', takesValue: false };

const CONTAINER: FlagSpec = { names: ['-c', '--container'], key: 'container', takesValue: true };
const NAMESPACE: FlagSpec = { names: ['-n', '--namespace'], key: 'namespace', takesValue: true };
const TTY: FlagSpec = { names: ['-t', '--tty'], key: 'tty', takesValue: false };

export interface CommandSpec {
  readonly usage: string;
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
  /** True when `-- ARGV...` may follow (exec, debug). */
  readonly takesArgv: boolean;
  readonly examples: readonly string[];
}

export const COMMAND_SPECS: Readonly<Record<CommandName, CommandSpec>> = {
  pods: {
    usage: 'pods [-n NAMESPACE]',
    summary: 'List the pods of the namespace (default: your session namespace).',
    flags: [NAMESPACE],
    takesArgv: false,
    examples: ['ssh gw pods', 'ssh gw pods -n payments -o json'],
  },
  get: {
    usage: 'get KIND [NAME | NS/NAME] [-n NAMESPACE]',
    summary:
      'List a kind as a table, or show one object as YAML (as kubectl get -o yaml): pods (po),\n' +
      'events (ev), deployments (deploy), replicasets (rs), nodes (no), namespaces (ns).',
    flags: [NAMESPACE],
    takesArgv: false,
    examples: ['ssh gw get deploy', 'ssh gw get po payments/api-0 -o json'],
  },
  describe: {
    usage: 'describe [NS/]POD',
    summary: 'Show a pod as kubectl describe does (env values redacted unless the profile reveals them).',
    flags: [],
    takesArgv: false,
    examples: ['ssh gw describe payments/api-0'],
  },
  events: {
    usage: 'events [-n NAMESPACE]',
    summary: 'List recent events of the namespace, oldest first.',
    flags: [NAMESPACE],
    takesArgv: false,
    examples: ['ssh gw events', 'ssh gw events -n payments'],
  },
  logs: {
    usage: 'logs [NS/]POD [-c CONTAINER] [-f] [--since 5m] [--tail N] [--timestamps]',
    summary: 'Print (or with -f follow) a container log. --since takes 30s, 5m, 2h or 1h30m.',
    flags: [
      CONTAINER,
      { names: ['-f', '--follow'], key: 'follow', takesValue: false },
      { names: ['--since'], key: 'since', takesValue: true },
      { names: ['--tail'], key: 'tail', takesValue: true },
      { names: ['--timestamps'], key: 'timestamps', takesValue: false },
    ],
    takesArgv: false,
    examples: ['ssh gw logs payments/api-0 --tail 100', 'ssh gw logs api-0 -c app -f --since 10m'],
  },
  exec: {
    usage: 'exec [NS/]POD [-c CONTAINER] [-t] -- COMMAND [ARG...]',
    summary:
      'Run one command in a container. The -- is required; the words after it are passed\n' +
      'as they are (no shell, no expansion). -i is accepted and changes nothing; -it means -t.',
    flags: [
      CONTAINER,
      TTY,
      // kubectl habit: stdin is always forwarded, so -i is accepted and changes nothing; -it means -t.
      { names: ['-i', '--stdin'], key: 'stdin', takesValue: false },
      { names: ['-it', '-ti'], key: 'stdinTty', takesValue: false },
    ],
    takesArgv: true,
    examples: [
      'ssh gw exec payments/api-0 -- ps aux',
      `ssh gw "exec api-0 -c app -- grep -r 'a|b' /etc/app"`,
      'ssh -t gw exec api-0 -t -- top',
    ],
  },
  shell: {
    usage: 'shell [NS/]POD [-c CONTAINER]',
    summary: "Open an interactive shell in a container (if your profile allows 'shell').",
    flags: [CONTAINER],
    takesArgv: false,
    examples: ['ssh -t gw shell payments/api-0 -c app'],
  },
  debug: {
    usage: 'debug [NS/]POD --image IMAGE [--target CONTAINER] [-t] [-- COMMAND [ARG...]]',
    summary:
      'Attach an ephemeral debug container running IMAGE (one your profile allows), sharing\n' +
      "the processes of the --target container. Without -- COMMAND the image's own command runs.",
    flags: [
      { names: ['--image'], key: 'image', takesValue: true },
      { names: ['--target'], key: 'container', takesValue: true },
      TTY,
    ],
    takesArgv: true,
    examples: ['ssh -t gw debug payments/api-0 --image busybox:1.36 --target app -t -- sh'],
  },
  forward: {
    usage: 'forward',
    summary: 'Explain port-forwarding, which is done with ssh -L, not with a command.',
    flags: [],
    takesArgv: false,
    examples: ['ssh -N -L 8080:api-0.payments:8080 gw'],
  },
  whoami: {
    usage: 'whoami',
    summary:
      'Show who you are, your profile, scope (pods; containers and runbook when limited)\n' +
      'and the time left in this session.',
    flags: [],
    takesArgv: false,
    examples: ['ssh gw whoami'],
  },
  help: {
    usage: 'help [COMMAND]',
    summary: 'Show all commands, or one command in detail.',
    flags: [],
    takesArgv: false,
    examples: ['ssh gw help logs'],
  },
  exit: {
    usage: 'exit | quit',
    summary: 'Leave the interactive session.',
    flags: [],
    takesArgv: false,
    examples: [],
  },
};
