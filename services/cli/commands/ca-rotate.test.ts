/**
 * `airlock ca rotate`: each step on a keyring directory, what it tells the
 * operator to do next, and its refusals with stable codes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parsePublicKeyList } from '../../core/ssh-cert/index.js';
import { main } from '../main.js';
import { type CaRotateOptions, parseLifetime, runCaRotate } from './ca-rotate.js';
import { resetAfterEachCommand } from './cli-test-support.js';

resetAfterEachCommand();

function cli(start = Date.parse('2026-01-05T10:00:00Z')) {
  let now = start;
  const out: string[] = [];
  return {
    io: { out: (text: string) => void out.push(text), now: () => new Date(now) },
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
    last: () => out[out.length - 1] ?? '',
  };
}

const rotate = (c: ReturnType<typeof cli>, ca: string, step: string, options: CaRotateOptions) =>
  runCaRotate(ca, step, options, c.io);

describe('airlock ca rotate', () => {
  it('runs add → switch → retire for the SSH user CA, telling the operator each next step and wait', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rotate-')), 'ssh-user');
    const c = cli();
    expect(await rotate(c, 'ssh-user', 'add', { dir, name: 'q1' })).toBe(0);
    expect(c.last()).toContain('its first key q1');
    await rotate(c, 'ssh-user', 'add', { dir, name: 'q2', type: 'ecdsa-p256' });
    expect(c.last()).toContain('trusted, not signing yet');
    expect(c.last()).toContain(`airlock ca rotate ssh-user switch --dir ${dir}`);
    const bundle = () => parsePublicKeyList(readFileSync(join(dir, 'trusted-user-ca-keys.pub'), 'utf8'));
    expect(bundle().map((k) => k.type)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256']);

    await rotate(c, 'ssh-user', 'switch', { dir });
    expect(c.last()).toContain('q2 signs now; q1 stays trusted until 2026-01-06T10:00:00.000Z (1d:');

    await expect(rotate(c, 'ssh-user', 'retire', { dir })).rejects.toMatchObject({
      code: 'CA_RETIRE_TOO_EARLY',
      message: 'q1 may still have live credentials until 2026-01-06T10:00:00.000Z; wait 1d',
    });
    c.advance(86_400);
    await rotate(c, 'ssh-user', 'retire', { dir, output: 'json' });
    const result = JSON.parse(c.last()) as { retired: { name: string }[]; keyring: { active: string } };
    expect(result.retired.map((k) => k.name)).toEqual(['q1']);
    expect(result.keyring.active).toBe('q2');
    expect(bundle().map((k) => k.type)).toEqual(['ecdsa-sha2-nistp256']);
  });

  it('waits 12 hours by default for the mediator CA (session grants) and takes --max-lifetime and --force', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rotate-')), 'mediator');
    const c = cli();
    await rotate(c, 'mediator', 'add', { dir });
    await rotate(c, 'mediator', 'add', { dir });
    await rotate(c, 'mediator', 'switch', { dir });
    expect(c.last()).toContain('(12h: the longest life of what it signed)');
    await rotate(c, 'mediator', 'add', { dir, name: 'third' });
    await rotate(c, 'mediator', 'switch', { dir, maxLifetime: '30m' });
    c.advance(60);
    await expect(rotate(c, 'mediator', 'retire', { dir })).rejects.toMatchObject({
      code: 'CA_RETIRE_TOO_EARLY',
    });
    await rotate(c, 'mediator', 'retire', { dir, force: true });
    await rotate(c, 'mediator', 'status', { dir, output: 'json' });
    const status = JSON.parse(c.last()) as { keyring: { active: string; keys: unknown[] } };
    expect(status.keyring).toMatchObject({
      active: 'third',
      keys: [expect.objectContaining({ name: 'third' })],
    });
    expect(status.keyring.keys).toHaveLength(1);
  });

  it('refuses a step that does not fit the keyring (CA_ROTATION_STATE)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rotate-')), 'executor');
    const c = cli();
    await rotate(c, 'executor', 'add', { dir });
    await expect(rotate(c, 'executor', 'switch', { dir })).rejects.toMatchObject({
      code: 'CA_ROTATION_STATE',
    });
    await expect(rotate(c, 'executor', 'retire', { dir })).rejects.toMatchObject({
      code: 'CA_ROTATION_STATE',
    });
    // The keyring is the executor's: the mediator steps refuse it.
    await expect(rotate(c, 'mediator', 'status', { dir })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('refuses bad arguments with USAGE', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rotate-')), 'x');
    const c = cli();
    const usage = expect.objectContaining({ code: 'USAGE' });
    await expect(rotate(c, 'broker', 'add', { dir })).rejects.toEqual(usage);
    await expect(rotate(c, 'mediator', 'rotate', { dir })).rejects.toEqual(usage);
    await expect(rotate(c, 'mediator', 'add', { dir, force: true })).rejects.toEqual(usage);
    await expect(rotate(c, 'mediator', 'switch', { dir, name: 'x' })).rejects.toEqual(usage);
    await expect(rotate(c, 'mediator', 'add', { dir, type: 'ed25519' })).rejects.toEqual(usage);
    await expect(rotate(c, 'ssh-user', 'add', { dir, validityDays: '30' })).rejects.toEqual(usage);
    await expect(rotate(c, 'mediator', 'add', { dir, name: '../escape' })).rejects.toEqual(usage);
    expect(() => parseLifetime('soon')).toThrow(usage);
    expect(parseLifetime('1d12h')).toBe(129_600);
    expect(parseLifetime('0')).toBe(0);
  });

  it('explains the procedure and the wait before retire in --help', async () => {
    let help = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      help += String(chunk);
      return true;
    });
    expect(await main(['node', 'airlock', 'ca', 'rotate', '--help'])).toBe(0);
    for (const text of ['add', 'switch', 'retire', 'CA_RETIRE_TOO_EARLY', '--max-lifetime', 'mediator 12h']) {
      expect(help).toContain(text);
    }
  });
});
