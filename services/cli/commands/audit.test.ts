/**
 * `airlock audit keygen` and `airlock audit verify`: keys usable by the trail,
 * never overwritten; verify's exit statuses, problem listing and JSON output.
 * `airlock audit timeline` over docs/examples and its exit statuses;
 * `airlock audit play` pacing (fake sleep) and validation.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFileAuditTrail } from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { main } from '../main.js';
import { auditKeyPaths, runAuditKeygen } from './audit-keygen.js';
import { type AuditPlayIo, runAuditPlay } from './audit-play.js';
import { runAuditTimeline } from './audit-timeline.js';
import { runAuditVerify } from './audit-verify.js';
import { capturedOutput, resetAfterEachCommand } from './cli-test-support.js';

let dir: string;
let keys: { privateKey: string; publicKey: string };
let trailPath: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-audit-cli-'));
  await runAuditKeygen({ out: join(dir, 'keys') }, { out: () => {}, err: () => {} });
  keys = auditKeyPaths(join(dir, 'keys'));
  trailPath = join(dir, 'mediator.jsonl');
  let t = Date.parse('2026-11-27T05:00:00.000Z');
  const trail = await createFileAuditTrail({
    path: trailPath,
    tier: 'mediator',
    signingKey: createPrivateKey(readFileSync(keys.privateKey)),
    clock: () => new Date(t++),
    checkpointEvery: 2,
  });
  for (const user of ['alice', 'bob', 'carol'])
    await trail.append({ event: 'auth.accepted', actor: { user }, target: {}, decision: 'allow' });
  await trail.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
resetAfterEachCommand();

function io() {
  return { ...capturedOutput(), readFile: async (path: string) => readFile(path), now: () => new Date() };
}

async function runMain(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => stdout.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0);
  const status = await main(['node', 'airlock', ...args]);
  vi.restoreAllMocks();
  process.exitCode = undefined;
  return { status, stdout: stdout.join(''), stderr: stderr.join('') };
}

describe('airlock audit keygen', () => {
  it('writes an Ed25519 PEM pair, private 0600 in a 0700 directory, and prints the key id', async () => {
    const out = join(dir, 'fresh');
    const capture = io();
    expect(await runAuditKeygen({ out }, capture)).toBe(0);
    const paths = auditKeyPaths(out);
    expect(statSync(paths.privateKey).mode & 0o777).toBe(0o600);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    expect(readFileSync(paths.privateKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(paths.publicKey, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(createPrivateKey(readFileSync(paths.privateKey)).asymmetricKeyType).toBe('ed25519');
    expect(capture.stdout.join('')).toMatch(/^ed25519:[0-9a-f]{32}\n$/);
  });

  it('refuses to overwrite an existing key with AUDIT_KEY_EXISTS and leaves it untouched', async () => {
    const before = readFileSync(keys.privateKey, 'utf8');
    await expect(runAuditKeygen({ out: join(dir, 'keys') }, io())).rejects.toSatisfy(
      (e) => e instanceof AirlockError && e.code === 'AUDIT_KEY_EXISTS',
    );
    expect(readFileSync(keys.privateKey, 'utf8')).toBe(before);
    const { status, stderr } = await runMain(['audit', 'keygen', '--out', join(dir, 'keys')]);
    expect(status).toBe(1);
    expect(stderr).toMatch(/^airlock: AUDIT_KEY_EXISTS: /);
  });
});

describe('airlock audit verify', () => {
  it('exits 0 and summarises an intact, closed trail', async () => {
    const { status, stdout } = await runMain(['audit', 'verify', trailPath, '--public-key', keys.publicKey]);
    expect(status).toBe(0);
    expect(stdout).toBe('OK: 5 records in 1 file, last signed checkpoint seq 4, closed\n');
  });

  it('exits 1 and lists every problem of an edited trail, with AUDIT_TAMPERED on stderr', async () => {
    const tampered = join(dir, 'tampered.jsonl');
    writeFileSync(tampered, readFileSync(trailPath, 'utf8').replace('"user":"bob"', '"user":"eve"'));
    const capture = io();
    expect(await runAuditVerify([tampered], { publicKey: [keys.publicKey] }, capture)).toBe(1);
    expect(capture.stdout.join('')).toBe(
      `${tampered}:2: hash (seq 1): the record does not match its hash (edited) [AUDIT_HASH_MISMATCH]\n` +
        'FAILED: 5 records in 1 file, last signed checkpoint seq 4, closed\n',
    );
    expect(capture.stderr.join('')).toBe('airlock: AUDIT_TAMPERED: 1 problem in the audit trail\n');
  });

  it('writes the result as one JSON object with --output json', async () => {
    const cut = join(dir, 'cut.jsonl');
    writeFileSync(cut, `${readFileSync(trailPath, 'utf8').trim().split('\n').slice(0, 4).join('\n')}\n`);
    const { status, stdout } = await runMain([
      'audit',
      'verify',
      cut,
      '--public-key',
      keys.publicKey,
      '--output',
      'json',
      '--require-signed',
    ]);
    expect(status).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      ok: false,
      files: [cut],
      records: 4,
      lastCheckpointSeq: 2,
      closed: false,
      unsignedTail: { count: 1, seq: 3, line: 4, file: cut },
      problems: [
        {
          kind: 'unsigned-tail',
          code: 'AUDIT_UNSIGNED_TAIL',
          seq: 3,
          line: 4,
          file: cut,
          message: '1 record from seq 3 on is not covered by a signed checkpoint',
        },
      ],
    });
  });

  it('warns about the unsigned tail of an open trail with its count, and exits 0', async () => {
    const open = join(dir, 'open.jsonl');
    writeFileSync(open, `${readFileSync(trailPath, 'utf8').trim().split('\n').slice(0, 4).join('\n')}\n`);
    const { status, stdout } = await runMain(['audit', 'verify', open, '--public-key', keys.publicKey]);
    expect(status).toBe(0);
    expect(stdout).toBe(
      `${open}:4: warning: unsigned-tail (seq 3): the last 1 record is not yet covered by a signed checkpoint ` +
        '(an open trail; --require-signed or --require-closed fail on this)\n' +
        'OK: 4 records in 1 file, last signed checkpoint seq 2, 1 unsigned, not closed (still being written, or cut back to a checkpoint)\n',
    );
  });

  it('fails a trail signed by a key it was not given', async () => {
    const other = join(dir, 'other.pub');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));
    const { status, stdout } = await runMain(['audit', 'verify', trailPath, '--public-key', other]);
    expect(status).toBe(1);
    expect(stdout).toContain('signature (seq 2): checkpoint signed by unknown key ed25519:');
  });

  it('exits 2 on usage errors: no --public-key, unreadable file, a non-Ed25519 key, a bad --output', async () => {
    const rsa = join(dir, 'rsa.pub');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }),
    );
    const cases: [string[], RegExp][] = [
      [['audit', 'verify', trailPath], /USAGE: --public-key is required/],
      [
        ['audit', 'verify', join(dir, 'missing'), '--public-key', keys.publicKey],
        /USAGE: cannot read audit trail/,
      ],
      [['audit', 'verify', trailPath, '--public-key', rsa], /USAGE: .* is a rsa key, not Ed25519/],
      [['audit', 'verify', trailPath, '--public-key', trailPath], /USAGE: .* is not a PEM public key/],
      [['audit', 'verify', trailPath, '--public-key', keys.publicKey, '--output', 'xml'], /invalid/],
      [['audit', 'verify', '--public-key', keys.publicKey], /missing required argument/],
    ];
    for (const [args, message] of cases) {
      const { status, stderr } = await runMain(args);
      expect(status, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
    }
  });

  it('has help that names the exit statuses and problem kinds', async () => {
    const { status, stdout } = await runMain(['audit', 'verify', '--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('Exit 0 when intact, 1 with each');
    expect(stdout).toContain('--public-key <file>');
    expect(stdout).toContain('unsigned-tail');
  });
});

const EXAMPLES = join(import.meta.dirname, '../../../docs/examples');
const exampleFiles = [
  'broker.jsonl',
  'mediator.jsonl',
  'executor.jsonl',
  'kube-audit.log',
  'ses_8Kq2-1.cast',
].map((f) => join(EXAMPLES, f));

describe('docs/examples', () => {
  it('each tier trail verifies with its committed public key', async () => {
    for (const tier of ['broker', 'mediator', 'executor']) {
      const { status, stdout } = await runMain([
        'audit',
        'verify',
        '--require-closed',
        '--public-key',
        join(EXAMPLES, 'audit-public-keys', `${tier}.pub`),
        join(EXAMPLES, `${tier}.jsonl`),
      ]);
      expect(status, tier).toBe(0);
      expect(stdout).toMatch(/^OK: /);
    }
  });
});

describe('airlock audit timeline', () => {
  it('tells the example session in order across all four lanes, without the unrelated request', async () => {
    const capture = io();
    expect(await runAuditTimeline(exampleFiles, { session: 'ses_8Kq2', output: 'json' }, capture)).toBe(0);
    const entries = JSON.parse(capture.stdout.join('')) as {
      lane: string;
      event: string;
      request_id: string;
    }[];
    expect(entries.map((e) => `${e.lane} ${e.event}`)).toEqual([
      'broker request.created',
      'broker request.approved',
      'broker cert.issued',
      'mediator auth.accepted',
      'mediator session.opened',
      'mediator intent.allowed',
      'mediator exec.started',
      'kubernetes get',
      'executor exec.started',
      'kubernetes create',
      'executor exec.exited',
      'mediator exec.exited',
      'mediator intent.denied',
      'kubernetes create',
      'mediator session.closed',
    ]);
    expect(new Set(entries.map((e) => e.request_id))).toEqual(new Set(['req_01JDQ7']));
    expect(capture.stderr).toEqual([]);
  });

  it('skips directories and files that are neither format, noting them on stderr', async () => {
    const { status, stdout, stderr } = await runMain([
      'audit',
      'timeline',
      '--user',
      'carol',
      EXAMPLES,
      join(EXAMPLES, 'audit-public-keys', 'broker.pub'),
      ...exampleFiles,
    ]);
    expect(status).toBe(0);
    expect(stderr).toContain(`skipped ${EXAMPLES}: a directory`);
    expect(stderr).toContain('broker.pub: not an airlock trail or Kubernetes audit log');
    expect(stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(stdout).toContain('request.created');
  });

  it('writes one HTML page with the example recording embedded as a player', async () => {
    const { status, stdout } = await runMain([
      'audit',
      'timeline',
      '--session',
      'ses_8Kq2',
      '--output',
      'html',
      ...exampleFiles.filter((f) => !f.endsWith('.cast')), // found next to the trails by name
    ]);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^<!DOCTYPE html>/);
    expect(stdout).toContain('class="player" id="recording-0"');
    expect(stdout).toContain('node server.js');
    expect(stdout).toContain('<td class="id">request req_01JDQ7</td>');
    expect(stdout).toContain('<code class="command">ps aux</code>');
    expect(stdout).not.toContain('\u001b[1m');
  });

  it('does not embed a recording whose sha256 differs from the trail', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'airlock-timeline-'));
    for (const f of exampleFiles) writeFileSync(join(copy, basename(f)), readFileSync(f));
    writeFileSync(
      join(copy, 'ses_8Kq2-1.cast'),
      `${readFileSync(join(EXAMPLES, 'ses_8Kq2-1.cast'), 'utf8')}[9,"o","x"]\n`,
    );
    const capture = io();
    await runAuditTimeline([join(copy, 'mediator.jsonl')], { output: 'html' }, capture);
    const html = capture.stdout.join('');
    expect(html).not.toContain('class="player"');
    expect(html).toContain('SHA-256 does not match');
    rmSync(copy, { recursive: true, force: true });
  });

  it('exits 2 on usage errors: a bad time, unreadable file, no recognisable input, bad --output', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['audit', 'timeline', '--since', 'yesterday', ...exampleFiles],
        /USAGE: --since yesterday is not an RFC 3339 time/,
      ],
      [['audit', 'timeline', join(dir, 'missing')], /USAGE: cannot read/],
      [['audit', 'timeline', keys.publicKey], /USAGE: none of the FILES/],
      [['audit', 'timeline', '--output', 'pdf', ...exampleFiles], /invalid/],
      [['audit', 'timeline'], /missing required argument/],
    ];
    for (const [args, message] of cases) {
      const { status, stderr } = await runMain(args);
      expect(status, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
    }
  });
});

describe('airlock audit play', () => {
  function playIo(): AuditPlayIo & { stdout: string[]; sleeps: number[]; log: string[] } {
    const base = io();
    const sleeps: number[] = [];
    const log: string[] = [];
    return {
      ...base,
      out: (t: string) => {
        base.stdout.push(t);
        log.push(`out ${JSON.stringify(t)}`);
      },
      sleep: async (ms: number) => {
        sleeps.push(ms);
        log.push(`sleep ${ms}`);
      },
      sleeps,
      log,
    };
  }

  const cast =
    '{"version":2,"width":80,"height":24}\n[0.5,"o","a"]\n[0.6,"i","typed"]\n[1.5,"o","b"]\n[31.5,"o","c"]\n[31.5,"o","d"]\n';

  it('writes output frames in order, waiting as recorded, with idle gaps capped', async () => {
    const path = join(dir, 'play.cast');
    writeFileSync(path, cast);
    const capture = playIo();
    expect(await runAuditPlay(path, {}, capture)).toBe(0);
    expect(capture.log).toEqual([
      'sleep 500',
      'out "a"',
      'sleep 1000',
      'out "b"',
      'sleep 2000',
      'out "c"',
      'out "d"',
    ]);
  });

  it('divides waits by --speed and applies --max-idle after it', async () => {
    const path = join(dir, 'play.cast');
    writeFileSync(path, cast);
    const capture = playIo();
    expect(await runAuditPlay(path, { speed: '2', maxIdle: '5' }, capture)).toBe(0);
    expect(capture.sleeps).toEqual([250, 500, 5000]);
    expect(capture.stdout.join('')).toBe('abcd');
  });

  it('exits 2 with a clear USAGE error for a malformed recording or bad options', async () => {
    const bad = join(dir, 'bad.cast');
    writeFileSync(bad, '{"version":2,"width":80,"height":24}\n[1,"o"]\n');
    const good = join(dir, 'play.cast');
    writeFileSync(good, cast);
    const cases: [string[], RegExp][] = [
      [
        ['audit', 'play', bad],
        /USAGE: .*bad.cast is not an asciicast v2 recording: line 2: an event must be/,
      ],
      [['audit', 'play', trailPath], /USAGE: .* is not an asciicast v2 recording: line 1: version must be 2/],
      [['audit', 'play', join(dir, 'missing.cast')], /USAGE: cannot read recording/],
      [['audit', 'play', good, '--speed', '0'], /USAGE: --speed must be a positive number/],
      [['audit', 'play', good, '--max-idle', '-1'], /USAGE: --max-idle must be a non-negative number/],
    ];
    for (const [args, message] of cases) {
      const { status, stderr } = await runMain(args);
      expect(status, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
    }
  });
});
