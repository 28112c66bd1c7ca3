/** The results file's headline numbers, the goals they are judged by, and the markdown table. */
import type { MachineInfo } from './machine.js';

export interface Headline {
  exec_p50_ratio: number | null;
  stdout_throughput_ratio: number | null;
  stdin_throughput_ratio: number | null;
  portforward_throughput_ratio: number | null;
  /** Forwarded connections that ended before all bytes arrived, per side. */
  portforward_short_transfers: { gateway: number; kubectl: number } | null;
  portforward_runs: number | null;
  exec_sessions_per_s: number | null;
  /** p99 latency at the concurrency that gave `exec_sessions_per_s`. */
  exec_sessions_p99_ms: number | null;
  exec_sessions_concurrency: number | null;
  mediator_kib_per_idle_session: number | null;
  audit_on_off_ratio: number | null;
  /** Certificates issued per second by the broker over HTTPS (8 calls in flight). */
  broker_certs_per_s: number | null;
  /** Median latency of an auto-approved request create over HTTPS. */
  request_create_p50_ms: number | null;
}

export interface Goal {
  metric: string;
  goal: string;
  value: string;
  met: boolean | null;
}

const show = (v: number | null, unit = '') => (v === null ? 'not measured' : `${v}${unit}`);
const check = (v: number | null, ok: (v: number) => boolean) => (v === null ? null : ok(v));

function portForwardValue(h: Headline): string {
  const short = h.portforward_short_transfers?.gateway ?? 0;
  if (short === 0) return show(h.portforward_throughput_ratio);
  const lost = `${short} of ${h.portforward_runs} gateway transfers (samples and warm-up) ended short`;
  return h.portforward_throughput_ratio === null
    ? `no complete transfer: ${lost}`
    : `${h.portforward_throughput_ratio} over the complete transfers only; ${lost}`;
}

export function goals(h: Headline): Goal[] {
  return [
    {
      metric: 'exec_p50_ratio (gateway / kubectl)',
      goal: '≤ 1.0',
      value: show(h.exec_p50_ratio),
      met: check(h.exec_p50_ratio, (v) => v <= 1.0),
    },
    {
      metric: 'stdout_throughput_ratio',
      goal: '≥ 0.8',
      value: show(h.stdout_throughput_ratio),
      met: check(h.stdout_throughput_ratio, (v) => v >= 0.8),
    },
    {
      metric: 'stdin_throughput_ratio',
      goal: '≥ 0.8',
      value: show(h.stdin_throughput_ratio),
      met: check(h.stdin_throughput_ratio, (v) => v >= 0.8),
    },
    {
      metric: 'portforward_throughput_ratio',
      goal: '≥ 0.8, every transfer complete',
      value: portForwardValue(h),
      // A forward that loses bytes fails the goal whatever its speed.
      met: h.portforward_short_transfers?.gateway
        ? false
        : check(h.portforward_throughput_ratio, (v) => v >= 0.8),
    },
    {
      metric: 'exec_sessions_per_s (p99)',
      goal: '≥ 50/s with p99 < 250 ms',
      value:
        h.exec_sessions_per_s === null
          ? 'not measured'
          : `${h.exec_sessions_per_s}/s at concurrency ${h.exec_sessions_concurrency} (p99 ${h.exec_sessions_p99_ms} ms)`,
      met:
        h.exec_sessions_per_s === null
          ? null
          : h.exec_sessions_per_s >= 50 && (h.exec_sessions_p99_ms ?? Number.POSITIVE_INFINITY) < 250,
    },
    {
      metric: 'mediator_kib_per_idle_session',
      goal: '≤ 512 KiB',
      value: show(h.mediator_kib_per_idle_session, ' KiB'),
      met: check(h.mediator_kib_per_idle_session, (v) => v <= 512),
    },
    {
      metric: 'audit_on_off_ratio (exec sessions/s, audit fsync on / off)',
      goal: '≥ 0.9',
      value: show(h.audit_on_off_ratio),
      met: check(h.audit_on_off_ratio, (v) => v >= 0.9),
    },
    // Issue #7 asks for these numbers, not for a target: recorded, not judged.
    {
      metric: 'broker_certs_per_s',
      goal: 'recorded',
      value: show(h.broker_certs_per_s, '/s'),
      met: null,
    },
    {
      metric: 'request_create_p50_ms',
      goal: 'recorded',
      value: show(h.request_create_p50_ms, ' ms'),
      met: null,
    },
  ];
}

export interface DetailRow {
  what: string;
  gateway: string;
  kubectl: string;
}

export function renderMarkdown(
  startedAt: string,
  machine: MachineInfo,
  headline: Headline,
  details: readonly DetailRow[],
  notes: readonly string[],
): string {
  const lines = [
    `# airlock benchmark — ${startedAt}`,
    '',
    `Machine: ${machine.cpu_model}, ${machine.cores} cores, ${machine.memory_mib} MiB; ${machine.kernel}; node ${machine.node}; ${machine.go}; ${machine.openssh}; load average at start ${machine.load_average_at_start.join(' ')}.`,
    '',
    '| metric | goal | value | |',
    '|---|---|---|---|',
    ...goals(headline).map(
      (g) => `| ${g.metric} | ${g.goal} | ${g.value} | ${g.met === null ? '—' : g.met ? 'met' : 'missed'} |`,
    ),
    '',
    '| measurement | gateway (ssh → mediator → executor) | baseline (kubectl) |',
    '|---|---|---|',
    ...details.map((d) => `| ${d.what} | ${d.gateway} | ${d.kubectl} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ];
  return lines.join('\n');
}
