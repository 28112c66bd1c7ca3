/**
 * `npm run soak -- [--sessions N] [--duration D] [--think-ms MS]`: a long
 * run of many concurrent SSH sessions against the local stack, then a check
 * that nothing was lost. Not part of CI (docs/reliability.md).
 *
 * Each session is one real OpenSSH connection (a ControlMaster) held open for
 * the whole run; its commands are channels multiplexed over it, so a session
 * issues many intents, as a person's does. Each command is picked at random
 * from allowed and denied actions (ACTIONS). Afterwards:
 *
 * - zero unexpected outcomes: an allowed action exits 0 with its output, a
 *   denied one exits 77 with its code on stderr;
 * - every session in both trails: the mediator's and the executor's
 *   `session.opened` and `session.closed` name exactly the client's sessions;
 * - every intent in both trails, counted per session: the mediator records
 *   each allowed action as `intent.allowed` and each denied one as
 *   `intent.denied`; the executor records each allowed one as
 *   `intent.allowed` and never sees a denied one (the mediator refuses it
 *   first), so it has no `intent.denied` for these users;
 * - memory: RSS of the mediator and the executor, sampled every 5 s, grows
 *   less than 10 % from the end of warm-up (the first third of the run) to the
 *   end.
 *
 * Writes bench/results/soak-<UTC timestamp>.json and exits 1 if any check
 * failed.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { repoRoot } from '../services/core/repo/repo-root.js';
import { startBenchStack, stopChild } from './bench-stack.js';

import { rssKiB } from './gateway.bench.js';
import { machineInfo } from './machine.js';
import { parseOptions } from './soak-options.js';
import { openMaster, runSession, type SessionRun } from './soak-session.js';
import { perSession, readTrail, sortedCounts, type TrailEvent } from './soak-trail.js';
import { median } from './stats.js';

function log(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-soak-'));
  // Unix socket paths are short (108 bytes): the control sockets get their own short dir.
  const controlDir = mkdtempSync(join(tmpdir(), 'soak-'));
  log(`starting the stack for ${options.sessions} sessions`);
  const stack = await startBenchStack(stateDir, log, options.sessions);
  const tiers = { mediator: stack.mediatorPid, executor: stack.executorPid };
  const memory: { at_s: number; mediator_kib: number; executor_kib: number }[] = [];
  const masters: ChildProcess[] = [];
  const runs: SessionRun[] = [];
  const checks: Check[] = [];
  let trails: { mediator: TrailEvent[]; executor: TrailEvent[] } | undefined;
  const users = stack.users;
  try {
    // Open the sessions in batches: every client is 127.0.0.1, and the
    // mediator bounds unauthenticated connections per source address.
    log('opening sessions');
    const controlPaths = users.map((_, i) => join(controlDir, `c${i}`));
    const opened: (ChildProcess | Error)[] = [];
    for (let i = 0; i < users.length; i += 20) {
      const batch = await Promise.all(
        users
          .slice(i, i + 20)
          .map((user, j) => openMaster(stack, user, controlPaths[i + j]!).catch((e: unknown) => e as Error)),
      );
      opened.push(...batch);
    }
    for (const m of opened) if (!(m instanceof Error)) masters.push(m);
    const loadStartedAt = Date.now();
    const endAt = loadStartedAt + options.durationMs;
    log(`${masters.length} sessions open; running for ${options.durationMs / 1000} s`);
    const sampler = setInterval(() => {
      memory.push({
        at_s: Math.round((Date.now() - loadStartedAt) / 1000),
        mediator_kib: rssKiB(tiers.mediator),
        executor_kib: rssKiB(tiers.executor),
      });
    }, 5000);
    const results = await Promise.all(
      users.map((user, i) => {
        const master = opened[i]!;
        if (master instanceof Error)
          return Promise.resolve<SessionRun>({ user: user.name, outcomes: [], error: master.message });
        return runSession(stack, user, controlPaths[i]!, endAt, options.thinkMs);
      }),
    );
    clearInterval(sampler);
    runs.push(...results);
    log('closing sessions');
    await Promise.all(masters.map((m) => stopChild(m)));
    // CloseSession and the closing audit records follow the TCP close.
    await sleep(3000);
  } finally {
    for (const m of masters) if (m.exitCode === null) m.kill('SIGKILL');
    log('stopping the stack');
    await stack.stop();
    rmSync(controlDir, { recursive: true, force: true });
  }

  // The stack is stopped, so both trails are closed and complete on disk.
  const names = new Set(users.map((u) => u.name));
  const auditDir = join(stateDir, 'audit');
  const mediatorTrail = readdirSync(auditDir).find((f) => /^bench-mediator-.*\.jsonl$/.test(f));
  if (!mediatorTrail) throw new Error('no bench mediator audit trail');
  trails = {
    mediator: readTrail(join(auditDir, mediatorTrail), names),
    executor: readTrail(join(auditDir, 'executor.jsonl'), names),
  };

  const outcomes = runs.flatMap((r) => r.outcomes);
  const unexpected = outcomes.filter((o) => !o.ok);
  const sessionErrors = runs.filter((r) => r.error);
  const allowed = outcomes.filter((o) => o.allowed).length;
  const denied = outcomes.length - allowed;
  checks.push({
    name: 'every session opened',
    ok: sessionErrors.length === 0,
    detail: `${runs.length - sessionErrors.length} of ${runs.length}${sessionErrors[0] ? `; first error: ${sessionErrors[0].error}` : ''}`,
  });
  checks.push({
    name: 'zero unexpected outcomes',
    ok: unexpected.length === 0 && outcomes.length > 0,
    detail: `${unexpected.length} unexpected of ${outcomes.length} commands`,
  });

  const count = (events: TrailEvent[], event: string) => events.filter((e) => e.event === event).length;
  const sessions = runs.length - sessionErrors.length;
  for (const tier of ['mediator', 'executor'] as const) {
    const events = trails[tier];
    const opened = count(events, 'session.opened');
    const closed = count(events, 'session.closed');
    checks.push({
      name: `${tier}: every session opened and closed in the trail`,
      ok: opened === sessions && closed === sessions,
      detail: `client ${sessions}; session.opened ${opened}, session.closed ${closed}`,
    });
    const allowedInTrail = count(events, 'intent.allowed');
    checks.push({
      name: `${tier}: every allowed intent in the trail`,
      ok: allowedInTrail === allowed,
      detail: `client ${allowed}; intent.allowed ${allowedInTrail}`,
    });
  }
  const mediatorDenied = count(trails.mediator, 'intent.denied');
  const executorDenied = count(trails.executor, 'intent.denied');
  checks.push({
    name: 'mediator: every denied intent in the trail; the executor saw none',
    ok: mediatorDenied === denied && executorDenied === 0,
    detail: `client ${denied}; mediator intent.denied ${mediatorDenied}, executor intent.denied ${executorDenied}`,
  });
  // Per session: the same session ids, and the same number of allowed intents each, in both tiers.
  const mediatorPer = perSession(trails.mediator, 'intent.allowed');
  const executorPer = perSession(trails.executor, 'intent.allowed');
  const mediatorIds = new Set(
    trails.mediator.filter((e) => e.event === 'session.opened').map((e) => e.session_id),
  );
  const executorIds = new Set(
    trails.executor.filter((e) => e.event === 'session.opened').map((e) => e.session_id),
  );
  const sameIds =
    mediatorIds.size === executorIds.size && [...mediatorIds].every((id) => executorIds.has(id));
  const mismatched = [...mediatorPer].filter(([id, n]) => executorPer.get(id) !== n).length;
  checks.push({
    name: 'both trails: the same sessions, each with the same number of allowed intents',
    ok: sameIds && mismatched === 0 && mediatorPer.size === executorPer.size,
    detail: `${mediatorIds.size} session ids in the mediator, ${executorIds.size} in the executor; ${mismatched} sessions with differing counts`,
  });
  const clientPer = runs.map((r) => r.outcomes.filter((o) => o.allowed).length).filter((n) => n > 0);
  checks.push({
    name: 'per session: the client’s allowed counts match the trail’s',
    ok: JSON.stringify(clientPer.sort((a, b) => a - b)) === JSON.stringify(sortedCounts(mediatorPer)),
    detail: `${clientPer.length} sessions with allowed commands`,
  });

  // Memory: from the end of warm-up (a third of the run) to the end.
  const warm = memory.filter((m) => m.at_s * 1000 >= options.durationMs / 3);
  const growth: Record<string, number | null> = {};
  for (const tier of ['mediator', 'executor'] as const) {
    const key = `${tier}_kib` as const;
    if (warm.length < 4) {
      growth[tier] = null;
      continue;
    }
    const start = median(warm.slice(0, 3).map((m) => m[key]));
    const end = median(warm.slice(-3).map((m) => m[key]));
    growth[tier] = Math.round(((end - start) / start) * 1000) / 10;
  }
  for (const tier of ['mediator', 'executor'] as const) {
    const g = growth[tier];
    checks.push({
      name: `${tier}: RSS grows less than 10 % after warm-up`,
      ok: g !== null && g !== undefined && g < 10,
      detail: g === null ? 'too few samples (run longer than 30 s)' : `${g} %`,
    });
  }

  const byAction: Record<string, { runs: number; unexpected: number }> = {};
  for (const o of outcomes) {
    const entry = byAction[o.action] ?? { runs: 0, unexpected: 0 };
    byAction[o.action] = entry;
    entry.runs++;
    if (!o.ok) entry.unexpected++;
  }
  const results = {
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    command: `npm run soak -- --sessions ${options.sessions} --duration ${options.durationMs / 1000}s --think-ms ${options.thinkMs}`,
    machine: machineInfo(),
    options: { sessions: options.sessions, duration_s: options.durationMs / 1000, think_ms: options.thinkMs },
    commands: { total: outcomes.length, allowed, denied, by_action: byAction },
    unexpected: unexpected.slice(0, 20),
    memory_growth_percent: growth,
    memory_samples: memory,
    checks,
    passed: checks.every((c) => c.ok),
  };
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `soak-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  rmSync(stateDir, { recursive: true, force: true });
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
  process.stdout.write(`results: ${path}\n`);
  process.exitCode = results.passed ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
