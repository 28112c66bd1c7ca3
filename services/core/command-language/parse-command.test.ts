/**
 * parseCommand: every command and flag, `ns/pod` targets and defaults, and a
 * USAGE error with the command's usage line for every mistake.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { COMMAND_SPECS, type CommandName } from './commands.js';
import { type Command, parseCommand, requestedOutputFormat } from './parse-command.js';
import { splitCommandLine } from './split-command-line.js';

const defaults = { namespace: 'default' };
const parse = (line: string): Command => parseCommand(splitCommandLine(line), defaults);

function usageError(line: string): string {
  try {
    parse(line);
  } catch (error) {
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe('USAGE');
    return (error as AirlockError).message;
  }
  throw new Error(`expected ${JSON.stringify(line)} to be refused`);
}

const usage = (command: CommandName) => `usage: ${COMMAND_SPECS[command].usage}`;

const OUTPUT_HINT =
  'over ssh, put it after the command (ssh gw pods -o json), or the whole command after -- (ssh gw -- --output json pods): ssh takes a -o before the command as its own option';
describe('parseCommand', () => {
  it.each<[string, Command]>([
    ['pods', { kind: 'pods', namespace: 'default', output: 'text' }],
    ['pods -n payments', { kind: 'pods', namespace: 'payments', output: 'text' }],
    ['pods --namespace=payments -o json', { kind: 'pods', namespace: 'payments', output: 'json' }],
    ['events', { kind: 'events', namespace: 'default', output: 'text' }],
    ['events -n kube-system', { kind: 'events', namespace: 'kube-system', output: 'text' }],
    ['get pods', { kind: 'get', resource: 'pods', namespace: 'default', output: 'text' }],
    ['get po api-0', { kind: 'get', resource: 'pods', name: 'api-0', namespace: 'default', output: 'text' }],
    [
      'get pod payments/api-0',
      { kind: 'get', resource: 'pods', name: 'api-0', namespace: 'payments', output: 'text' },
    ],
    [
      'get po api-0 -n payments',
      { kind: 'get', resource: 'pods', name: 'api-0', namespace: 'payments', output: 'text' },
    ],
    [
      'get po payments/api-0 -n payments',
      { kind: 'get', resource: 'pods', name: 'api-0', namespace: 'payments', output: 'text' },
    ],
    ['get ev', { kind: 'get', resource: 'events', namespace: 'default', output: 'text' }],
    ['get events', { kind: 'get', resource: 'events', namespace: 'default', output: 'text' }],
    [
      'get deploy -n payments',
      { kind: 'get', resource: 'deployments', namespace: 'payments', output: 'text' },
    ],
    [
      'get deployments api',
      { kind: 'get', resource: 'deployments', name: 'api', namespace: 'default', output: 'text' },
    ],
    [
      'get rs api-7d4b9c.v2',
      { kind: 'get', resource: 'replicasets', name: 'api-7d4b9c.v2', namespace: 'default', output: 'text' },
    ],
    ['get replicasets', { kind: 'get', resource: 'replicasets', namespace: 'default', output: 'text' }],
    ['get no', { kind: 'get', resource: 'nodes', namespace: '', output: 'text' }],
    [
      'get nodes node-1.example.com',
      { kind: 'get', resource: 'nodes', name: 'node-1.example.com', namespace: '', output: 'text' },
    ],
    ['get ns', { kind: 'get', resource: 'namespaces', namespace: '', output: 'text' }],
    [
      'get namespaces payments -o json',
      { kind: 'get', resource: 'namespaces', name: 'payments', namespace: '', output: 'json' },
    ],
    ['describe api-0', { kind: 'describe', target: { namespace: 'default', pod: 'api-0' }, output: 'text' }],
    [
      'describe payments/api-0',
      { kind: 'describe', target: { namespace: 'payments', pod: 'api-0' }, output: 'text' },
    ],
    [
      'logs api-0',
      {
        kind: 'logs',
        target: { namespace: 'default', pod: 'api-0' },
        follow: false,
        timestamps: false,
        output: 'text',
      },
    ],
    [
      'logs payments/api-0 -c app -f --since 30s --tail 100 --timestamps',
      {
        kind: 'logs',
        target: { namespace: 'payments', pod: 'api-0', container: 'app' },
        follow: true,
        sinceSeconds: 30,
        tailLines: 100,
        timestamps: true,
        output: 'text',
      },
    ],
    [
      'logs --follow --container=app --since=5m --tail=0 api-0',
      {
        kind: 'logs',
        target: { namespace: 'default', pod: 'api-0', container: 'app' },
        follow: true,
        sinceSeconds: 300,
        tailLines: 0,
        timestamps: false,
        output: 'text',
      },
    ],
    [
      'logs api-0 --since 2h',
      {
        kind: 'logs',
        target: { namespace: 'default', pod: 'api-0' },
        follow: false,
        sinceSeconds: 7200,
        timestamps: false,
        output: 'text',
      },
    ],
    [
      'logs api-0 --since 1h30m15s',
      {
        kind: 'logs',
        target: { namespace: 'default', pod: 'api-0' },
        follow: false,
        sinceSeconds: 5415,
        timestamps: false,
        output: 'text',
      },
    ],
    [
      'exec payments/api-0 -- ps aux',
      {
        kind: 'exec',
        target: { namespace: 'payments', pod: 'api-0' },
        argv: ['ps', 'aux'],
        tty: false,
        output: 'text',
      },
    ],
    [
      'exec api-0 -c app -t -- sh',
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0', container: 'app' },
        argv: ['sh'],
        tty: true,
        output: 'text',
      },
    ],
    [
      'exec --tty --container app api-0 -- top',
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0', container: 'app' },
        argv: ['top'],
        tty: true,
        output: 'text',
      },
    ],
    [
      'exec -it api-0 -- sh',
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0' },
        argv: ['sh'],
        tty: true,
        output: 'text',
      },
    ],
    [
      'exec -i api-0 -- cat',
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0' },
        argv: ['cat'],
        tty: false,
        output: 'text',
      },
    ],
    [
      "exec api-0 -- grep -o 'a|b' -- -c --help -n x",
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0' },
        argv: ['grep', '-o', 'a|b', '--', '-c', '--help', '-n', 'x'],
        tty: false,
        output: 'text',
      },
    ],
    [
      "exec api-0 -- echo '' '$HOME'",
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0' },
        argv: ['echo', '', '$HOME'],
        tty: false,
        output: 'text',
      },
    ],
    ['shell api-0', { kind: 'shell', target: { namespace: 'default', pod: 'api-0' }, output: 'text' }],
    [
      'shell payments/api-0 -c app',
      { kind: 'shell', target: { namespace: 'payments', pod: 'api-0', container: 'app' }, output: 'text' },
    ],
    [
      'debug api-0 --image busybox:1.36',
      {
        kind: 'debug',
        target: { namespace: 'default', pod: 'api-0' },
        image: 'busybox:1.36',
        argv: [],
        tty: false,
        output: 'text',
      },
    ],
    [
      'debug payments/api-0 --image=ghcr.io/org/tools@sha256:abc --target app -t -- sh -l',
      {
        kind: 'debug',
        target: { namespace: 'payments', pod: 'api-0', container: 'app' },
        image: 'ghcr.io/org/tools@sha256:abc',
        argv: ['sh', '-l'],
        tty: true,
        output: 'text',
      },
    ],
    ['forward', { kind: 'forward', output: 'text' }],
    ['whoami', { kind: 'whoami', output: 'text' }],
    ['whoami -o json', { kind: 'whoami', output: 'json' }],
    ['help', { kind: 'help', output: 'text' }],
    ['help logs', { kind: 'help', topic: 'logs', output: 'text' }],
    ['help quit', { kind: 'help', topic: 'exit', output: 'text' }],
    ['logs --help', { kind: 'help', topic: 'logs', output: 'text' }],
    ['exec -h', { kind: 'help', topic: 'exec', output: 'text' }],
    ['--help', { kind: 'help', output: 'text' }],
    ['exit', { kind: 'exit', output: 'text' }],
    ['quit', { kind: 'exit', output: 'text' }],
    // The global output flag, anywhere before `--`.
    ['-o json pods', { kind: 'pods', namespace: 'default', output: 'json' }],
    ['--output json pods', { kind: 'pods', namespace: 'default', output: 'json' }],
    ['--output=text pods', { kind: 'pods', namespace: 'default', output: 'text' }],
    [
      'exec -o json api-0 -- ls -o json',
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0' },
        argv: ['ls', '-o', 'json'],
        tty: false,
        output: 'json',
      },
    ],
    [
      'exec api-0 --output=json -- ls',
      {
        kind: 'exec',
        target: { namespace: 'default', pod: 'api-0' },
        argv: ['ls'],
        tty: false,
        output: 'json',
      },
    ],
    [
      `get pod ${'a'.repeat(253)}`,
      { kind: 'get', resource: 'pods', name: 'a'.repeat(253), namespace: 'default', output: 'text' },
    ],
    [
      `describe ${'n'.repeat(63)}/p`,
      { kind: 'describe', target: { namespace: 'n'.repeat(63), pod: 'p' }, output: 'text' },
    ],
  ])('%s', (line, command) => {
    expect(parse(line)).toEqual(command);
  });

  it('takes the namespace from defaults', () => {
    expect(parseCommand(['describe', 'api-0'], { namespace: 'payments' })).toEqual({
      kind: 'describe',
      target: { namespace: 'payments', pod: 'api-0' },
      output: 'text',
    });
  });

  it.each<[string, string, CommandName | undefined]>([
    ['', 'no command given', undefined],
    ['--', "unexpected '--' before the command", undefined],
    ['frobnicate', "unknown command 'frobnicate'", undefined],
    ['-x pods', "unknown flag '-x'", undefined],
    ['-o yaml pods', `invalid output format 'yaml': use json or text (${OUTPUT_HINT})`, 'pods'],
    ['-o json pods -o text', 'flag -o/--output given more than once', 'pods'],
    ['pods -o', `flag '-o' needs a value (json or text; ${OUTPUT_HINT})`, 'pods'],
    ['pods --output=', `flag '--output' needs a value (json or text; ${OUTPUT_HINT})`, 'pods'],
    ['podz', "unknown command 'podz'; did you mean 'pods'?", undefined],
    ['exce api-0', "unknown command 'exce'; did you mean 'exec'?", undefined],
    ['qiut', "unknown command 'qiut'; did you mean 'exit'?", undefined],
    ['json pods', `unknown command 'json': ${OUTPUT_HINT}`, undefined],
    ['pods extra', "pods: unexpected argument 'extra'", 'pods'],
    ['pods --all', "pods: unknown flag '--all'", 'pods'],
    [
      'pods -n Payments',
      "invalid namespace 'Payments': lowercase letters, digits and '-', at most 63 characters",
      'pods',
    ],
    ['pods -n a -n b', 'flag -n/--namespace given more than once', 'pods'],
    ['pods -- x', "pods: '--' is only for exec and debug", 'pods'],
    ['events x', "events: unexpected argument 'x'", 'events'],
    ['get', 'get: missing kind (one of pods, events, deployments, replicasets, nodes, namespaces)', 'get'],
    [
      'get secrets',
      "get: unknown kind 'secrets' (one of pods, events, deployments, replicasets, nodes, namespaces)",
      'get',
    ],
    ['get po a b', "get: unexpected argument 'b'", 'get'],
    ['get po a/b/c', "invalid pod 'a/b/c': expected pod or namespace/pod", 'get'],
    ['get po payments/api-0 -n other', "get: -n 'other' contradicts 'payments/api-0'", 'get'],
    ['get nodes -n x', 'get: nodes are not namespaced; drop -n', 'get'],
    [
      'get ns a.b',
      "invalid namespace 'a.b': lowercase letters, digits and '-', at most 63 characters",
      'get',
    ],
    [
      'get deploy API',
      "invalid deployment name 'API': lowercase letters, digits, '-' and '.', at most 253 characters",
      'get',
    ],
    ['describe', 'describe: missing pod', 'describe'],
    ['describe a b', "describe: unexpected argument 'b'", 'describe'],
    ['describe -c x a', "describe: unknown flag '-c'", 'describe'],
    [
      'describe /api-0',
      "invalid namespace '': lowercase letters, digits and '-', at most 63 characters",
      'describe',
    ],
    [
      'describe payments/',
      "invalid pod name '': lowercase letters, digits, '-' and '.', at most 253 characters",
      'describe',
    ],
    [
      'describe api_0',
      "invalid pod name 'api_0': lowercase letters, digits, '-' and '.', at most 253 characters",
      'describe',
    ],
    ['describe -api', "describe: unknown flag '-api'", 'describe'],
    [
      'describe api-',
      "invalid pod name 'api-': lowercase letters, digits, '-' and '.', at most 253 characters",
      'describe',
    ],
    [
      `describe ${'a'.repeat(254)}`,
      `invalid pod name '${'a'.repeat(254)}': lowercase letters, digits, '-' and '.', at most 253 characters`,
      'describe',
    ],
    [
      `describe ${'n'.repeat(64)}/p`,
      `invalid namespace '${'n'.repeat(64)}': lowercase letters, digits and '-', at most 63 characters`,
      'describe',
    ],
    ['logs', 'logs: missing pod', 'logs'],
    ['logs a -c', "flag '-c' needs a value", 'logs'],
    [
      'logs a -c App',
      "invalid container name 'App': lowercase letters, digits and '-', at most 63 characters",
      'logs',
    ],
    ['logs a --since', "flag '--since' needs a value", 'logs'],
    ['logs a --since 5', "invalid --since '5': use a duration like 30s, 5m, 2h or 1h30m", 'logs'],
    ['logs a --since 1d', "invalid --since '1d': use a duration like 30s, 5m, 2h or 1h30m", 'logs'],
    ['logs a --since 0s', "invalid --since '0s': must be more than 0s", 'logs'],
    ['logs a --since 99999999h', "invalid --since '99999999h': at most 87600h", 'logs'],
    ['logs a --tail -1', "invalid --tail '-1': a number of lines from 0 to 10000000", 'logs'],
    ['logs a --tail ten', "invalid --tail 'ten': a number of lines from 0 to 10000000", 'logs'],
    ['logs a --tail 10000001', "invalid --tail '10000001': a number of lines from 0 to 10000000", 'logs'],
    ['logs a -f -f', 'flag -f/--follow given more than once', 'logs'],
    ['logs a --follow=yes', "flag '--follow' takes no value", 'logs'],
    ['logs a -x', "logs: unknown flag '-x'", 'logs'],
    ['exec', 'exec: missing pod', 'exec'],
    ['exec api-0', "exec: missing '--' before the command to run", 'exec'],
    ['exec api-0 ls', "exec: unexpected argument 'ls'", 'exec'],
    ['exec api-0 --', "exec: missing the command to run after '--'", 'exec'],
    ['exec -- ls', 'exec: missing pod', 'exec'],
    ['exec api-0 -c -- ls', "flag '-c' needs a value", 'exec'],
    ['exec api-0 --image x -- ls', "exec: unknown flag '--image'", 'exec'],
    ['shell', 'shell: missing pod', 'shell'],
    ['shell a -- sh', "shell: '--' is only for exec and debug", 'shell'],
    ['shell a -t', "shell: unknown flag '-t'", 'shell'],
    ['debug a', 'debug: missing --image', 'debug'],
    ['debug --image busybox', 'debug: missing pod', 'debug'],
    ['debug a --image', "flag '--image' needs a value", 'debug'],
    ['debug a --image "busy box"', "debug: invalid image 'busy box'", 'debug'],
    [
      'debug a --image busybox --target App',
      "invalid container name 'App': lowercase letters, digits and '-', at most 63 characters",
      'debug',
    ],
    ['forward 8080', "forward: unexpected argument '8080'", 'forward'],
    ['whoami me', "whoami: unexpected argument 'me'", 'whoami'],
    ['help nope', "help: unknown command 'nope'", 'help'],
    ['help logs exec', "help: unexpected argument 'exec'", 'help'],
    ['exit now', "exit: unexpected argument 'now'", 'exit'],
  ])('refuses %j', (line, problem, command) => {
    const hint = command === undefined ? "type 'help' for the commands" : usage(command);
    expect(usageError(line)).toBe(`${problem}\n${hint}`);
  });

  it('escapes control characters quoted back from the input', () => {
    expect(() => parseCommand(['frob\x1b[2J'], defaults)).toThrow("unknown command 'frob\\x1b[2J'");
  });

  it('throws nothing but a USAGE AirlockError for any argv', () => {
    const word = fc.oneof(
      fc.constantFrom(
        'pods',
        'get',
        'logs',
        'exec',
        'debug',
        'help',
        '--',
        '-o',
        'json',
        '-c',
        '-n',
        '--since',
        'po',
        'a/b',
        '-t',
      ),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (argv) => {
        try {
          parseCommand(argv, defaults);
        } catch (error) {
          expect(error).toBeInstanceOf(AirlockError);
          expect((error as AirlockError).code).toBe('USAGE');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('requestedOutputFormat', () => {
  it.each<[string[], 'text' | 'json']>([
    [['-o', 'json', 'logs'], 'json'],
    [['logs', '--output', 'json', '--bogus'], 'json'],
    [['logs', '--output=json'], 'json'],
    [['logs', '-o', 'yaml'], 'text'],
    [['exec', 'p', '--', 'ls', '-o', 'json'], 'text'],
    [[], 'text'],
  ])('%j → %s', (argv, format) => {
    expect(requestedOutputFormat(argv)).toBe(format);
  });
});
