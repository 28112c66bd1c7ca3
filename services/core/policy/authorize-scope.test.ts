import { describe, expect, it } from 'vitest';
import { authorizeIntent } from './authorize.js';
import { exec, policy, scope } from './authorize-test-support.js';
import { runbookScope, runbookStepsDigest } from './runbook.js';
import { testPolicy } from './testing.js';
import type { Intent, Scope } from './types.js';

// authorizeIntent under what a session's scope narrows: runbook steps and container patterns.

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
