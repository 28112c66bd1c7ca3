import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../repo/repo-root.js';
import { celGlob, celString, globToRe2 } from './admission-cel.js';
import { admissionStaleness, policyDigest, renderAdmission } from './admission-render.js';
import { loadPolicy } from './index.js';

const text = readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8');
const policy = loadPolicy(text);

describe('renderAdmission', () => {
  const objects = renderAdmission(policy, { cluster: 'dev', policyText: text });

  it('renders the write rule, the scope rule and one policy per profile, each with its binding', () => {
    const names = objects.filter((o) => o.kind === 'ValidatingAdmissionPolicy').map((o) => o.metadata.name);
    expect(names).toEqual([
      'airlock-jit-writes',
      'airlock-jit-scope',
      ...Object.keys(policy.profiles)
        .sort()
        .map((p) => `airlock-profile-${p}`),
    ]);
    const bindings = objects.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding');
    expect(bindings.map((b) => b.spec)).toEqual(
      names.map((policyName) => ({ policyName, validationActions: ['Deny'] })),
    );
  });

  it('is deterministic and annotates every object with the policy digest', () => {
    expect(JSON.stringify(renderAdmission(policy, { cluster: 'dev', policyText: text }))).toBe(
      JSON.stringify(objects),
    );
    for (const o of objects)
      expect(o.metadata.annotations['airlock.dev/policy-digest']).toBe(policyDigest(text));
  });

  it('fails closed: every policy refuses on error and the profile policies match on the rendered groups', () => {
    for (const o of objects.filter((x) => x.kind === 'ValidatingAdmissionPolicy')) {
      expect(o.spec.failurePolicy).toBe('Fail');
    }
    const profile = objects.find((o) => o.metadata.name === 'airlock-profile-oncall-debug')!;
    const [condition] = profile.spec.matchConditions as { expression: string }[];
    expect(condition!.expression).toContain('request.namespace');
    expect(condition!.expression).toContain('request.userInfo.groups');
  });

  it('refuses a malformed cluster name', () => {
    expect(() => renderAdmission(policy, { cluster: 'a:b', policyText: text })).toThrow(
      /not a valid cluster/,
    );
  });
});

describe('CEL building blocks', () => {
  it('quotes strings so that no character ends the literal', () => {
    expect(celString('a"b\\c\n\u00e9')).toBe('"a\\"b\\\\c\\u000a\\u00e9"');
  });

  it('turns globs into anchored RE2 with every non-word character escaped', () => {
    expect(globToRe2('/proc/*/env?.x')).toBe('^\\x{2f}proc\\x{2f}[^/]*\\x{2f}env[^/]\\x{2e}x$');
    expect(celGlob('a', 'exact')).toBe('a == "exact"');
  });
});

describe('admissionStaleness', () => {
  const rendered = JSON.stringify(renderAdmission(policy, { cluster: 'dev', policyText: text }));

  it('is silent when the objects were rendered from this policy text', () => {
    expect(admissionStaleness(text, rendered)).toEqual([]);
  });

  it('warns when the policy changed since the objects were rendered', () => {
    const warnings = admissionStaleness(`${text}\n`, rendered);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/rendered from another version of the policy/);
  });

  it('warns when the objects carry no digest at all', () => {
    expect(admissionStaleness(text, 'kind: ValidatingAdmissionPolicy\n')[0]!.message).toMatch(
      /no policy digest/,
    );
  });
});
