/**
 * Issue 21, the soak on the real node: AIRLOCK_AUDIT_SOAK_SESSIONS (default 200)
 * sessions through deploy/overlays/dev-shipping while the mediator and executor
 * pods are deleted at random (graceful or --grace-period=0 --force). Each
 * session runs `cat /proc/<unique number>/status` (allowed by the policy; the
 * process does not exist, so cat exits 1 after airlock authorized and ran it):
 * its number finds its records. Every session the client saw run must have its
 * durable `intent.allowed` in the mediator's and the executor's trail in the
 * store, exactly once; every trail in the store verifies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PodsStack, startPodsStack } from '../../services/cli/dev/pods/pods-stack.js';
import {
  airlock,
  collectStore,
  kubectlOf,
  NS,
  readyPods,
  records,
  sshOf,
  type Tier,
} from './audit-survives-support.js';
import { reissueOncall } from './pods-support.js';

const SESSIONS = Number(process.env.AIRLOCK_AUDIT_SOAK_SESSIONS ?? 200);
const log = (line: string) => process.stderr.write(`[audit-soak] ${line}\n`);

/** Deletes the mediator's or the executor's pod (in turn; forced or graceful at random) every 3–8 s until `done()`; the deletions. */
async function chaos(stack: PodsStack, done: () => boolean): Promise<string[]> {
  const deletions: string[] = [];
  while (!done()) {
    await sleep(3_000 + Math.random() * 5_000);
    if (done()) break;
    const tier: Tier = deletions.length % 2 === 0 ? 'mediator' : 'executor';
    const [pod] = await readyPods(stack, tier);
    if (!pod) continue;
    const forced = Math.random() < 0.5;
    const flags = forced ? ['--grace-period=0', '--force'] : [];
    await kubectlOf(stack)('delete', 'pod', '-n', NS, pod, ...flags, '--wait=false');
    deletions.push(`${pod}${forced ? ' (forced)' : ''}`);
  }
  return deletions;
}

/** Every trail in the store verifies; each session that ran has exactly one `intent.allowed` in both tiers. */
async function verifyStore(stateDir: string, storeDir: string, ran: number[]): Promise<void> {
  const trails = [...(await collectStore(storeDir, join(stateDir, 'collected'))).values()];
  const keys = (['broker', 'mediator', 'executor'] as const).flatMap((t) => [
    '--public-key',
    join(stateDir, 'keys', `${t}-audit.pub`),
  ]);
  for (const trail of trails) {
    const verified = await airlock('audit', 'verify', ...trail.files, ...keys);
    expect(verified.code, `${trail.pod}: ${verified.stdout}`).toBe(0);
  }
  const allowed = (tier: Tier) => {
    const byNumber = new Map<string, number>();
    for (const trail of trails.filter((t) => t.tier === tier))
      for (const r of records(trail.text))
        if (r.type === 'event' && r.event === 'intent.allowed' && r.target.argv?.[0] === 'cat')
          byNumber.set(r.target.argv[1]!, (byNumber.get(r.target.argv[1]!) ?? 0) + 1);
    return byNumber;
  };
  for (const tier of ['mediator', 'executor'] as const) {
    const found = allowed(tier);
    const lost = ran.filter((n) => found.get(`/proc/${n}/status`) !== 1);
    log(
      `${tier}: ${ran.length} sessions ran, ${ran.length - lost.length} with exactly one intent.allowed in the store`,
    );
    expect(lost).toEqual([]);
  }
}

describe('audit soak: sessions while tier pods are deleted at random', () => {
  let stack: PodsStack;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'airlock-audit-soak-'));
    stack = await startPodsStack(stateDir, log, { shipping: true });
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it(`${SESSIONS} sessions, tier pods deleted at random: no durable record of a session that ran is lost`, async () => {
    const ran: number[] = [];
    const failed: Record<string, number> = {};
    let finished = false;
    const deleting = chaos(stack, () => finished);
    const started = Date.now();
    for (let n = 100_000; ran.length < SESSIONS; n++) {
      const out = await sshOf(stack)(
        'airlock',
        'exec',
        'payments/payments-api-0',
        '--',
        'cat',
        `/proc/${n}/status`,
      );
      if (out.code === 1 && out.stderr.includes('No such file or directory')) ran.push(n);
      else {
        const code = /\b[A-Z][A-Z_]{5,}\b/.exec(out.stderr)?.[0] ?? `exit ${out.code}`;
        failed[code] = (failed[code] ?? 0) + 1;
        if (code === 'CERT_PREDATES_REPLAY_RECORD') await reissueOncall(stack);
        else await sleep(1_000);
      }
    }
    finished = true;
    const deletions = await deleting;
    log(
      `${ran.length} sessions ran in ${Math.round((Date.now() - started) / 1000)} s; refused or failed: ${JSON.stringify(failed)}`,
    );
    log(`deleted: ${deletions.join(', ')}`);
    // Both tiers lost pods during the run, at least twice each.
    expect(deletions.length).toBeGreaterThanOrEqual(4);

    const deployments = ['airlock-mediator', 'airlock-executor', 'airlock-broker'].map(
      (d) => `deployment/${d}`,
    );
    expect((await kubectlOf(stack)('scale', '-n', NS, ...deployments, '--replicas=0')).code).toBe(0);
    await sleep(50_000);
    await verifyStore(stateDir, stack.auditStoreDir!, ran);
  }, 3_600_000);
}, 3_700_000);
