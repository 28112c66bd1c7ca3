/**
 * Issue 21 on the real node: the gateway as the pods of deploy/overlays/dev-shipping
 * (the audit-shipping component: an audit agent sidecar per tier pod, the audit
 * store on a PersistentVolume; every tier in the off-pod ack mode). Sessions with
 * the stock OpenSSH client; the mediator and executor pods deleted once gracefully
 * (while a session is open) and once with --grace-period=0 --force (after
 * sessions); everything then read from the store's file on the node alone.
 */
import type { ChildProcess } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PodsStack, startPodsStack } from '../../services/cli/dev/pods/pods-stack.js';
import { sealCheckpoint } from '../../services/core/audit/chain.js';
import type { AuditCheckpointRecord } from '../../services/core/audit/index.js';
import {
  airlock,
  type CollectedTrail,
  collectStore,
  count,
  isDurable,
  kubectlOf,
  lines,
  NS,
  podsGone,
  podTrail,
  readyPods,
  records,
  replacement,
  serveAgain,
  sshOf,
  type Tier,
} from './audit-survives-support.js';
import { until } from './ephemeral-support.js';
import { followWorkerLogs } from './pods-support.js';

const log = (line: string) => process.stderr.write(`[audit-survives] ${line}\n`);

describe('audit survives pods (deploy/overlays/dev-shipping on the real node)', () => {
  let stack: PodsStack;
  let stateDir: string;
  /** What the clients did and saw succeed. */
  const done = { execs: 0, denied: 0, logs: 0 };
  const execMs: number[] = [];
  /** Each deleted or stopped pod's trail as read from the pod just before. */
  const snapshots: { pod: string; tier: Tier; text: string; forced: boolean }[] = [];
  const pods: Record<'mediator' | 'executor', string[]> = { mediator: [], executor: [] };
  let trails: Map<string, CollectedTrail>;
  const key = (tier: Tier, ext: 'pub' | 'key') => join(stateDir, 'keys', `${tier}-audit.${ext}`);
  /** Every tier's public key: a trail's witness records name the other tiers' heads. */
  const publicKeys = () =>
    (['broker', 'mediator', 'executor'] as const).flatMap((t) => ['--public-key', key(t, 'pub')]);

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'airlock-audit-pods-'));
    stack = await startPodsStack(stateDir, (line) => log(line), { shipping: true });
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** `n` sessions of `ls -la /app` in scope (each exit 0) and one out of scope (77). */
  async function sessions(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const ran = await sshOf(stack)('airlock', 'exec', 'payments/payments-api-0', '--', 'ls', '-la', '/app');
      expect(ran.code, ran.stderr).toBe(0);
      done.execs++;
      execMs.push(ran.ms);
    }
    const denied = await sshOf(stack)('airlock', 'exec', 'billing/billing-api-0', '--', 'ls', '-la', '/app');
    expect(denied.code, denied.stderr).toBe(77);
    done.denied++;
  }

  async function snapshot(tier: Tier, pod: string, forced: boolean): Promise<void> {
    snapshots.push({ pod, tier, text: await podTrail(stack, tier, pod), forced });
  }

  /** Deletes the current mediator and executor pods, waits for them to go and for their replacements. */
  async function deleteTiers(forced: boolean, during: () => Promise<void> = async () => {}): Promise<void> {
    const old = [pods.mediator.at(-1)!, pods.executor.at(-1)!];
    await snapshot('mediator', old[0]!, forced);
    await snapshot('executor', old[1]!, forced);
    const flags = forced ? ['--grace-period=0', '--force'] : [];
    const deleted = await kubectlOf(stack)('delete', 'pod', '-n', NS, ...old, ...flags, '--wait=false');
    expect(deleted.code, deleted.stderr).toBe(0);
    await during();
    const goneMs = await podsGone(stack, old);
    expect(goneMs).toBeGreaterThanOrEqual(0);
    pods.mediator.push(await replacement(stack, 'mediator', old));
    pods.executor.push(await replacement(stack, 'executor', old));
    const attempts = await serveAgain(stack);
    log(
      `${forced ? 'forced' : 'graceful'} deletion: pods gone in ${goneMs} ms; logins after: ${attempts.join(' ')}`,
    );
  }

  /** An open `logs -f` session (its intent is allowed and audited before the first line arrives). */
  async function follow(): Promise<ChildProcess> {
    const child = followWorkerLogs(stack);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no log line')), 30_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.startsWith('processed batch')) return;
        clearTimeout(timer);
        resolve();
      });
    });
    done.logs++;
    return child;
  }

  it('sessions before, during and after the mediator and executor pods are deleted gracefully, then with --force', async () => {
    pods.mediator.push(...(await readyPods(stack, 'mediator')));
    pods.executor.push(...(await readyPods(stack, 'executor')));
    expect([pods.mediator.length, pods.executor.length]).toEqual([1, 1]);
    await sessions(3);
    // A checkpoint after these sessions' records, carried to the mediator by the next session's
    // OpenSession: the head the cut below reaches back past.
    const executor1 = pods.executor[0]!;
    const lastSeq = records(await podTrail(stack, 'executor', executor1)).at(-1)!.seq;
    const signed = async () =>
      records(await podTrail(stack, 'executor', executor1)).some(
        (r) => r.type === 'checkpoint' && r.seq > lastSeq,
      );
    expect(await until(signed, 30_000)).toBeGreaterThanOrEqual(0);
    await sessions(2);

    const open = await follow();
    await deleteTiers(false, async () => {
      await sleep(3_000);
      open.kill();
    });
    await sessions(3);
    await deleteTiers(true);
    await sessions(3);
    execMs.sort((a, b) => a - b);
    log(`${done.execs} exec sessions, median ${execMs[execMs.length >> 1]} ms, max ${execMs.at(-1)} ms`);
  }, 900_000);

  it('a cluster-admin exec around airlock; then every tier scaled to zero closes its trail through the store', async () => {
    const admin = await kubectlOf(stack)(
      'exec',
      '-n',
      'payments',
      'payments-api-0',
      '--',
      'echo',
      'around-airlock',
    );
    expect(admin.code, admin.stderr).toBe(0);
    const seen = () =>
      Promise.resolve(
        readFileSync(stack.cluster.auditLogPath, 'utf8')
          .split('\n')
          .some(
            (line) => line.includes('command=around-airlock') && line.includes('"stage":"ResponseComplete"'),
          ),
      );
    expect(await until(seen, 20_000)).toBeGreaterThanOrEqual(0);

    const broker = await readyPods(stack, 'broker');
    await snapshot('mediator', pods.mediator.at(-1)!, false);
    await snapshot('executor', pods.executor.at(-1)!, false);
    await snapshot('broker', broker[0]!, false);
    const deployments = ['airlock-mediator', 'airlock-executor', 'airlock-broker'].map(
      (d) => `deployment/${d}`,
    );
    const scaled = await kubectlOf(stack)('scale', '-n', NS, ...deployments, '--replicas=0');
    expect(scaled.code, scaled.stderr).toBe(0);
    const goneMs = await podsGone(stack, [pods.mediator.at(-1)!, pods.executor.at(-1)!, broker[0]!]);
    log(`scaled to zero: pods gone in ${goneMs} ms`);
    expect(goneMs).toBeGreaterThanOrEqual(0);
  }, 300_000);

  it('from the store alone: every trail verifies, the gracefully ended ones closed; no durable record lost; counts equal what the clients did', async () => {
    trails = await collectStore(stack.auditStoreDir!, join(stateDir, 'collected'));
    const expected = [
      ...pods.mediator,
      ...pods.executor,
      ...snapshots.filter((s) => s.tier === 'broker').map((s) => s.pod),
    ];
    expect([...trails.keys()].sort()).toEqual(expected.sort());
    for (const trail of trails.values()) {
      const forced = snapshots.some((s) => s.pod === trail.pod && s.forced);
      const closed = forced ? [] : ['--require-closed'];
      const verified = await airlock('audit', 'verify', ...trail.files, ...publicKeys(), ...closed);
      expect(verified.code, `${trail.pod}: ${verified.stdout}`).toBe(0);
      expect(verified.stdout).toMatch(
        forced ? /^OK: /m : /^OK: \d+ records in 1 file, last signed checkpoint seq \d+, closed\n$/m,
      );
    }
    for (const { pod, text, forced } of snapshots) {
      const stored = trails.get(pod)!.text;
      const storedLines = new Set(lines(stored));
      const missing = lines(text).filter((line) => !storedLines.has(line));
      log(
        `${pod}: ${lines(text).length} lines on the pod before the end, ${missing.length} of them not in the store`,
      );
      expect(missing.filter(isDurable)).toEqual([]);
      if (!forced) expect(stored.startsWith(text)).toBe(true);
    }
    const all = [...trails.values()];
    const counted = {
      mediator: {
        execs: count(all, 'mediator', 'intent.allowed', 'exec'),
        logs: count(all, 'mediator', 'intent.allowed', 'logs'),
      },
      executor: {
        execs: count(all, 'executor', 'intent.allowed', 'exec'),
        logs: count(all, 'executor', 'intent.allowed', 'logs'),
      },
      denied: count(all, 'mediator', 'intent.denied', 'exec'),
    };
    log(`clients: ${JSON.stringify(done)}; store: ${JSON.stringify(counted)}`);
    expect(counted).toEqual({
      mediator: { execs: done.execs, logs: done.logs },
      executor: { execs: done.execs, logs: done.logs },
      denied: done.denied,
    });
    // Every witnessed head of every trail is found in the trail it names.
    const [first, ...others] = all;
    const withTrails = others.flatMap((t) => ['--with-trail', t.files.join(',')]);
    const crossed = await airlock('audit', 'verify', ...first!.files, ...withTrails, ...publicKeys());
    expect(crossed.code, crossed.stdout).toBe(0);
    expect(crossed.stdout).toMatch(/^witnessed heads: [1-9]\d* confirmed, 0 not found\n/m);
  }, 300_000);

  it('one shipped executor trail cut back and re-signed: verify with the other trails fails, naming the witness records', async () => {
    const executor1 = trails.get(pods.executor[0]!)!;
    const original = records(executor1.text);
    const firstSession = original.findIndex((r) => r.type === 'event' && r.session_id !== undefined);
    const last = original[firstSession - 1]!;
    const keyId = (original.find((r) => r.type === 'checkpoint') as AuditCheckpointRecord).keyId;
    const close = sealCheckpoint(
      { nextSeq: last.seq + 1, prev: last.hash },
      {
        time: last.time,
        tier: 'executor',
        reason: 'close',
        signingKey: createPrivateKey(readFileSync(key('executor', 'key'))),
        keyId,
      },
    );
    const cut = join(stateDir, 'cut', pods.executor[0]!, 'executor.jsonl');
    mkdirSync(join(cut, '..'), { recursive: true });
    writeFileSync(cut, `${[...lines(executor1.text).slice(0, firstSession), close.line].join('\n')}\n`);
    const keys = publicKeys();
    const alone = await airlock('audit', 'verify', cut, ...keys, '--require-closed');
    expect(alone.code, alone.stdout).toBe(0);

    const others = [...trails.values()].filter((t) => t !== executor1 && t.tier !== 'broker');
    const withTrails = others.flatMap((t) => ['--with-trail', t.files.join(',')]);
    const verified = await airlock('audit', 'verify', cut, ...withTrails, ...keys, '--require-closed');
    // The witness records of the heads cut away: in a mediator trail, at their file and line.
    const gone = new Set(
      original.filter((r) => r.type === 'checkpoint' && r.seq > last.seq).map((r) => r.hash),
    );
    const expected = others.flatMap((t) =>
      t.files.flatMap((file) =>
        records(readFileSync(file, 'utf8')).flatMap((r, i) =>
          r.type === 'event' &&
          r.event === 'checkpoint.witnessed' &&
          gone.has((r.details?.checkpoint as { hash?: string } | undefined)?.hash ?? '')
            ? [`${file}:${i + 1}: witness (seq ${r.seq}):`]
            : [],
        ),
      ),
    );
    log(
      `cut ${pods.executor[0]} at seq ${last.seq + 1}: ${expected.length} witness records name heads cut away`,
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(verified.code).toBe(1);
    const problems = lines(verified.stdout).filter((line) => / witness \(seq \d+\): /.test(line));
    expect(problems.map((line) => line.slice(0, line.indexOf('):') + 2))).toEqual(expected);
    expect(problems.every((line) => line.endsWith('[AUDIT_WITNESS_MISMATCH]'))).toBe(true);
    expect(verified.stderr, verified.stdout).toBe(
      `airlock: AUDIT_TAMPERED: ${expected.length} problem${expected.length === 1 ? '' : 's'} in the audit trail\n`,
    );
  }, 120_000);

  it('airlock audit reconcile over the apiserver audit log reports exactly the cluster-admin exec (exit 1)', async () => {
    const executorFiles = [...trails.values()].filter((t) => t.tier === 'executor').flatMap((t) => t.files);
    const reconciled = await airlock(
      'audit',
      'reconcile',
      '--kube-audit',
      stack.cluster.auditLogPath,
      '--trails',
      ...executorFiles,
      '--namespace',
      'payments',
    );
    const out = lines(reconciled.stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(
      /: kubernetes orphan: \S+ \S+ pods\/exec payments\/payments-api-0 by \S+ \(no airlock session, auditID [0-9a-f-]+, status \S+\) has no authorized airlock action \[AUDIT_ORPHAN\]$/,
    );
    expect(out[1]).toBe(
      `FAILED: ${done.execs} Kubernetes pod accesses matched, 1 without airlock, 0 airlock actions unseen (namespaces: payments)`,
    );
    expect(reconciled.stderr).toBe('airlock: AUDIT_ORPHAN: 1 orphan\n');
    expect(reconciled.code).toBe(1);
  }, 60_000);
}, 1_800_000);
