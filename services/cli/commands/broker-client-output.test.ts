import { describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../main.js';
import { cli, env, personIo, useBrokerTestEnv } from './broker-client-test-support.js';
import { runLogin } from './login.js';
import { parseTtl } from './ttl.js';

useBrokerTestEnv();

describe('airlock broker client commands: --output json', () => {
  it('login prints {user, groups, expiresAt}', async () => {
    const erin = personIo('erin');
    expect(await runLogin({ broker: env.url, ca: env.caFile, output: 'json' }, erin)).toBe(0);
    const login = JSON.parse(erin.stdout.join(''));
    expect(login).toEqual({ user: 'erin', groups: ['airlock-admins'], expiresAt: expect.any(String) });
    expect(Date.parse(login.expiresAt)).toBeGreaterThan(env.now().getTime());
  });

  it('reports an error as {code, message} on stderr, nothing on stdout, with the text-mode exit status', async () => {
    const erin = personIo('erin');
    await runLogin({ broker: env.url, ca: env.caFile }, erin);
    erin.stdout.length = 0;
    erin.stderr.length = 0;
    expect(await cli(erin, ['status', 'req-00000000000000000000', '--output', 'json'])).toBe(1);
    expect(erin.stdout).toEqual([]);
    expect(JSON.parse(erin.stderr.join(''))).toEqual({
      code: 'REQUEST_NOT_FOUND',
      message: expect.any(String),
    });

    // A USAGE error exits 2, as in text mode (erin has no ~/.ssh/id_ed25519.pub).
    erin.stderr.length = 0;
    const request = [
      'request',
      '--profile',
      'oncall-debug',
      '--cluster',
      'prod-eu',
      '--namespace',
      'payments',
    ];
    expect(await cli(erin, [...request, '--pod', 'p', '--ttl', '30m', '--reason', 'r', '-o', 'json'])).toBe(
      2,
    );
    const usage = JSON.parse(erin.stderr.join(''));
    expect(usage.code).toBe('USAGE');
    expect(usage.message).toMatch(/^cannot read public key .*id_ed25519\.pub/);
  });

  it('refuses an --output value other than text or json as a USAGE error (exit 2)', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'airlock', 'status', '--output', 'yaml'])).toBe(2);
      expect(stderr).toHaveBeenCalledWith('airlock: USAGE: --output yaml is not one of text, json\n');
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('airlock broker client commands: parsing and help', () => {
  it('parses TTLs', () => {
    expect(parseTtl('30m')).toBe(1800);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl('1h30m')).toBe(5400);
    expect(parseTtl('900')).toBe(900);
    expect(parseTtl('45s')).toBe(45);
    expect(() => parseTtl('soon')).toThrow(/not a duration/);
  });

  it.each(['login', 'request', 'approve', 'deny', 'revoke', 'cert', 'status'])(
    'airlock %s --help',
    (name) => {
      const program = buildProgram();
      const sub = program.commands.find((c) => c.name() === name);
      expect(sub).toBeDefined();
      const help = sub?.helpInformation() ?? '';
      expect(help).toContain('--broker');
      expect(help).toContain('-o, --output <text|json>');
      expect(help).toContain(`Usage: airlock ${name}`);
    },
  );
});
