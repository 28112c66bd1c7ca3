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

describe('parseCommand', () => {
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
