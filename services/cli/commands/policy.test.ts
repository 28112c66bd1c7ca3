import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { testPolicyJson } from '../../core/policy/testing.js';
import { main } from '../main.js';
import { resetAfterEachCommand } from './cli-test-support.js';
import { type PolicyCommandIo, parseIntentOperands, registerPolicyCommands } from './policy.js';

const example = readFileSync('docs/policy.example.json', 'utf8');

/** The words of `line`, split at its spaces. */
const words = (line: string): string[] => line.split(' ');

interface Run {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `airlock policy ...` against in-memory files. */
async function run(args: string[], files: Record<string, string> = { 'policy.json': example }): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: PolicyCommandIo = {
    stdout: {
      write: (s: string) => {
        stdout += s;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
      },
    },
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: ${path}`);
      return text;
    },
    now: () => new Date('2026-11-25T09:30:00Z'),
  };
  const program = new Command('airlock').exitOverride();
  program.configureOutput({
    writeOut: (s) => {
      stdout += s;
    },
    writeErr: (s) => {
      stderr += s;
    },
  });
  registerPolicyCommands(program, io);
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'airlock', 'policy', ...args]);
    return { stdout, stderr, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = undefined;
  }
}

const asAlice = words('--user alice --groups payments-oncall --profile oncall-debug --namespace payments');

/** Runs `airlock policy explain policy.json` as alice (oncall-debug in payments) with `args`. */
const explainAsAlice = (...args: string[]) => run(['explain', 'policy.json', ...asAlice, ...args]);

resetAfterEachCommand();

describe('airlock policy check', () => {
  it('accepts the example with no warnings and exit 0', async () => {
    const r = await run(['check', 'policy.json']);
    expect(r).toEqual({ stdout: 'policy.json: valid, 0 warnings\n', stderr: '', exitCode: 0 });
  });

  it('prints schema errors by path on stderr and sets exit 1', async () => {
    const bad = JSON.parse(example);
    bad.version = 2;
    bad.profiles['oncall-debug'].actions['port-forward'].ports = [0];
    const r = await run(['check', 'bad.json'], { 'bad.json': JSON.stringify(bad) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split('\n')).toEqual([
      'bad.json: error: version: must be 1',
      'bad.json: error: profiles.oncall-debug.actions.port-forward.ports[0]: must be a port number (1-65535) or a port name',
      'bad.json: invalid, 2 errors',
      '',
    ]);
  });

  it('reports invalid JSON as an error at the root', async () => {
    const r = await run(['check', 'bad.json'], { 'bad.json': '{' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^bad\.json: error: \(root\): not valid JSON/);
  });

  it('prints lint warnings and still exits 0', async () => {
    const json = testPolicyJson();
    const r = await run(['check', 'p.json'], { 'p.json': JSON.stringify(json) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('p.json: warning: profiles.shell: no maxTtlSeconds');
    expect(r.stdout).toMatch(/valid, [0-9]+ warnings\n$/);
  });

  it('warns about a file reader whose wildcard path reaches the ServiceAccount token and /proc/*/environ', async () => {
    const json = JSON.parse(example);
    json.profiles['oncall-debug'].commands.allow.push({ argv: ['cat', '...'] });
    const r = await run(['check', 'p.json'], { 'p.json': JSON.stringify(json) });
    expect(r.exitCode).toBe(0);
    const i = json.profiles['oncall-debug'].commands.allow.length - 1;
    expect(r.stdout).toContain(
      `p.json: warning: profiles.oncall-debug.commands.allow[${i}]: cat reads files and this rule leaves a path to a wildcard: ` +
        'it reaches the ServiceAccount token and process environments (/proc/*/environ)',
    );
  });

  it('prints JSON with --output json', async () => {
    const r = await run(['check', 'policy.json', '--output', 'json']);
    expect(JSON.parse(r.stdout)).toEqual({ valid: true, errors: [], warnings: [] });
  });

  it('throws USAGE for a missing file', async () => {
    await expect(run(['check', 'missing.json'])).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('airlock policy explain', () => {
  it('allows an approved command and names the rule', async () => {
    const r = await explainAsAlice(
      '--reason',
      'INC-1234 errors',
      ...words('-- exec payments-api-0 -- ps aux'),
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('decision: allow\n');
    expect(r.stdout).toContain('rule:     profiles.oncall-debug.commands.allow[0](ps)\n');
  });

  it('prints the documented JSON shape', async () => {
    const r = await explainAsAlice(
      ...words('--reason INC-1234 --output json -- exec payments-api-0 -- sh -c id'),
    );
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      decision: 'deny',
      code: 'SHELL_NOT_ALLOWED',
      rule: null,
      reason: expect.stringContaining('sh is a shell'),
    });
  });

  it('reports needs-approval with the approvers', async () => {
    const r = await explainAsAlice(...words('--output json -- port-forward payments-api-0 8080'));
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      decision: 'needs-approval',
      code: null,
      rule: 'profiles.oncall-debug.actions.port-forward.ports[0]',
      reason: expect.stringContaining('payments-leads'),
      approvers: { groups: ['payments-leads'], count: 1, pendingExpirySeconds: 3600 },
    });
  });

  it.each([
    [['logs', 'payments-api-0'], 'allow', null],
    [['port-forward', 'payments-api-0', '9090'], 'deny', 'PORT_NOT_ALLOWED'],
    [['shell', 'payments-api-0'], 'deny', 'SHELL_NOT_ALLOWED'],
    [['debug', 'payments-api-0', 'busybox'], 'deny', 'ACTION_NOT_ALLOWED'],
    [['list', 'pods'], 'allow', null],
    [['list', 'nodes'], 'deny', 'ACTION_NOT_ALLOWED'],
    [['exec', 'db-0', '--', 'ps', 'aux'], 'deny', 'SCOPE_POD'],
    [['exec', 'payments-api-0', '--', 'cat', '/proc/1/environ'], 'deny', 'COMMAND_DENIED'],
  ])('%j → %s %s', async (intent, decision, code) => {
    const r = await explainAsAlice(...words('--reason INC-1234 -o json --'), ...intent);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision, code });
  });

  it('denies at the request stage with the request code', async () => {
    const r = await run(
      words(
        'explain policy.json --user eve --groups sales --profile oncall-debug --namespace payments -o json -- logs payments-api-0',
      ),
    );
    expect(JSON.parse(r.stdout)).toMatchObject({
      decision: 'deny',
      code: 'REQUEST_DENIED',
      rule: 'profiles.oncall-debug.requesterGroups',
    });
  });

  it('lists nodes under cluster-read inside business hours', async () => {
    const r = await run(
      words(
        'explain policy.json --user bob --groups engineering --profile cluster-read --namespace default --cluster prod-eu -- list nodes',
      ),
    );
    expect(r.stdout).toContain('decision: allow');
    const late = await run(
      words(
        'explain policy.json --user bob --groups engineering --profile cluster-read --namespace default --at 2026-11-25T20:00:00Z -- list nodes',
      ),
    );
    expect(late.stdout).toContain('decision: needs-approval');
    expect(late.stdout).toContain('outside business hours (Europe/Berlin)');
  });

  it('explains a runbook request for its machine identity', async () => {
    const bot = words(
      'explain policy.json --user system:serviceaccount:ops:incident-bot --groups runbook-runners --kind machine --profile oncall-debug --namespace payments --runbook payments-health -o json',
    );
    expect(
      JSON.parse((await run([...bot, '--', 'exec', 'payments-api-0', '--', 'df', '-h'])).stdout),
    ).toMatchObject({
      decision: 'allow',
      rule: 'profiles.oncall-debug.commands.allow[4](df)',
    });
    expect(
      JSON.parse((await run([...bot, '--', 'exec', 'payments-api-0', '--', 'ls', '-la', '/app'])).stdout),
    ).toMatchObject({
      decision: 'deny',
      code: 'SCOPE_RUNBOOK',
      rule: 'runbooks.payments-health.steps',
    });
  });

  it.each([[['frobnicate', 'x']], [['exec']], [['logs']], [['port-forward', 'p']], [['list', 'secrets']]])(
    'throws USAGE for %j',
    async (intent) => {
      await expect(run(['explain', 'policy.json', ...asAlice, '--', ...intent])).rejects.toMatchObject({
        code: 'USAGE',
      });
    },
  );

  it('parses intents into typed values', () => {
    expect(parseIntentOperands(['exec', 'p', '--', 'ls', '--', '-la'], 'ns')).toEqual({
      action: 'exec',
      namespace: 'ns',
      pod: 'p',
      argv: ['ls', '--', '-la'],
    });
    expect(parseIntentOperands(['port-forward', 'p', 'http'], 'ns')).toMatchObject({ port: 'http' });
    expect(parseIntentOperands(['port-forward', 'p', '80'], 'ns')).toMatchObject({ port: 80 });
  });
});

describe('through main()', () => {
  it('has help for every subcommand', async () => {
    for (const args of [
      ['policy', '--help'],
      ['policy', 'check', '--help'],
      ['policy', 'explain', '--help'],
    ]) {
      let out = '';
      vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
        out += String(s);
        return true;
      });
      expect(await main(['node', 'airlock', ...args])).toBe(0);
      vi.restoreAllMocks();
      expect(out).toContain('Usage: airlock policy');
    }
  });

  it('maps an invalid policy to exit 1 and a usage error to exit 2', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(
      await main(['node', 'airlock', 'policy', 'check', 'test/fixtures/policy/bypass-corpus.json']),
    ).toBe(1);
    process.exitCode = undefined;
    expect(await main(['node', 'airlock', 'policy', 'check', '/nonexistent/policy.json'])).toBe(2);
    expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain(
      'airlock: USAGE: cannot read policy file',
    );
  });
});
