/**
 * How `npm run bench` (run.ts) runs one part: progress lines on stderr, a
 * failure recorded in the run's errors while the rest still run; and the
 * in-process micro-benchmarks, each in a child node of its own.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../services/core/repo/repo-root.js';
import type { AdmissionBenchResult } from './admission.bench.js';
import { benchAudit } from './audit.bench.js';
import type { BrokerBenchResult } from './broker.bench.js';
import type { PodsBenchResult } from './pods.bench.js';
import type { ReplicaBenchResult } from './replicas.bench.js';
import { MIB, PLAN, want } from './run-plan.js';
import type { StoreBenchResult } from './store.bench.js';

export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Runs `fn` as the part `name`; if it throws, records the error under `name` and answers undefined. */
export async function part<T>(
  name: string,
  errors: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const start = Date.now();
  log(`${name}…`);
  try {
    const result = await fn();
    log(`${name} done in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    return result;
  } catch (error) {
    errors[name] = error instanceof Error ? error.message : String(error);
    log(`${name} FAILED: ${errors[name]}`);
    return undefined;
  }
}

function runMicro(script: string): unknown {
  const run = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'bench', script)], {
    encoding: 'utf8',
    maxBuffer: 16 * MIB,
  });
  if (run.status !== 0) throw new Error(`${script} exited ${run.status}: ${run.stderr.slice(-500)}`);
  return JSON.parse(run.stdout);
}

/** What the stack-free parts measured; a part that did not run (or failed) is undefined. */
export interface MicroParts {
  audit: Awaited<ReturnType<typeof benchAudit>> | undefined;
  sshCert: unknown;
  policy: unknown;
  broker: BrokerBenchResult | undefined;
  store: StoreBenchResult | undefined;
  replicas: ReplicaBenchResult | undefined;
  admission: AdmissionBenchResult | undefined;
  pods: PodsBenchResult | undefined;
}

/** The stack-free parts that were asked for, one after another. */
export async function runMicroParts(errors: Record<string, string>): Promise<MicroParts> {
  const audit = want('audit-micro')
    ? await part('audit durable vs non-durable', errors, () =>
        benchAudit(PLAN.audit.events, PLAN.audit.rounds),
      )
    : undefined;
  const sshCert = want('ssh-cert')
    ? await part('ssh-cert micro', errors, async () => runMicro('ssh-cert.bench.js'))
    : undefined;
  const policy = want('policy')
    ? await part('policy micro', errors, async () => runMicro('policy.bench.js'))
    : undefined;
  const broker = want('broker')
    ? ((await part('broker issuance', errors, async () => runMicro('broker.bench.js'))) as
        | BrokerBenchResult
        | undefined)
    : undefined;

  const store = want('store')
    ? ((await part('request store', errors, async () => runMicro('store.bench.js'))) as
        | StoreBenchResult
        | undefined)
    : undefined;

  const replicas = want('replicas')
    ? ((await part('broker replicas', errors, async () => runMicro('replicas.bench.js'))) as
        | ReplicaBenchResult
        | undefined)
    : undefined;

  const admission = want('admission')
    ? ((await part('admission latency', errors, async () => runMicro('admission.bench.js'))) as
        | AdmissionBenchResult
        | undefined)
    : undefined;
  // Last: it starts a real-node cluster of its own (minutes), or answers at once why it cannot.
  const pods = want('ephemeral-pods')
    ? ((await part('ephemeral pods (real node)', errors, async () => runMicro('pods.bench.js'))) as
        | PodsBenchResult
        | undefined)
    : undefined;
  if (pods?.skipped) log(`ephemeral pods (real node) SKIPPED: ${pods.skipped}`);
  return { audit, sshCert, policy, broker, store, replicas, admission, pods };
}
