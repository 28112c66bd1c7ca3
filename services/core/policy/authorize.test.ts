import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ARGV_LIMITS } from './argv.js';
import { authorizeArgv, authorizeIntent } from './authorize.js';
import { runbookScope, runbookStepsDigest } from './runbook.js';
import { testPolicy } from './testing.js';
import type { AuthorizeDenyCode, Intent, Policy, Scope } from './types.js';
import { loadPolicy } from './validate.js';

const policy = testPolicy();
const scope: Scope = { profile: 'debug', cluster: 'prod-eu', namespace: 'payments', podPatterns: ['api-*'] };
const exec = (argv: readonly string[]): Intent => ({
  action: 'exec',
  namespace: 'payments',
  pod: 'api-0',
  argv,
});

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

describe('runbook sessions (finding 1)', () => {
  const snapshot = runbookScope(policy, 'snapshot')!;
  const rbScope: Scope = { ...scope, runbook: snapshot };
  it('allow exactly the runbook steps', () => {
    expect(authorizeIntent(policy, rbScope, exec(['ls', '-la', '/app']))).toEqual({
      allow: true,
      rule: 'profiles.debug.commands.allow[1](ls)',
    });
    expect(authorizeIntent(policy, rbScope, exec(['ps', 'aux']))).toMatchObject({ allow: true });
  });
  it('refuse other commands the profile would allow with SCOPE_RUNBOOK', () => {
    expect(authorizeIntent(policy, rbScope, exec(['ls']))).toEqual({
      allow: false,
      code: 'SCOPE_RUNBOOK',
      rule: 'runbooks.snapshot.steps',
      reason: 'argv is not a step of runbook "snapshot"',
    });
    expect(authorizeIntent(policy, rbScope, exec(['ps', 'aux', 'x']))).toMatchObject({
      code: 'SCOPE_RUNBOOK',
    });
  });
  it.each<[string, Intent]>([
    ['logs', { action: 'logs', namespace: 'payments', pod: 'api-0' }],
    ['list pods', { action: 'list', namespace: 'payments', resource: 'pods' }],
    ['get pod', { action: 'get', namespace: 'payments', resource: 'pods', pod: 'api-0' }],
    ['port-forward', { action: 'port-forward', namespace: 'payments', pod: 'api-0', port: 8080 }],
    ['shell', { action: 'shell', namespace: 'payments', pod: 'api-0' }],
    ['debug', { action: 'debug', namespace: 'payments', pod: 'api-0', image: 'busybox:1.36' }],
  ])('refuse %s with SCOPE_RUNBOOK', (_name, intent) => {
    expect(authorizeIntent(policy, rbScope, intent)).toMatchObject({
      allow: false,
      code: 'SCOPE_RUNBOOK',
      rule: 'runbooks.snapshot',
    });
  });
  it('refuse a runbook the policy no longer has with SCOPE_RUNBOOK_STALE', () => {
    const gone = testPolicy((json) => {
      (json.runbooks as Record<string, unknown>) = {};
      (json.profiles.debug as { runbooks?: string[] }).runbooks = undefined;
      for (const p of Object.values(json.profiles) as {
        approval: { autoApprove?: { runbookOnly?: boolean }[] };
      }[])
        p.approval.autoApprove = p.approval.autoApprove?.filter((r) => !r.runbookOnly);
    });
    expect(authorizeIntent(gone, rbScope, exec(['ps', 'aux']))).toMatchObject({
      allow: false,
      code: 'SCOPE_RUNBOOK_STALE',
    });
  });
  it('refuse a runbook the profile no longer lists with SCOPE_RUNBOOK_STALE', () => {
    expect(
      authorizeIntent(policy, { ...rbScope, runbook: { ...snapshot, name: 'other' } }, exec(['ps', 'aux'])),
    ).toMatchObject({ allow: false, code: 'SCOPE_RUNBOOK_STALE', rule: 'profiles.debug.runbooks' });
  });
  it('refuse a certificate whose step digest no longer matches the policy with SCOPE_RUNBOOK_STALE', () => {
    const edited = testPolicy((json) => {
      (json.runbooks as { snapshot: { steps: string[][] } }).snapshot.steps.push(['ls', '-la', '/tmp']);
    });
    expect(runbookScope(edited, 'snapshot')!.stepsDigest).not.toBe(snapshot.stepsDigest);
    expect(authorizeIntent(edited, rbScope, exec(['ps', 'aux']))).toEqual({
      allow: false,
      code: 'SCOPE_RUNBOOK_STALE',
      rule: 'runbooks.snapshot.steps',
      reason: 'the steps of runbook "snapshot" changed since this certificate was issued',
    });
  });
  it('refuse a malformed runbook member with SCOPE_RUNBOOK_STALE', () => {
    for (const runbook of ['snapshot', null, { stepsDigest: snapshot.stepsDigest }]) {
      const bad = { ...scope, runbook } as unknown as Scope;
      expect(authorizeIntent(policy, bad, exec(['ps', 'aux']))).toMatchObject({
        code: 'SCOPE_RUNBOOK_STALE',
      });
    }
  });
  it('the steps digest is sha256 over the steps as JSON', () => {
    expect(runbookStepsDigest([['ps', 'aux']])).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(runbookStepsDigest([['ps', 'aux']])).not.toBe(runbookStepsDigest([['ps aux']]));
    expect(runbookStepsDigest([['a', 'b']])).not.toBe(runbookStepsDigest([['a'], ['b']]));
  });
});

describe('container patterns (finding 8)', () => {
  const logs = (container?: string): Intent => ({
    action: 'logs',
    namespace: 'payments',
    pod: 'api-0',
    ...(container === undefined ? {} : { container }),
  });
  const limited = testPolicy((json) => {
    (json.profiles.debug!.scope as { containers?: string[] }).containers = ['app', 'side-*'];
  });
  it('without patterns anywhere every container, and the default container, is allowed', () => {
    expect(authorizeIntent(policy, scope, logs())).toMatchObject({ allow: true });
    expect(authorizeIntent(policy, scope, logs('anything'))).toMatchObject({ allow: true });
  });
  it('the profile limits containers', () => {
    expect(authorizeIntent(limited, scope, logs('side-car'))).toMatchObject({ allow: true });
    expect(authorizeIntent(limited, scope, logs('db'))).toEqual({
      allow: false,
      code: 'SCOPE_CONTAINER',
      rule: 'profiles.debug.scope.containers',
      reason: 'container "db" is outside the profile',
    });
  });
  it("the session's patterns limit containers further", () => {
    const s: Scope = { ...scope, containerPatterns: ['app'] };
    expect(authorizeIntent(policy, s, exec(['ps', 'aux']))).toMatchObject({ code: 'SCOPE_CONTAINER' });
    expect(authorizeIntent(policy, s, { ...exec(['ps', 'aux']), container: 'app' })).toMatchObject({
      allow: true,
    });
    expect(authorizeIntent(policy, s, { ...exec(['ps', 'aux']), container: 'db' })).toMatchObject({
      allow: false,
      code: 'SCOPE_CONTAINER',
      reason: 'container "db" is outside the session\'s containers',
    });
  });
  it('where containers are limited, the default container is refused: name one with -c', () => {
    expect(authorizeIntent(limited, scope, logs())).toMatchObject({ allow: false, code: 'SCOPE_CONTAINER' });
    expect(authorizeIntent(limited, scope, logs(''))).toMatchObject({
      allow: false,
      code: 'SCOPE_CONTAINER',
    });
  });
  it('checks a debug --target container when one is named, and needs none otherwise', () => {
    const s: Scope = { ...scope, containerPatterns: ['app'] };
    const debug: Intent = { action: 'debug', namespace: 'payments', pod: 'api-0', image: 'busybox:1.36' };
    expect(authorizeIntent(policy, s, debug)).toMatchObject({ allow: true });
    expect(authorizeIntent(policy, s, { ...debug, container: 'db' })).toMatchObject({
      code: 'SCOPE_CONTAINER',
    });
  });

  it('refuses container names that are not RFC 1123 labels', () => {
    for (const bad of ['A', 'a/b', '-a', 'a'.repeat(64), '*'])
      expect(authorizeIntent(policy, scope, logs(bad))).toMatchObject({ code: 'SCOPE_CONTAINER' });
  });
});

interface CorpusEntry {
  name: string;
  /** The profile the entry is tried under; default `corpus.scope.profile`. */
  profile?: string;
  argv: (string | { repeat: string; times: number })[];
  why: string;
  extraArgs?: { arg: string; times: number };
}
const corpus = JSON.parse(readFileSync('test/fixtures/policy/bypass-corpus.json', 'utf8')) as {
  scope: Scope;
  pod: string;
  entries: CorpusEntry[];
};
const lenient = loadPolicy(readFileSync('test/fixtures/policy/bypass-policy.json', 'utf8'));

function corpusArgv(entry: CorpusEntry): string[] {
  const argv = entry.argv.map((a) => (typeof a === 'string' ? a : a.repeat.repeat(a.times)));
  if (entry.extraArgs) for (let i = 0; i < entry.extraArgs.times; i++) argv.push(entry.extraArgs.arg);
  return argv;
}

describe('bypass corpus', () => {
  it('has entries', () => expect(corpus.entries.length).toBeGreaterThan(50));
  it.each(corpus.entries.map((e) => [e.name, e] as const))('denies %s', (_name, entry) => {
    const intent: Intent = {
      action: 'exec',
      namespace: corpus.scope.namespace,
      pod: corpus.pod,
      argv: corpusArgv(entry),
    };
    const result = authorizeIntent(
      lenient,
      { ...corpus.scope, profile: entry.profile ?? corpus.scope.profile },
      intent,
    );
    expect(result, entry.why).toMatchObject({ allow: false });
    if (!result.allow)
      expect(['COMMAND_DENIED', 'COMMAND_NOT_ALLOWED', 'SHELL_NOT_ALLOWED']).toContain(result.code);
  });
  it('still allows the benign commands of the lenient profile', () => {
    for (const argv of [
      ['ps', 'aux'],
      ['/bin/ps', '-ef'],
      ['cat', 'file.txt'],
      ['find', '.', '-name', '*.log'],
      ['echo', 'hello'],
      ['curl', '-sS', 'http://localhost:8080/'],
    ]) {
      expect(
        authorizeIntent(lenient, corpus.scope, { action: 'exec', namespace: 'payments', pod: 'api-0', argv }),
      ).toMatchObject({
        allow: true,
      });
    }
  });
  it('the readers profile still allows reading files its deny rules do not name, exactly as typed', () => {
    const readers = { ...corpus.scope, profile: 'readers' };
    for (const argv of [
      ['cat', '/proc/1/status'],
      ['cat', '/proc/1//status', '--'],
      ['cat', '-A', '/proc/self/root/etc/hostname'],
      ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt'],
    ]) {
      expect(
        authorizeIntent(lenient, readers, { action: 'exec', namespace: 'payments', pod: 'api-0', argv }),
      ).toEqual({
        allow: true,
        rule: 'profiles.readers.commands.allow[0]',
      });
    }
  });
});

const CODES = new Set([
  'PROFILE_UNKNOWN',
  'SCOPE_CLUSTER',
  'SCOPE_NAMESPACE',
  'SCOPE_POD',
  'ACTION_NOT_ALLOWED',
  'COMMAND_NOT_ALLOWED',
  'COMMAND_DENIED',
  'PORT_NOT_ALLOWED',
  'IMAGE_NOT_ALLOWED',
  'SHELL_NOT_ALLOWED',
]);

describe('properties', () => {
  const anyArg = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom('sh', '/bin/sh', '..', '...', '--', '-c', '*', '', '/proc/1/status', 'ps', 'aux', 'ls'),
    fc.string({ maxLength: 5000 }),
  );

  it('random argv never crashes evaluation and yields a known code', () => {
    fc.assert(
      fc.property(fc.array(anyArg, { maxLength: 12 }), fc.constantFrom(policy, lenient), (argv, p) => {
        const s = p === policy ? scope : corpus.scope;
        const result = authorizeIntent(p, s, { action: 'exec', namespace: s.namespace, pod: 'api-0', argv });
        if (result.allow) {
          expect(typeof result.rule).toBe('string');
          for (const a of argv) expect(a).not.toMatch(/[\u0000-\u001f\u007f]/);
        } else expect(CODES.has(result.code)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('random intents of the wrong shape never crash evaluation', () => {
    fc.assert(
      fc.property(
        fc.record({
          action: fc.oneof(
            fc.constantFrom('list', 'get', 'logs', 'exec', 'shell', 'port-forward', 'debug'),
            fc.anything(),
          ),
          namespace: fc.oneof(fc.constant('payments'), fc.anything()),
          pod: fc.oneof(fc.constant('api-0'), fc.anything()),
          argv: fc.oneof(fc.array(anyArg), fc.anything()),
          port: fc.anything(),
          image: fc.anything(),
          resource: fc.anything(),
        }),
        (intent) => {
          const result = authorizeIntent(policy, scope, intent as unknown as Intent);
          expect(typeof result.allow).toBe('boolean');
        },
      ),
      { numRuns: 1000 },
    );
  });

  const token = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,7}$/);
  /** Turns an argv into a pattern that matches it: some args become `*`, the tail may become `...`. */
  const generalise = (argv: string[], stars: boolean[], cut: number | undefined): string[] => {
    const pattern = argv.map((a, i) => (i > 0 && stars[i] && a !== '..' ? '*' : a));
    return cut !== undefined && cut >= 1 && cut < pattern.length
      ? [...pattern.slice(0, cut), '...']
      : pattern;
  };

  it('a deny rule always wins over an allow rule', () => {
    fc.assert(
      fc.property(
        fc.array(token, { minLength: 1, maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        fc.boolean(),
        (argv, allowStars, denyStars, allowCut, denyCut, duplicateAllow) => {
          const allowRule = { argv: generalise(argv, allowStars, allowCut) };
          const denyRule = { argv: generalise(argv, denyStars, denyCut) };
          const p: Policy = loadPolicy({
            version: 1,
            limits: { maxTtlSeconds: 600 },
            profiles: {
              p: {
                groups: ['jit:p'],
                requesterGroups: ['g'],
                scope: { clusters: ['*'], namespaces: ['*'], pods: ['*'] },
                actions: { exec: {} },
                commands: {
                  matchBasename: false,
                  allow: duplicateAllow ? [allowRule, allowRule] : [allowRule],
                  deny: [denyRule],
                },
                approval: { manual: { approverGroups: ['a'], count: 1, pendingExpirySeconds: 600 } },
              },
            },
          });
          const result = authorizeArgv(p, 'p', argv);
          expect(result).toMatchObject({ allow: false, code: 'COMMAND_DENIED' });
        },
      ),
      { numRuns: 500 },
    );
  });

  const pathArg = fc
    .array(fc.constantFrom('proc', '1', 'self', 'environ', 'x', '.', '..', ''), {
      minLength: 1,
      maxLength: 7,
    })
    .chain((segs) => fc.constantFrom(`/${segs.join('/')}`, segs.join('/')))
    .filter((a) => a !== '' && !a.startsWith('-'));
  const profileWith = (a0: string, deny: readonly string[]): Policy =>
    loadPolicy({
      version: 1,
      limits: { maxTtlSeconds: 600 },
      profiles: {
        p: {
          groups: ['jit:p'],
          requesterGroups: ['g'],
          scope: { clusters: ['*'], namespaces: ['*'], pods: ['*'] },
          actions: { exec: {} },
          commands: { matchBasename: false, allow: [{ argv: [a0, '...'] }], deny: [{ argv: deny }] },
          approval: { manual: { approverGroups: ['a'], count: 1, pendingExpirySeconds: 600 } },
        },
      },
    });

  it('property: a deny rule on a path pattern that matches some normalised argument denies, at any position, and argv is not rewritten', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(pathArg, token, fc.constantFrom('--', '-A', '-vET')), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.nat(),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        (args, pick, stars) => {
          const absolute = args.filter((a) => a.startsWith('/'));
          fc.pre(absolute.length > 0);
          // The oracle: Node's lexical POSIX normalisation, without a trailing "/".
          const target = posix.normalize(absolute[pick % absolute.length]!).replace(/(.)\/+$/, '$1');
          fc.pre(!target.split('/').includes('..'));
          const pattern = target
            .split('/')
            .map((s, i) => (i > 0 && s !== '' && stars[i % stars.length] ? '*' : s))
            .join('/');
          const argv = Object.freeze(['cat', ...args]);
          const result = authorizeArgv(profileWith('cat', ['cat', pattern]), 'p', argv);
          expect(result).toMatchObject({ allow: false, code: 'COMMAND_DENIED' });
          expect(argv).toEqual(['cat', ...args]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('the same argv without the denied path is allowed (the deny is what refuses)', () => {
    const p = profileWith('cat', ['cat', '/proc/*/environ']);
    expect(authorizeArgv(p, 'p', ['cat', '/proc/1/status', '--', '-A'])).toMatchObject({ allow: true });
    expect(authorizeArgv(p, 'p', ['cat', '/proc/1/status', '/proc/1//environ'])).toMatchObject({
      allow: false,
      rule: 'profiles.p.commands.deny[0]',
    });
  });

  it('caps argument length', () => {
    const long = 'a'.repeat(ARGV_LIMITS.maxArgBytes + 1);
    expect(authorizeIntent(policy, scope, exec(['ls', long]))).toMatchObject({
      allow: false,
      rule: 'builtin:arg-too-long',
    });
    expect(authorizeIntent(policy, scope, exec(['ls', long.slice(1)]))).toMatchObject({ allow: true });
  });
});
