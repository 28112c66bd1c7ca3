import { describe, expect, it } from 'vitest';
import type { ResourceKind } from './commands.js';
import {
  type Command,
  type OutputFormat,
  type PodTarget,
  parseCommand,
  requestedOutputFormat,
} from './parse-command.js';
import { parse } from './parse-command-test-support.js';

/** The pod api-0 in `namespace`, and `container` where the line names one. */
function api0(namespace = 'default', container?: string): PodTarget {
  return container === undefined ? { namespace, pod: 'api-0' } : { namespace, pod: 'api-0', container };
}

/** A `get` command, with `name` only where the line names one. */
function get(
  resource: ResourceKind,
  namespace: string,
  name?: string,
  output: OutputFormat = 'text',
): Command {
  return name === undefined
    ? { kind: 'get', resource, namespace, output }
    : { kind: 'get', resource, name, namespace, output };
}

function exec(target: PodTarget, argv: string[], tty: boolean, output: OutputFormat = 'text'): Command {
  return { kind: 'exec', target, argv, tty, output };
}

/** A `logs` command: not following, no timestamps, text, unless `options` says otherwise. */
function logs(
  target: PodTarget,
  options: { follow?: boolean; sinceSeconds?: number; tailLines?: number; timestamps?: boolean } = {},
): Command {
  return { kind: 'logs', target, follow: false, timestamps: false, output: 'text', ...options };
}

describe('parseCommand', () => {
  it.each<[string, Command]>([
    ['pods', { kind: 'pods', namespace: 'default', output: 'text' }],
    ['pods -n payments', { kind: 'pods', namespace: 'payments', output: 'text' }],
    ['pods --namespace=payments -o json', { kind: 'pods', namespace: 'payments', output: 'json' }],
    ['events', { kind: 'events', namespace: 'default', output: 'text' }],
    ['events -n kube-system', { kind: 'events', namespace: 'kube-system', output: 'text' }],
    ['get pods', get('pods', 'default')],
    ['get po api-0', get('pods', 'default', 'api-0')],
    ['get pod payments/api-0', get('pods', 'payments', 'api-0')],
    ['get po api-0 -n payments', get('pods', 'payments', 'api-0')],
    ['get po payments/api-0 -n payments', get('pods', 'payments', 'api-0')],
    ['get ev', get('events', 'default')],
    ['get events', get('events', 'default')],
    ['get deploy -n payments', get('deployments', 'payments')],
    ['get deployments api', get('deployments', 'default', 'api')],
    ['get rs api-7d4b9c.v2', get('replicasets', 'default', 'api-7d4b9c.v2')],
    ['get replicasets', get('replicasets', 'default')],
    ['get no', get('nodes', '')],
    ['get nodes node-1.example.com', get('nodes', '', 'node-1.example.com')],
    ['get ns', get('namespaces', '')],
    ['get namespaces payments -o json', get('namespaces', '', 'payments', 'json')],
    ['describe api-0', { kind: 'describe', target: api0(), output: 'text' }],
    ['describe payments/api-0', { kind: 'describe', target: api0('payments'), output: 'text' }],
    ['logs api-0', logs(api0())],
    [
      'logs payments/api-0 -c app -f --since 30s --tail 100 --timestamps',
      logs(api0('payments', 'app'), { follow: true, sinceSeconds: 30, tailLines: 100, timestamps: true }),
    ],
    [
      'logs --follow --container=app --since=5m --tail=0 api-0',
      logs(api0('default', 'app'), { follow: true, sinceSeconds: 300, tailLines: 0 }),
    ],
    ['logs api-0 --since 2h', logs(api0(), { sinceSeconds: 7200 })],
    ['logs api-0 --since 1h30m15s', logs(api0(), { sinceSeconds: 5415 })],
    ['exec payments/api-0 -- ps aux', exec(api0('payments'), ['ps', 'aux'], false)],
    ['exec api-0 -c app -t -- sh', exec(api0('default', 'app'), ['sh'], true)],
    ['exec --tty --container app api-0 -- top', exec(api0('default', 'app'), ['top'], true)],
    ['exec -it api-0 -- sh', exec(api0(), ['sh'], true)],
    ['exec -i api-0 -- cat', exec(api0(), ['cat'], false)],
    [
      "exec api-0 -- grep -o 'a|b' -- -c --help -n x",
      exec(api0(), ['grep', '-o', 'a|b', '--', '-c', '--help', '-n', 'x'], false),
    ],
    ["exec api-0 -- echo '' '$HOME'", exec(api0(), ['echo', '', '$HOME'], false)],
    ['shell api-0', { kind: 'shell', target: api0(), output: 'text' }],
    ['shell payments/api-0 -c app', { kind: 'shell', target: api0('payments', 'app'), output: 'text' }],
    [
      'debug api-0 --image busybox:1.36',
      { kind: 'debug', target: api0(), image: 'busybox:1.36', argv: [], tty: false, output: 'text' },
    ],
    [
      'debug payments/api-0 --image=ghcr.io/org/tools@sha256:abc --target app -t -- sh -l',
      {
        kind: 'debug',
        target: api0('payments', 'app'),
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
    ['--help', { kind: 'help', output: 'text' }],
    ['help logs', { kind: 'help', topic: 'logs', output: 'text' }],
    ['help quit', { kind: 'help', topic: 'exit', output: 'text' }],
    ['logs --help', { kind: 'help', topic: 'logs', output: 'text' }],
    ['exec -h', { kind: 'help', topic: 'exec', output: 'text' }],
    ['exit', { kind: 'exit', output: 'text' }],
    ['quit', { kind: 'exit', output: 'text' }],
    // The global output flag, anywhere before `--`.
    ['-o json pods', { kind: 'pods', namespace: 'default', output: 'json' }],
    ['--output json pods', { kind: 'pods', namespace: 'default', output: 'json' }],
    ['--output=text pods', { kind: 'pods', namespace: 'default', output: 'text' }],
    ['exec -o json api-0 -- ls -o json', exec(api0(), ['ls', '-o', 'json'], false, 'json')],
    ['exec api-0 --output=json -- ls', exec(api0(), ['ls'], false, 'json')],
    [`get pod ${'a'.repeat(253)}`, get('pods', 'default', 'a'.repeat(253))],
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
