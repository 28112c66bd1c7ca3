import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authorizeIntent, lintPolicy, loadPolicy } from '../../core/policy/index.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { DEMO_SHELL_PROFILE, writeDevPolicy } from './demo-policy.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-demo-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the dev stack policy', () => {
  const path = join(dir, 'policy.json');
  const policy = writeDevPolicy(repoRoot(), path, { cluster: 'dev', namespace: 'payments' });
  const example = loadPolicy(readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8'));

  it('is the example plus demo-shell, written where the tiers read it', () => {
    expect(loadPolicy(readFileSync(path, 'utf8'))).toEqual(policy);
    expect(Object.keys(policy.profiles)).toEqual([...Object.keys(example.profiles), DEMO_SHELL_PROFILE]);
    for (const name of Object.keys(example.profiles))
      expect(policy.profiles[name]).toEqual(example.profiles[name]);
    expect(policy.runbooks).toEqual(example.runbooks);
  });

  it('demo-shell: /bin/sh only, one namespace, at most 15 minutes, a lead approves and nothing auto-approves', () => {
    const profile = policy.profiles[DEMO_SHELL_PROFILE]!;
    expect(profile.actions.shell).toEqual({ argv: [['/bin/sh']] });
    expect(profile.actions.exec).toBeUndefined();
    expect(profile.scope).toMatchObject({ clusters: ['dev'], namespaces: ['payments'] });
    expect(profile.maxTtlSeconds).toBe(900);
    expect(profile.approval.autoApprove ?? []).toEqual([]);
    expect(profile.approval.manual).toMatchObject({ approverGroups: ['payments-leads'], count: 1 });
    // The only lint finding is the one the shell is there for.
    expect(lintPolicy(policy).map((w) => w.path)).toEqual([`profiles.${DEMO_SHELL_PROFILE}.actions.shell`]);
  });

  it('allows a shell in a payments pod under demo-shell and still refuses it under oncall-debug', () => {
    const session = (profile: string) => ({
      profile,
      cluster: 'dev',
      namespace: 'payments',
      podPatterns: ['payments-*'],
    });
    const shell = { action: 'shell' as const, namespace: 'payments', pod: 'payments-api-0' };
    expect(authorizeIntent(policy, session(DEMO_SHELL_PROFILE), shell)).toMatchObject({ allow: true });
    expect(authorizeIntent(policy, session('oncall-debug'), shell)).toMatchObject({
      allow: false,
      code: 'SHELL_NOT_ALLOWED',
    });
  });
});
