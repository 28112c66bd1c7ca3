import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ARGV_LIMITS } from './argv.js';
import { authorizeArgv, authorizeIntent } from './authorize.js';
import { corpus, exec, lenient, policy, scope } from './authorize-test-support.js';
import type { Intent, Policy } from './types.js';
import { loadPolicy } from './validate.js';

// Properties of authorizeIntent and authorizeArgv over random input (fast-check).

/** Every code authorizeIntent may refuse with, by what it checks. */
const CODES_BY_CHECK = {
  profile: ['PROFILE_UNKNOWN'],
  scope: ['SCOPE_CLUSTER', 'SCOPE_NAMESPACE', 'SCOPE_POD'],
  action: ['ACTION_NOT_ALLOWED', 'PORT_NOT_ALLOWED', 'IMAGE_NOT_ALLOWED'],
  command: ['COMMAND_NOT_ALLOWED', 'COMMAND_DENIED', 'SHELL_NOT_ALLOWED'],
};
const CODES = new Set(Object.values(CODES_BY_CHECK).flat());

/** A policy of one profile `p` that allows exec anywhere, under `commands`. */
function execOnlyPolicy(commands: Record<string, unknown>): Policy {
  const p = {
    groups: ['jit:p'],
    requesterGroups: ['g'],
    scope: { clusters: ['*'], namespaces: ['*'], pods: ['*'] },
    actions: { exec: {} },
    commands,
    approval: { manual: { approverGroups: ['a'], count: 1, pendingExpirySeconds: 600 } },
  };
  return loadPolicy({ version: 1, limits: { maxTtlSeconds: 600 }, profiles: { p } });
}

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
          const p = execOnlyPolicy({
            matchBasename: false,
            allow: duplicateAllow ? [allowRule, allowRule] : [allowRule],
            deny: [denyRule],
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
    execOnlyPolicy({ matchBasename: false, allow: [{ argv: [a0, '...'] }], deny: [{ argv: deny }] });

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
