import { describe, expect, it } from 'vitest';
import { authorizeIntent } from './authorize.js';
import { exec, policy, scope } from './authorize-test-support.js';
import type { AuthorizeDenyCode, Intent, Scope } from './types.js';

// authorizeIntent: one row per allow, one row per deny code. Runbooks and
// containers: authorize-scope.test.ts; the bypass corpus:
// authorize-bypass.test.ts; properties: authorize-properties.test.ts.

describe('authorizeIntent allows', () => {
  it.each<[string, Scope, Intent, string]>([
    ['an exact argv', scope, exec(['ps', 'aux']), 'profiles.debug.commands.allow[0](ps)'],
    ['a trailing "..." with no further args', scope, exec(['ls']), 'profiles.debug.commands.allow[1](ls)'],
    [
      'a trailing "..." with args',
      scope,
      exec(['ls', '-la', '/app']),
      'profiles.debug.commands.allow[1](ls)',
    ],
    [
      'a per-argument glob',
      scope,
      exec(['cat', '/proc/1/status']),
      'profiles.debug.commands.allow[2](cat-status)',
    ],
    ['an absolute rule', scope, exec(['/usr/bin/df', '-h']), 'profiles.debug.commands.allow[3]'],
    [
      'a literal rule for a command runner',
      scope,
      exec(['env']),
      'profiles.debug.commands.allow[4](env-literal)',
    ],
    ['logs', scope, { action: 'logs', namespace: 'payments', pod: 'api-0' }, 'profiles.debug.actions.logs'],
    [
      'list pods',
      scope,
      { action: 'list', namespace: 'payments', resource: 'pods' },
      'profiles.debug.actions.list.resources[0]',
    ],
    [
      'a numbered port',
      scope,
      { action: 'port-forward', namespace: 'payments', pod: 'api-0', port: 8080 },
      'profiles.debug.actions.port-forward.ports[0]',
    ],
    [
      'a named port',
      scope,
      { action: 'port-forward', namespace: 'payments', pod: 'api-0', port: 'metrics' },
      'profiles.debug.actions.port-forward.ports[1]',
    ],
    [
      'a listed debug image',
      scope,
      { action: 'debug', namespace: 'payments', pod: 'api-0', image: 'busybox:1.36' },
      'profiles.debug.actions.debug.images[0]',
    ],
    [
      'a listed shell',
      { ...scope, profile: 'shell' },
      { action: 'shell', namespace: 'payments', pod: 'api-0', argv: ['/bin/bash', '-l'], tty: true },
      'profiles.shell.actions.shell.argv[1]',
    ],
    [
      'matchBasename when the profile says so',
      { ...scope, profile: 'shell' },
      { ...exec(['/usr/bin/ps', 'aux']) },
      'profiles.shell.commands.allow[0]',
    ],
    [
      'cluster-scoped list without a namespace',
      { profile: 'readonly', cluster: 'dev', namespace: 'default', podPatterns: ['*'] },
      { action: 'list', resource: 'nodes' },
      'profiles.readonly.actions.list.resources[1]',
    ],
  ])('%s', (_name, s, intent, rule) => {
    expect(authorizeIntent(policy, s, intent)).toEqual({ allow: true, rule });
  });
});

describe('authorizeIntent denies, one row per code', () => {
  it.each<[string, Scope, Intent, AuthorizeDenyCode, string | undefined]>([
    ['an unknown profile', { ...scope, profile: 'nope' }, exec(['ps', 'aux']), 'PROFILE_UNKNOWN', undefined],
    [
      'a profile name from the prototype',
      { ...scope, profile: '__proto__' },
      exec(['ps']),
      'PROFILE_UNKNOWN',
      undefined,
    ],
    [
      'a cluster outside the profile',
      { ...scope, cluster: 'staging' },
      exec(['ps', 'aux']),
      'SCOPE_CLUSTER',
      'profiles.debug.scope.clusters',
    ],
    [
      'an intent for another cluster',
      scope,
      { ...exec(['ps', 'aux']), cluster: 'prod-us' },
      'SCOPE_CLUSTER',
      undefined,
    ],
    [
      'a namespace outside the profile',
      { ...scope, namespace: 'kube-system' },
      { ...exec(['ps', 'aux']), namespace: 'kube-system' },
      'SCOPE_NAMESPACE',
      'profiles.debug.scope.namespaces',
    ],
    [
      'an intent for another namespace',
      scope,
      { ...exec(['ps', 'aux']), namespace: 'shop-eu' },
      'SCOPE_NAMESPACE',
      undefined,
    ],
    [
      'a namespaced intent without a namespace',
      scope,
      { action: 'logs', pod: 'api-0' },
      'SCOPE_NAMESPACE',
      undefined,
    ],
    [
      'a pod outside the profile',
      { ...scope, podPatterns: ['*'] },
      { ...exec(['ps', 'aux']), pod: 'db-0' },
      'SCOPE_POD',
      'profiles.debug.scope.pods',
    ],
    ['a pod outside the session', scope, { ...exec(['ps', 'aux']), pod: 'worker-1' }, 'SCOPE_POD', undefined],
    ['a missing pod', scope, { action: 'logs', namespace: 'payments' }, 'SCOPE_POD', undefined],
    ['a malformed pod name', scope, { ...exec(['ps', 'aux']), pod: 'api-../x' }, 'SCOPE_POD', undefined],
    [
      'an action the profile lacks',
      { ...scope, profile: 'readonly', cluster: 'dev' },
      { action: 'logs', namespace: 'payments', pod: 'a' },
      'ACTION_NOT_ALLOWED',
      'profiles.readonly.actions',
    ],
    [
      'a resource the profile lacks',
      scope,
      { action: 'list', namespace: 'payments', resource: 'deployments' },
      'ACTION_NOT_ALLOWED',
      'profiles.debug.actions.list.resources',
    ],
    ['an argv no rule allows', scope, exec(['top']), 'COMMAND_NOT_ALLOWED', undefined],
    ['extra args to an exact rule', scope, exec(['ps', 'aux', 'x']), 'COMMAND_NOT_ALLOWED', undefined],
    [
      'a basename match the profile did not ask for',
      scope,
      exec(['/bin/ps', 'aux']),
      'COMMAND_NOT_ALLOWED',
      undefined,
    ],
    [
      'a deny rule over an allow rule',
      scope,
      exec(['ls', '/root', '-la']),
      'COMMAND_DENIED',
      'profiles.debug.commands.deny[0](no-ls-root)',
    ],
    [
      'a deny rule by basename',
      scope,
      exec(['ls', '/root']),
      'COMMAND_DENIED',
      'profiles.debug.commands.deny[0](no-ls-root)',
    ],
    ['a NUL byte', scope, exec(['ps', 'a\u0000ux']), 'COMMAND_DENIED', 'builtin:forbidden-character'],
    [
      'a port the profile lacks',
      scope,
      { action: 'port-forward', namespace: 'payments', pod: 'api-0', port: 22 },
      'PORT_NOT_ALLOWED',
      'profiles.debug.actions.port-forward.ports',
    ],
    [
      'a port given as a string number',
      scope,
      { action: 'port-forward', namespace: 'payments', pod: 'api-0', port: '8080' },
      'PORT_NOT_ALLOWED',
      'profiles.debug.actions.port-forward.ports',
    ],
    [
      'an image the profile lacks',
      scope,
      { action: 'debug', namespace: 'payments', pod: 'api-0', image: 'busybox:latest' },
      'IMAGE_NOT_ALLOWED',
      'profiles.debug.actions.debug.images',
    ],
    [
      'a shell action without shell',
      scope,
      { action: 'shell', namespace: 'payments', pod: 'api-0', tty: true },
      'SHELL_NOT_ALLOWED',
      'profiles.debug.actions',
    ],
    [
      'an unlisted shell command',
      { ...scope, profile: 'shell' },
      { action: 'shell', namespace: 'payments', pod: 'api-0', argv: ['/bin/zsh'] },
      'SHELL_NOT_ALLOWED',
      'profiles.shell.actions.shell.argv',
    ],
    ['a shell through exec', scope, { ...exec(['sh']), tty: true }, 'SHELL_NOT_ALLOWED', undefined],
    [
      'exec of a shell even where shell is allowed',
      { ...scope, profile: 'shell' },
      exec(['/bin/sh']),
      'SHELL_NOT_ALLOWED',
      undefined,
    ],
  ])('%s', (_name, s, intent, code, rule) => {
    const result = authorizeIntent(policy, s, intent);
    expect(result.allow).toBe(false);
    if (result.allow) return;
    expect(result.code).toBe(code);
    expect(result.rule).toBe(rule);
    expect(result.reason).not.toBe('');
  });
});
