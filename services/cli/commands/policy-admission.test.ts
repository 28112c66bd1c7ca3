import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../core/repo/repo-root.js';
import { policyAdmissionOutput } from './policy-admission.js';

describe('airlock policy admission', () => {
  const text = readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8');

  it('deploy/components/admission-policies holds exactly what the command prints for the example policy', () => {
    const shipped = readFileSync(
      join(repoRoot(), 'deploy', 'components', 'admission-policies', 'admission-policies.yaml'),
      'utf8',
    );
    expect(policyAdmissionOutput(text, { cluster: 'dev', output: 'yaml' })).toBe(shipped);
  });

  it('prints a v1 List with -o json', () => {
    const list = JSON.parse(policyAdmissionOutput(text, { cluster: 'dev', output: 'json' }));
    expect(list.kind).toBe('List');
    expect(list.items[0].metadata.name).toBe('airlock-jit-writes');
  });
});
