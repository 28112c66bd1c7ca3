import { describe, expect, it } from 'vitest';
import { type Command, parseCommand, requestedOutputFormat } from './parse-command.js';
import { parse } from './parse-command-test-support.js';

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
