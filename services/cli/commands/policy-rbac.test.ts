import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerPolicyCommands } from './policy.js';
import type { PolicyCommandIo } from './policy-command-io.js';
import { toYamlDocuments } from './policy-rbac.js';

const example = readFileSync('docs/policy.example.json', 'utf8');

/** Runs `airlock policy rbac ...` against in-memory files. */
async function run(args: string[]): Promise<{ stdout: string; stderr: string; error?: unknown }> {
  const out = { stdout: '', stderr: '' };
  const toStdout = (s: string) => {
    out.stdout += s;
  };
  const toStderr = (s: string) => {
    out.stderr += s;
  };
  const io: PolicyCommandIo = {
    stdout: { write: toStdout },
    stderr: { write: toStderr },
    readFile: (path) => {
      if (path !== 'policy.json') throw new Error(`ENOENT: ${path}`);
      return example;
    },
    now: () => new Date('2026-11-25T09:30:00Z'),
  };
  const program = new Command('airlock').exitOverride();
  program.configureOutput({ writeOut: toStdout, writeErr: toStderr });
  registerPolicyCommands(program, io);
  try {
    await program.parseAsync(['node', 'airlock', 'policy', 'rbac', ...args]);
    return { ...out };
  } catch (error) {
    return { ...out, error };
  }
}

describe('airlock policy rbac', () => {
  it('deploy/base/executor-rbac.yaml is exactly what the command renders for docs/policy.example.json (no drift)', async () => {
    const { stdout, error } = await run(['policy.json', '--cluster', 'dev', '--namespace', 'payments']);
    expect(error).toBeUndefined();
    expect(stdout).toBe(readFileSync('deploy/base/executor-rbac.yaml', 'utf8'));
  });

  it('prints a v1 List with --output json and takes --namespace more than once and the SA flags', async () => {
    const { stdout } = await run([
      'policy.json',
      '--cluster',
      'dev',
      '--namespace',
      'payments',
      '--namespace',
      'billing',
      '--sa-name',
      'exec',
      '--sa-namespace',
      'ops',
      '--output',
      'json',
    ]);
    const list = JSON.parse(stdout) as {
      kind: string;
      items: { kind: string; metadata: { namespace?: string } }[];
    };
    expect(list.kind).toBe('List');
    expect(list.items[1]).toMatchObject({
      subjects: [{ kind: 'ServiceAccount', name: 'exec', namespace: 'ops' }],
    });
    expect(new Set(list.items.map((i) => i.metadata.namespace))).toEqual(
      new Set([undefined, 'billing', 'payments']),
    );
  });

  it('requires --cluster and --namespace', async () => {
    expect((await run(['policy.json', '--namespace', 'payments'])).stderr).toContain("'--cluster <cluster>'");
    expect((await run(['policy.json', '--cluster', 'dev'])).stderr).toContain("'--namespace <namespace>'");
  });

  it('explains the executor rights in --help', async () => {
    const { stdout } = await run(['--help']);
    expect(stdout).toContain('airlock:session');
    expect(stdout).toContain('airlock.dev/user');
    expect(stdout).toContain('--sa-namespace');
    expect(stdout).toContain('--impersonation');
    expect(stdout).toContain('impersonate-on:user-info:<verb>');
  });

  it('renders constrained impersonation by default and the classic verb with --impersonation classic', async () => {
    const args = ['policy.json', '--cluster', 'dev', '--namespace', 'payments', '-o', 'json'];
    const verbsOf = (stdout: string) =>
      (JSON.parse(stdout) as { items: { rules?: { verbs: string[] }[] }[] }).items[0]!.rules!.flatMap(
        (r) => r.verbs,
      );
    const constrained = verbsOf((await run(args)).stdout);
    expect(constrained).toContain('impersonate:user-info');
    expect(constrained).toContain('impersonate-on:user-info:create');
    expect(constrained).not.toContain('impersonate');
    const classic = verbsOf((await run([...args, '--impersonation', 'classic'])).stdout);
    expect(classic).toContain('impersonate');
    expect(classic.some((v) => v.startsWith('impersonate-on:') || v.startsWith('impersonate:'))).toBe(false);
    expect((await run([...args, '--impersonation', 'everything'])).stderr).toContain('constrained, classic');
  });
});

describe('toYamlDocuments', () => {
  it('writes block YAML that quotes anything a plain scalar could misread', () => {
    expect(
      toYamlDocuments([
        {
          kind: 'Role',
          metadata: { name: 'x', labels: { 'a.b/c': 'yes' } },
          rules: [{ apiGroups: [''], resources: ['pods'], resourceNames: ['jit:a', '1', 'no'] }],
          empty: [],
          none: {},
        },
        { kind: 'Other' },
      ]),
    ).toBe(
      [
        'kind: Role',
        'metadata:',
        '  name: x',
        '  labels:',
        '    a.b/c: "yes"',
        'rules:',
        '- apiGroups:',
        '  - ""',
        '  resources:',
        '  - pods',
        '  resourceNames:',
        '  - "jit:a"',
        '  - "1"',
        '  - "no"',
        'empty: []',
        'none: {}',
        '---',
        'kind: Other',
        '',
      ].join('\n'),
    );
  });
});
