/**
 * parseCommand refuses every mistake with a USAGE error carrying the
 * command's usage line, and never throws anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import type { CommandName } from './commands.js';
import { parseCommand } from './parse-command.js';
import { defaults, OUTPUT_HINT, usage, usageError } from './parse-command-test-support.js';

/** Lines refused before any command is known: the message ends with a pointer to help. */
const WITHOUT_COMMAND: [line: string, problem: string][] = [
  ['', 'no command given'],
  ['--', "unexpected '--' before the command"],
  ['frobnicate', "unknown command 'frobnicate'"],
  ['-x pods', "unknown flag '-x'"],
  ['podz', "unknown command 'podz'; did you mean 'pods'?"],
  ['exce api-0', "unknown command 'exce'; did you mean 'exec'?"],
  ['qiut', "unknown command 'qiut'; did you mean 'exit'?"],
  ['json pods', `unknown command 'json': ${OUTPUT_HINT}`],
];

/** Lines refused once the command is known, by command: the message ends with its usage line. */
const BY_COMMAND: Partial<Record<CommandName, [line: string, problem: string][]>> = {
  pods: [
    ['-o yaml pods', `invalid output format 'yaml': use json or text (${OUTPUT_HINT})`],
    ['-o json pods -o text', 'flag -o/--output given more than once'],
    ['pods -o', `flag '-o' needs a value (json or text; ${OUTPUT_HINT})`],
    ['pods --output=', `flag '--output' needs a value (json or text; ${OUTPUT_HINT})`],
    ['pods extra', "pods: unexpected argument 'extra'"],
    ['pods --all', "pods: unknown flag '--all'"],
    [
      'pods -n Payments',
      "invalid namespace 'Payments': lowercase letters, digits and '-', at most 63 characters",
    ],
    ['pods -n a -n b', 'flag -n/--namespace given more than once'],
    ['pods -- x', "pods: '--' is only for exec and debug"],
  ],
  events: [['events x', "events: unexpected argument 'x'"]],
  get: [
    ['get', 'get: missing kind (one of pods, events, deployments, replicasets, nodes, namespaces)'],
    [
      'get secrets',
      "get: unknown kind 'secrets' (one of pods, events, deployments, replicasets, nodes, namespaces)",
    ],
    ['get po a b', "get: unexpected argument 'b'"],
    ['get po a/b/c', "invalid pod 'a/b/c': expected pod or namespace/pod"],
    ['get po payments/api-0 -n other', "get: -n 'other' contradicts 'payments/api-0'"],
    ['get nodes -n x', 'get: nodes are not namespaced; drop -n'],
    ['get ns a.b', "invalid namespace 'a.b': lowercase letters, digits and '-', at most 63 characters"],
    [
      'get deploy API',
      "invalid deployment name 'API': lowercase letters, digits, '-' and '.', at most 253 characters",
    ],
  ],
  describe: [
    ['describe', 'describe: missing pod'],
    ['describe a b', "describe: unexpected argument 'b'"],
    ['describe -c x a', "describe: unknown flag '-c'"],
    ['describe /api-0', "invalid namespace '': lowercase letters, digits and '-', at most 63 characters"],
    [
      'describe payments/',
      "invalid pod name '': lowercase letters, digits, '-' and '.', at most 253 characters",
    ],
    [
      'describe api_0',
      "invalid pod name 'api_0': lowercase letters, digits, '-' and '.', at most 253 characters",
    ],
    ['describe -api', "describe: unknown flag '-api'"],
    [
      'describe api-',
      "invalid pod name 'api-': lowercase letters, digits, '-' and '.', at most 253 characters",
    ],
    [
      `describe ${'a'.repeat(254)}`,
      `invalid pod name '${'a'.repeat(254)}': lowercase letters, digits, '-' and '.', at most 253 characters`,
    ],
    [
      `describe ${'n'.repeat(64)}/p`,
      `invalid namespace '${'n'.repeat(64)}': lowercase letters, digits and '-', at most 63 characters`,
    ],
  ],
  logs: [
    ['logs', 'logs: missing pod'],
    ['logs a -c', "flag '-c' needs a value"],
    [
      'logs a -c App',
      "invalid container name 'App': lowercase letters, digits and '-', at most 63 characters",
    ],
    ['logs a --since', "flag '--since' needs a value"],
    ['logs a --since 5', "invalid --since '5': use a duration like 30s, 5m, 2h or 1h30m"],
    ['logs a --since 1d', "invalid --since '1d': use a duration like 30s, 5m, 2h or 1h30m"],
    ['logs a --since 0s', "invalid --since '0s': must be more than 0s"],
    ['logs a --since 99999999h', "invalid --since '99999999h': at most 87600h"],
    ['logs a --tail -1', "invalid --tail '-1': a number of lines from 0 to 10000000"],
    ['logs a --tail ten', "invalid --tail 'ten': a number of lines from 0 to 10000000"],
    ['logs a --tail 10000001', "invalid --tail '10000001': a number of lines from 0 to 10000000"],
    ['logs a -f -f', 'flag -f/--follow given more than once'],
    ['logs a --follow=yes', "flag '--follow' takes no value"],
    ['logs a -x', "logs: unknown flag '-x'"],
  ],
  exec: [
    ['exec', 'exec: missing pod'],
    ['exec api-0', "exec: missing '--' before the command to run"],
    ['exec api-0 ls', "exec: unexpected argument 'ls'"],
    ['exec api-0 --', "exec: missing the command to run after '--'"],
    ['exec -- ls', 'exec: missing pod'],
    ['exec api-0 -c -- ls', "flag '-c' needs a value"],
    ['exec api-0 --image x -- ls', "exec: unknown flag '--image'"],
  ],
  shell: [
    ['shell', 'shell: missing pod'],
    ['shell a -- sh', "shell: '--' is only for exec and debug"],
    ['shell a -t', "shell: unknown flag '-t'"],
  ],
  debug: [
    ['debug a', 'debug: missing --image'],
    ['debug --image busybox', 'debug: missing pod'],
    ['debug a --image', "flag '--image' needs a value"],
    ['debug a --image "busy box"', "debug: invalid image 'busy box'"],
    [
      'debug a --image busybox --target App',
      "invalid container name 'App': lowercase letters, digits and '-', at most 63 characters",
    ],
  ],
  forward: [['forward 8080', "forward: unexpected argument '8080'"]],
  whoami: [['whoami me', "whoami: unexpected argument 'me'"]],
  help: [
    ['help nope', "help: unknown command 'nope'"],
    ['help logs exec', "help: unexpected argument 'exec'"],
  ],
  exit: [['exit now', "exit: unexpected argument 'now'"]],
};

const REFUSALS: [string, string, CommandName | undefined][] = [
  ...WITHOUT_COMMAND.map(([line, problem]): [string, string, undefined] => [line, problem, undefined]),
  ...Object.entries(BY_COMMAND).flatMap(([command, refusals]) =>
    refusals.map(([line, problem]): [string, string, CommandName] => [line, problem, command as CommandName]),
  ),
];

describe('parseCommand', () => {
  it.each(REFUSALS)('refuses %j', (line, problem, command) => {
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
