import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { argvPatternSubsumes, lintPolicy } from './lint.js';
import { testPolicy } from './testing.js';
import { loadPolicy } from './validate.js';

// biome-ignore lint/suspicious/noExplicitAny: tests poke at untyped JSON
type Any = any;

describe('lintPolicy', () => {
  it('reports nothing alarming for the shipped example', () => {
    const example = loadPolicy(readFileSync('docs/policy.example.json', 'utf8'));
    expect(lintPolicy(example)).toEqual([]);
  });

  it('reports each finding by path', () => {
    const policy = testPolicy((j: Any) => {
      j.profiles.debug.commands.allow.push(
        { argv: ['find', '...'] },
        { argv: ['ls', '-la'] },
        { argv: ['ls', '/root', 'x'] },
        { argv: ['env', '*'] },
        { argv: ['curl', '-sS', 'http://localhost/'] },
      );
      j.profiles.debug.approval.autoApprove.push(
        { reasonPattern: '.*' },
        { requesterGroups: ['oncall', 'sales'], maxTtlSeconds: 7200 },
      );
      j.profiles.shell.approval.manual = { approverGroups: ['sre'], count: 1, pendingExpirySeconds: 600 };
      j.runbooks.orphan = { steps: [['ps', 'aux']] };
      j.profiles.readonly.commands = { matchBasename: false, allow: [{ argv: ['ps'] }], deny: [] };
    });
    const byPath = new Map<string, string[]>();
    for (const w of lintPolicy(policy)) byPath.set(w.path, [...(byPath.get(w.path) ?? []), w.message]);
    const at = (path: string) => (byPath.get(path) ?? []).join(' | ');
    expect(at('profiles.debug.commands.allow[5]')).toContain(
      'find can spawn a shell, run other commands, write files',
    );
    expect(at('profiles.debug.commands.allow[6]')).toContain(
      'unreachable: every argv it matches is already allowed by commands.allow[1]',
    );
    expect(at('profiles.debug.commands.allow[7]')).toContain('denied by commands.deny[0]');
    expect(at('profiles.debug.commands.allow[8]')).toContain('always refused by the built-in guard');
    expect(byPath.has('profiles.debug.commands.allow[9]')).toBe(false); // literal curl cannot write files
    expect(byPath.has('profiles.debug.commands.allow[4]')).toBe(false); // literal env runs nothing
    expect(at('profiles.debug.approval.autoApprove[2]')).toContain(
      'any requester of the profile can satisfy this rule alone',
    );
    expect(at('profiles.debug.approval.autoApprove[3].maxTtlSeconds')).toContain('always holds');
    expect(at('profiles.debug.approval.autoApprove[3].requesterGroups')).toBe(
      "sales is not in the profile's requesterGroups, so it can never request",
    );
    expect(at('profiles.shell')).toContain('no maxTtlSeconds');
    expect(at('profiles.shell.actions.shell')).toContain('interactive shells are allowed');
    expect(at('profiles.shell.approval.manual')).toContain('any two members can grant each other access');
    expect(at('profiles.readonly.commands')).toContain('unreachable');
    expect(at('runbooks.orphan')).toContain('no profile lists this runbook');
  });

  it('names the pod secrets a file reader with a wildcard path reaches', () => {
    const policy = testPolicy((j: Any) => {
      j.profiles.debug.commands.allow = [
        { argv: ['cat', '...'] },
        { argv: ['head', '-n', '5', '/var/run/secrets/kubernetes.io/serviceaccount/*'] },
        { argv: ['grep', '-r', '*', '/proc/*/environ'] },
        { argv: ['tail', '/proc/*/status'] },
        { argv: ['cat', '*'] },
        { argv: ['less', '/var/log/app.log'] },
      ];
      j.profiles.debug.commands.deny = [];
    });
    const reads = (i: number) =>
      lintPolicy(policy)
        .filter((w) => w.path === `profiles.debug.commands.allow[${i}]` && w.message.includes('reads files'))
        .map((w) => w.message);
    expect(reads(0)).toEqual([
      'cat reads files and this rule leaves a path to a wildcard: it reaches the ServiceAccount token and ' +
        'process environments (/proc/*/environ); allow literal paths (deny rules are a backstop, see docs/policy.md)',
    ]);
    expect(reads(1).join()).toContain('it reaches the ServiceAccount token;');
    expect(reads(2).join()).toContain('it reaches process environments (/proc/*/environ);');
    // A glob that cannot name a secret, a relative single segment and a literal path are not reported.
    expect(reads(3)).toEqual([]);
    expect(reads(4)).toEqual([]);
    expect(reads(5)).toEqual([]);
  });

  it('does not flag a runbook-only rule as satisfiable alone', () => {
    const warnings = lintPolicy(testPolicy()).map((w) => w.path);
    expect(warnings).not.toContain('profiles.debug.approval.autoApprove[1]');
    expect(warnings).not.toContain('profiles.readonly.approval.autoApprove[0]');
  });
});

describe('argvPatternSubsumes', () => {
  it.each([
    [['ls', '...'], ['ls', '-la'], true],
    [['ls', '...'], ['ls'], true],
    [['ls', '*'], ['ls', '...'], false],
    [['ls', '*', '...'], ['ls', '-l', 'x', '...'], true],
    [['ls', '-l'], ['ls', '-l', '...'], false],
    [['cat', '/proc/*/status'], ['cat', '/proc/1/status'], true],
    [['cat', '/proc/*/status'], ['cat', '/proc/*/limits'], false],
  ])('%j covers %j: %s', (general, specific, expected) => {
    expect(argvPatternSubsumes(general, specific)).toBe(expected);
  });
});
