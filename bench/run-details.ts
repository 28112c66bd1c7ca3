/**
 * The detail rows of the benchmark report (bench/results/latest.md): one or
 * more per part that ran, gateway beside kubectl.
 */
import type { AbResult } from './ab.bench.js';
import type { AdmissionBenchResult } from './admission.bench.js';
import type { benchAudit } from './audit.bench.js';
import type { BrokerBenchResult } from './broker.bench.js';
import type {
  benchAuditSessions,
  benchExecLatency,
  benchIdleMemory,
  benchPortForward,
  benchStdin,
  benchStdout,
  benchSustained,
} from './gateway.bench.js';
import type { ModerationBenchResult } from './moderation.bench.js';
import type { PhaseResult } from './phases.bench.js';
import type { PodsBenchResult } from './pods.bench.js';
import type { ReplicaBenchResult } from './replicas.bench.js';
import type { DetailRow } from './report.js';
import { MIB } from './run-plan.js';
import type { StoreBenchResult } from './store.bench.js';

/** What the parts of one run measured; a part that did not run (or failed) is undefined. */
export interface MeasuredParts {
  latency: Awaited<ReturnType<typeof benchExecLatency>> | undefined;
  stdout: Awaited<ReturnType<typeof benchStdout>> | undefined;
  stdin: Awaited<ReturnType<typeof benchStdin>> | undefined;
  forward: Awaited<ReturnType<typeof benchPortForward>> | undefined;
  phases: PhaseResult | undefined;
  moderation: ModerationBenchResult | undefined;
  ab: AbResult | undefined;
  sustained: Awaited<ReturnType<typeof benchSustained>> | undefined;
  memory: Awaited<ReturnType<typeof benchIdleMemory>> | undefined;
  auditSessions: Awaited<ReturnType<typeof benchAuditSessions>> | undefined;
  audit: Awaited<ReturnType<typeof benchAudit>> | undefined;
  broker: BrokerBenchResult | undefined;
  store: StoreBenchResult | undefined;
  replicas: ReplicaBenchResult | undefined;
  admission: AdmissionBenchResult | undefined;
  pods: PodsBenchResult | undefined;
}

const shortNote = (count: number | undefined) =>
  count ? `; ${count} connection(s) ended short, excluded` : '';

/** Rows of exec latency. */
function latencyRows(latency: MeasuredParts['latency']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (latency)
    rows.push({
      what: `exec \`${latency.argv.join(' ')}\` latency, ms p50 / p90 / p99 (n=${latency.gateway_ms.n})`,
      gateway: `${latency.gateway_ms.p50} / ${latency.gateway_ms.p90} / ${latency.gateway_ms.p99}`,
      kubectl: `${latency.kubectl_ms.p50} / ${latency.kubectl_ms.p90} / ${latency.kubectl_ms.p99}`,
    });
  if (latency)
    rows.push({
      what: '`whoami` latency (gateway only, no Kubernetes call), ms p50 / p90 / p99',
      gateway: `${latency.gateway_whoami_ms.p50} / ${latency.gateway_whoami_ms.p90} / ${latency.gateway_whoami_ms.p99}`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of stdout, stdin and port-forward throughput. */
function throughputRows(
  stdout: MeasuredParts['stdout'],
  stdin: MeasuredParts['stdin'],
  forward: MeasuredParts['forward'],
): DetailRow[] {
  const rows: DetailRow[] = [];
  for (const t of [stdout, stdin, forward])
    if (t)
      rows.push({
        what: `${t.what}, ${t.bytes / MIB} MiB, MB/s p50 (n=${t.runs})`,
        gateway: `${Number.isFinite(t.gateway_mb_s.p50) ? t.gateway_mb_s.p50 : 'no complete transfer'} (CPU ms/MiB: ${Object.entries(
          t.gateway_cpu_ms_per_mib,
        )
          .map(([tier, ms]) => `${tier} ${ms}`)
          .join(', ')})${shortNote(t.short_transfers?.gateway.count)}`,
        kubectl: `${t.kubectl_mb_s.p50}${shortNote(t.short_transfers?.kubectl.count)}`,
      });
  if (stdout?.output_incomplete)
    rows.push({
      what: 'exec stdout: gateway runs ended OUTPUT_INCOMPLETE, with every byte / bytes really lost',
      gateway: `${stdout.output_incomplete.complete} / ${stdout.output_incomplete.short} of ${stdout.runs + stdout.output_incomplete.short + 1} (warm-up included)`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of the exec phase breakdown. */
function phaseRows(phases: MeasuredParts['phases']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (phases) {
    rows.push({
      what: `exec \`true\` with span export (phase part), ms p50 (n=${phases.gateway_ms.n}; ${phases.complete} traces complete)`,
      gateway: `${phases.gateway_ms.p50} (ratio ${phases.exec_p50_ratio})`,
      kubectl: `${phases.kubectl_ms.p50}`,
    });
    for (const [group, ms] of Object.entries(phases.groups_ms))
      rows.push({
        what: `· phase: ${group}, ms p50 / mean`,
        gateway: `${ms.p50} / ${ms.mean}`,
        kubectl: '—',
      });
  }
  return rows;
}

/** Rows of the moderated session. */
function moderationRows(moderation: MeasuredParts['moderation']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (moderation)
    for (const [name, mb] of Object.entries(moderation.owner_mb_s))
      rows.push({
        what: `moderated session, owner stdout ${moderation.bytes / MIB} MiB, observers: ${name}, MB/s p50 (n=${mb.n})`,
        gateway: `${mb.p50} (ratio to none ${moderation.ratio_to_none[name as keyof typeof moderation.ratio_to_none]}; mediator CPU ms/MiB ${moderation.mediator_cpu_ms_per_mib[name as keyof typeof moderation.mediator_cpu_ms_per_mib]})`,
        kubectl: '—',
      });
  if (moderation)
    rows.push({
      what: 'moderated session: stalled observer dropped (trail) / its client saw OBSERVER_DROPPED / the owner saw it leave, of runs',
      gateway: `${moderation.stalled.dropped} / ${moderation.stalled.saw_message} / ${moderation.stalled.owner_told} of ${moderation.stalled.runs}; full-speed observers dropped too: ${moderation.readers_dropped.read1} of ${moderation.runs} (1 observer), ${moderation.readers_dropped.read5} of ${moderation.runs * 5} (5 observers)${moderation.short.length ? `; ${moderation.short.length} owner run(s) short` : ''}`,
      kubectl: '—',
    });
  if (moderation)
    rows.push({
      what: 'moderated session: CPU ms per MiB of owner output, per observer: mediator ((read5 − none) / 5) / the observer’s own ssh (read1, read5)',
      gateway: `${moderation.mediator_cpu_ms_per_mib_per_observer} / ${moderation.observer_ssh_cpu_ms_per_mib.read1}, ${moderation.observer_ssh_cpu_ms_per_mib.read5}`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of the before/after comparison. */
function abRows(ab: MeasuredParts['ab']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (ab)
    for (const [metric, old] of Object.entries(ab.summary.old))
      rows.push({
        what: `before → after (${ab.rounds} alternating rounds): ${metric}`,
        gateway: `${old} → ${ab.summary.new[metric]}`,
        kubectl: '—',
      });
  return rows;
}

/** Rows of sustained exec load. */
function sustainedRows(sustained: MeasuredParts['sustained']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (sustained)
    sustained.gateway.forEach((g, i) => {
      const k = sustained.kubectl[i]!;
      rows.push({
        what: `exec sessions/s at concurrency ${g.concurrency} (${g.total} sessions), p99 ms`,
        gateway: `${g.sessions_per_s}/s, p99 ${g.latency_ms.p99}${g.errors ? `, ${g.errors} failed` : ''} (CPU ms/session: ${Object.entries(
          g.cpu_ms_per_session,
        )
          .map(([tier, ms]) => `${tier} ${ms}`)
          .join(', ')})`,
        kubectl: `${k.sessions_per_s}/s, p99 ${k.latency_ms.p99}${k.errors ? `, ${k.errors} failed` : ''}`,
      });
    });
  return rows;
}

/** Rows of idle memory. */
function memoryRows(memory: MeasuredParts['memory']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (memory)
    rows.push({
      what: `mediator RSS, KiB: 0 → ${memory.idle_sessions} idle sessions → closed`,
      gateway: `${memory.rss_kib_before} → ${memory.rss_kib_with_sessions} → ${memory.rss_kib_after_close}`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of exec sessions/s with audit fsync on and off. */
function auditSessionRows(auditSessions: MeasuredParts['auditSessions']): DetailRow[] {
  const rows: DetailRow[] = [];
  for (const level of auditSessions?.levels ?? [])
    rows.push({
      what: `exec sessions/s with audit fsync on / off (separate mediator+executor pairs), concurrency ${level.concurrency}, p50 of ${auditSessions!.rounds} × ${level.total} sessions`,
      gateway: `${level.on.p50} / ${level.off.p50} (ratio ${level.ratio}; p99 ms ${level.on_latency_ms.p99} / ${level.off_latency_ms.p99}${level.errors.on + level.errors.off ? `; failed ${level.errors.on} / ${level.errors.off}` : ''})`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of the audit append micro-benchmark. */
function auditRows(audit: MeasuredParts['audit']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (audit)
    rows.push({
      what: `audit appends/s, fsync on / off, one at a time (p50 of ${audit.rounds} × ${audit.events_per_round})`,
      gateway: `${audit.durable_events_per_s.p50} / ${audit.non_durable_events_per_s.p50}`,
      kubectl: '—',
    });
  if (audit)
    rows.push({
      what: `audit appends/s, fsync on / off, ${audit.concurrent.in_flight} in flight`,
      gateway: `${audit.concurrent.durable_events_per_s.p50} / ${audit.concurrent.non_durable_events_per_s.p50} (ratio ${audit.concurrent.ratio})`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of broker issuance. */
function brokerRows(broker: MeasuredParts['broker']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (broker)
    rows.push(
      {
        what: `broker request create (auto-approved, HTTPS), ms p50 / p90 / p99 (n=${broker.request_create_ms.n})`,
        gateway: `${broker.request_create_ms.p50} / ${broker.request_create_ms.p90} / ${broker.request_create_ms.p99}`,
        kubectl: '—',
      },
      {
        what: `broker certificates/s, one at a time / ${broker.certificate_concurrent.in_flight} in flight (n=${broker.plan.certificates} each)`,
        gateway: `${broker.certificate_sequential.certs_per_s} / ${broker.certificate_concurrent.certs_per_s} (p50 ${broker.certificate_sequential.latency_ms.p50} ms)`,
        kubectl: '—',
      },
    );
  return rows;
}

/** Rows of the request store. */
function storeRows(store: MeasuredParts['store']): DetailRow[] {
  const rows: DetailRow[] = [];
  for (const row of store?.rows ?? [])
    rows.push({
      what: `request store ${row.store}, ${row.stored_requests} stored: create / approve ms p50 / p99 (n=${row.create_ms.n})`,
      gateway: `${row.create_ms.p50} / ${row.create_ms.p99} — ${row.approve_ms.p50} / ${row.approve_ms.p99}`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of broker replicas. */
function replicaRows(replicas: MeasuredParts['replicas']): DetailRow[] {
  const rows: DetailRow[] = [];
  for (const row of replicas?.rows ?? [])
    rows.push({
      what: `broker certificates/s with ${row.replicas} replica(s) on one PostgreSQL, ${replicas?.plan.inFlight} in flight (n=${row.request_ms.n}, errors ${row.errors})`,
      gateway: `${row.certs_per_s} (request p50 ${row.request_ms.p50} ms)`,
      kubectl: '—',
    });
  return rows;
}

/** Rows of admission latency. */
function admissionRows(admission: MeasuredParts['admission']): DetailRow[] {
  const rows: DetailRow[] = [];
  if (admission)
    rows.push({
      what: `\`kubectl exec ${admission.argv.join(' ')}\` as a jit: group with / without the ${admission.policies} admission objects, ms p50 / p99 (n=${admission.runs} each, interleaved)`,
      gateway: '—',
      kubectl: `${admission.with_policies_ms.p50} / ${admission.with_policies_ms.p99} — ${admission.without_policies_ms.p50} / ${admission.without_policies_ms.p99} (p50 added ${admission.added_p50_ms})`,
    });
  return rows;
}

/** The report's detail rows, in the order the report shows them. */
/** Rows of ephemeral mode on the real node (pods.bench.ts), or the reason it was skipped. */
function podsRows(pods: MeasuredParts['pods']): DetailRow[] {
  if (!pods) return [];
  if (pods.skipped)
    return [{ what: 'ephemeral pods (real node): SKIPPED', gateway: pods.skipped, kubectl: '—' }];
  const rows: DetailRow[] = [];
  const ready = pods.approval_to_ssh_ready_ms;
  if (ready)
    rows.push({
      what: `approval → first ssh command through the door done, ms p50 / p99 (n=${ready.n} requests)`,
      gateway: `${ready.p50} / ${ready.p99}`,
      kubectl: '—',
    });
  const exec = pods.exec_ms;
  if (exec)
    rows.push({
      what: `exec \`${pods.exec_argv?.join(' ')}\` via the door to a request's own pods — via the standing tiers, ms p50 / p99 (n=${exec.ephemeral.n} each, interleaved)`,
      gateway: `${exec.ephemeral.p50} / ${exec.ephemeral.p99} — ${exec.standing.p50} / ${exec.standing.p99}`,
      kubectl: '—',
    });
  return rows;
}

export function detailRows(parts: MeasuredParts): DetailRow[] {
  return [
    ...latencyRows(parts.latency),
    ...throughputRows(parts.stdout, parts.stdin, parts.forward),
    ...phaseRows(parts.phases),
    ...moderationRows(parts.moderation),
    ...abRows(parts.ab),
    ...sustainedRows(parts.sustained),
    ...memoryRows(parts.memory),
    ...auditSessionRows(parts.auditSessions),
    ...auditRows(parts.audit),
    ...brokerRows(parts.broker),
    ...storeRows(parts.store),
    ...replicaRows(parts.replicas),
    ...admissionRows(parts.admission),
    ...podsRows(parts.pods),
  ];
}
