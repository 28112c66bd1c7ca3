import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAirlockScope, parseCertificateLine } from '../../core/ssh-cert/index.js';
import { main } from '../main.js';
import { cli, env, personIo, useBrokerTestEnv } from './broker-client-test-support.js';
import { runLogin } from './login.js';

/*
 * `airlock request --moderate | --observe` through the CLI's own parsing,
 * against a real broker whose example policy gains `moderated-debug`
 * (moderators from payments-leads, observers from airlock-admins).
 */
useBrokerTestEnv();

const REQUEST = [
  'request',
  '--profile',
  'moderated-debug',
  '--cluster',
  'prod-eu',
  '--namespace',
  'payments',
  '--pod',
  'payments-*',
  '--ttl',
  '30m',
  '--reason',
  'watch INC-7',
];

beforeAll(async () => {
  // A moderated copy of oncall-debug: a moderated profile offers no runbooks (lint).
  const file = join(env.dir, 'policy.json');
  const policy = JSON.parse(readFileSync(file, 'utf8'));
  const profile = structuredClone(policy.profiles['oncall-debug']);
  delete profile.runbooks;
  profile.approval.autoApprove = profile.approval.autoApprove.filter(
    (rule: { runbookOnly?: boolean }) => !rule.runbookOnly,
  );
  profile.moderation = {
    requiredGroups: ['payments-leads'],
    observerGroups: ['airlock-admins'],
    min: 1,
    mode: 'observe',
  };
  policy.profiles['moderated-debug'] = profile;
  writeFileSync(file, JSON.stringify(policy));
  await env.stopBroker();
  await env.restartBroker();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A logged-in person with an SSH key, as `airlock request` needs. */
async function loggedIn(user: string) {
  const io = personIo(user);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(io.homeDir, '.ssh', 'id_ed25519')]);
  expect(await runLogin({ broker: env.url, ca: env.caFile }, io)).toBe(0);
  io.stdout.length = 0;
  io.stderr.length = 0;
  return io;
}

/** The moderator part of the certificate `airlock cert ID` wrote for `io`. */
async function certificateModerator(io: ReturnType<typeof personIo>, id: string) {
  expect(await cli(io, ['cert', id])).toBe(0);
  const { certificate } = parseCertificateLine(readFileSync(io.stdout.at(-1)!.trim(), 'utf8'));
  return parseAirlockScope(certificate.extensions['airlock-scope@airlock.dev']!).moderator;
}

describe('airlock request --moderate / --observe', () => {
  it('--observe asks for the observer role: auto-approved, the certificate carries role observer', async () => {
    const erin = await loggedIn('erin');
    expect(await cli(erin, [...REQUEST, '--observe', '-o', 'json'])).toBe(0);
    const created = JSON.parse(erin.stdout.join(''));
    expect(created).toMatchObject({ status: 'approved', requester: { user: 'erin' } });
    expect(erin.stderr).toEqual([]);
    expect(await certificateModerator(erin, created.id)).toEqual({
      groups: ['airlock-admins'],
      role: 'observer',
    });
  });

  it('--moderate asks for the moderator role: its certificate carries no role (a moderator)', async () => {
    const bob = await loggedIn('bob');
    expect(await cli(bob, [...REQUEST, '--moderate'])).toBe(0);
    const id = /airlock cert (req-[0-9a-f]+)/.exec(bob.stderr.join(''))?.[1];
    expect(bob.stderr.join('')).toBe(`approved; get the certificate with: airlock cert ${id}\n`);
    bob.stdout.length = 0;
    expect(await certificateModerator(bob, id!)).toEqual({ groups: ['payments-leads'] });
  });

  it('--observe outside the observer groups is refused by the broker: REQUEST_DENIED, exit 1', async () => {
    const carol = await loggedIn('carol');
    expect(await cli(carol, [...REQUEST, '--observe', '-o', 'json'])).toBe(1);
    expect(carol.stderr).toEqual([
      `${JSON.stringify({ code: 'REQUEST_DENIED', message: 'requester is not in any observer group of this profile' })}\n`,
    ]);
    expect(carol.stdout).toEqual([]);
  });

  it('refuses --moderate with --observe before any login: USAGE, exit 2 (text and JSON)', async () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    expect(await main(['node', 'airlock', ...REQUEST, '--moderate', '--observe'])).toBe(2);
    expect(written).toEqual(['airlock: USAGE: --moderate and --observe exclude each other\n']);

    const nobody = personIo('nobody');
    expect(await cli(nobody, [...REQUEST, '--observe', '--moderate', '-o', 'json'])).toBe(2);
    expect(nobody.stderr).toEqual([
      `${JSON.stringify({ code: 'USAGE', message: '--moderate and --observe exclude each other' })}\n`,
    ]);
    expect(nobody.stdout).toEqual([]);
  });
});
