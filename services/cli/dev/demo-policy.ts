/**
 * The policy `airlock dev up` runs: docs/policy.example.json plus one demo
 * profile, `demo-shell`, that allows an interactive shell (and so a pty) in
 * a demo pod, so the walkthrough can show the prompt, a recorded shell and
 * `airlock audit play`.
 *
 * The profile lives here rather than in docs/policy.example.json: that file
 * is the example a team starts from and what deploy/base ships
 * (deploy/base/config/policy.json, the rendered RBAC and admission policies),
 * and an interactive shell — whose typed commands no command rule checks —
 * has no place in it. The dev stack writes the merged policy to its state
 * dir, where the tiers read it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy, type Policy } from '../../core/policy/index.js';

/** The demo profile that allows an interactive shell. */
export const DEMO_SHELL_PROFILE = 'demo-shell';

/**
 * Short-lived, one namespace, approved by a lead (never automatically), for
 * the on-call demo user: list and get pods, and `/bin/sh` as the only shell.
 */
function demoShellProfile(cluster: string, namespace: string): Record<string, unknown> {
  return {
    description:
      'Demo only (airlock dev up): an interactive, recorded shell in a payments pod, approved by a lead.',
    groups: ['jit:demo-shell:{namespace}'],
    requesterGroups: ['payments-oncall'],
    maxTtlSeconds: 900,
    scope: { clusters: [cluster], namespaces: [namespace], pods: ['payments-*'] },
    actions: {
      list: { resources: ['pods'] },
      get: { resources: ['pods'] },
      shell: { argv: [['/bin/sh']] },
    },
    approval: { manual: { approverGroups: ['payments-leads'], count: 1, pendingExpirySeconds: 900 } },
  };
}

/**
 * Writes docs/policy.example.json with the `demo-shell` profile added to
 * `path` and returns it loaded: a profile the validator refuses fails dev up
 * before anything starts.
 */
export function writeDevPolicy(
  root: string,
  path: string,
  scope: { cluster: string; namespace: string },
): Policy {
  const example = JSON.parse(readFileSync(join(root, 'docs', 'policy.example.json'), 'utf8')) as {
    $schema?: string;
    profiles: Record<string, unknown>;
  };
  delete example.$schema;
  example.profiles[DEMO_SHELL_PROFILE] = demoShellProfile(scope.cluster, scope.namespace);
  const text = `${JSON.stringify(example, null, 2)}\n`;
  const policy = loadPolicy(text);
  writeFileSync(path, text);
  return policy;
}
