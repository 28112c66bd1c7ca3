import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleEvent, steppingClock, tempDir } from '../../core/audit/audit-test-helpers.js';
import { createCheckpointWitness, createFileAuditTrail } from '../../core/audit/index.js';
import { testAuditKeys } from '../../core/audit/testing.js';
import { runAuditExport } from './audit-export.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

function io() {
  const out: string[] = [];
  return {
    out: (t: string) => void out.push(t),
    err: (t: string) => void out.push(t),
    readFile: (path: string) => readFile(path),
    writeFile: (path: string, data: Uint8Array) => writeFile(path, data, { flag: 'wx' }),
    now: () => new Date('2026-11-27T10:00:00.000Z'),
    text: () => out.join(''),
  };
}

async function witnessedTrails() {
  const keys = { mediator: testAuditKeys(), executor: testAuditKeys() };
  const open = (tier: 'mediator' | 'executor') =>
    createFileAuditTrail({
      path: dir.path(`${tier}.jsonl`),
      tier,
      signingKey: keys[tier].privateKey,
      clock: steppingClock(),
      fsync: false,
    });
  const mediator = await open('mediator');
  const executor = await open('executor');
  for (let i = 0; i < 3; i++) await executor.append(sampleEvent(i));
  await executor.checkpoint();
  await createCheckpointWitness(mediator).record(createCheckpointWitness(executor).ownHead());
  await mediator.close();
  await executor.close();
  for (const tier of ['mediator', 'executor'] as const)
    writeFileSync(dir.path(`${tier}.pub`), keys[tier].publicKey.export({ format: 'pem', type: 'spki' }));
}

describe('airlock audit export', () => {
  it('writes one tar with trails, keys, witnessed heads, the kube slice, the report and SHA256SUMS', async () => {
    await witnessedTrails();
    const kube = dir.path('kube-audit.log');
    writeFileSync(
      kube,
      `${JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: 'x', stage: 'ResponseComplete', verb: 'list', objectRef: { resource: 'pods', namespace: 'payments' }, stageTimestamp: '2026-11-27T04:00:00.000Z' })}\n`,
    );
    const out = dir.path('bundle.tar');
    const capture = io();
    const options = {
      out,
      trail: [dir.path('executor.jsonl'), dir.path('mediator.jsonl')],
      publicKey: [dir.path('executor.pub'), dir.path('mediator.pub')],
      kubeAudit: [kube],
    };
    expect(await runAuditExport(options, capture)).toBe(0);
    expect(execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).trim().split('\n')).toEqual([
      'SHA256SUMS',
      'keys/executor.pub',
      'keys/mediator.pub',
      'trails/executor.jsonl',
      'trails/mediator.jsonl',
      'witnessed-heads.json',
      'kube-audit-slice.jsonl',
      'verify-report.json',
    ]);
    const extracted = dir.path('x');
    execFileSync('mkdir', ['-p', extracted]);
    execFileSync('tar', ['-xf', out, '-C', extracted]);
    expect(readFileSync(`${extracted}/trails/executor.jsonl`)).toEqual(
      readFileSync(dir.path('executor.jsonl')),
    );
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: extracted, encoding: 'utf8' })).toMatch(
      /verify-report.json: OK/,
    );
    const report = JSON.parse(readFileSync(`${extracted}/verify-report.json`, 'utf8'));
    expect(report).toMatchObject({
      ok: true,
      witness: { confirmed: 1, problems: [] },
      reconcile: { ok: true },
    });
    expect(JSON.parse(readFileSync(`${extracted}/witnessed-heads.json`, 'utf8'))).toHaveLength(1);
    // Never overwrites an earlier bundle.
    await expect(runAuditExport(options, io())).rejects.toThrow(/EEXIST/);
  });

  it('exits 1 when the executor trail was cut after its head was witnessed (the bundle is still written)', async () => {
    await witnessedTrails();
    const path = dir.path('executor.jsonl');
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    writeFileSync(path, `${lines.slice(0, 2).join('\n')}\n`);
    const capture = io();
    const code = await runAuditExport(
      {
        out: dir.path('cut.tar'),
        trail: [path, dir.path('mediator.jsonl')],
        publicKey: [dir.path('executor.pub'), dir.path('mediator.pub')],
      },
      capture,
    );
    expect(code).toBe(1);
    expect(capture.text()).toContain('AUDIT_TAMPERED');
    const report = JSON.parse(
      execFileSync('tar', ['-xOf', dir.path('cut.tar'), 'verify-report.json'], { encoding: 'utf8' }),
    );
    expect(report.witness.problems).toEqual([expect.objectContaining({ code: 'AUDIT_WITNESS_MISMATCH' })]);
  });
});
