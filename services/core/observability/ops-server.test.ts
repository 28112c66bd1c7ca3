import { describe, expect, it } from 'vitest';
import { Metrics, startOpsServer } from './ops-server.js';

describe('ops server', () => {
  it('renders counters, gauges and histograms in the Prometheus text format, labels in name order', async () => {
    const metrics = new Metrics();
    const intents = metrics.counter('airlock_intents_total', 'Intents by decision and code', [
      'decision',
      'code',
    ]);
    const sessions = metrics.gauge('airlock_sessions_active', 'Open sessions');
    const latency = metrics.histogram('airlock_exec_start_seconds', 'Exec start latency', [], [0.1, 1]);
    intents.inc({ decision: 'deny', code: 'COMMAND_NOT_ALLOWED' });
    intents.inc({ code: 'COMMAND_NOT_ALLOWED', decision: 'deny' });
    intents.inc({ decision: 'allow' });
    sessions.add(2);
    sessions.add(-1);
    latency.observe(0.05);
    latency.observe(0.5);
    expect(await metrics.render()).toBe(
      [
        '# HELP airlock_intents_total Intents by decision and code',
        '# TYPE airlock_intents_total counter',
        'airlock_intents_total{code="COMMAND_NOT_ALLOWED",decision="deny"} 2',
        'airlock_intents_total{decision="allow"} 1',
        '',
        '# HELP airlock_sessions_active Open sessions',
        '# TYPE airlock_sessions_active gauge',
        'airlock_sessions_active 1',
        '',
        '# HELP airlock_exec_start_seconds Exec start latency',
        '# TYPE airlock_exec_start_seconds histogram',
        'airlock_exec_start_seconds_bucket{le="0.1"} 1',
        'airlock_exec_start_seconds_bucket{le="1"} 2',
        'airlock_exec_start_seconds_bucket{le="+Inf"} 2',
        'airlock_exec_start_seconds_sum 0.55',
        'airlock_exec_start_seconds_count 2',
        '',
      ].join('\n'),
    );
  });

  it('refuses a label the metric did not declare (a typo would otherwise start a new series)', () => {
    const metrics = new Metrics();
    const intents = metrics.counter('airlock_intents_total', 'Intents by decision', ['decision']);
    // @ts-expect-error: `result` is not a label of this counter.
    expect(() => intents.inc({ result: 'allow' })).toThrow(/result/);
  });

  it('serves process, GC and event-loop-lag metrics beside its own on /metrics', async () => {
    const metrics = new Metrics({ processMetrics: true });
    metrics.counter('airlock_example_total', 'An airlock counter').inc();
    const ops = await startOpsServer({ listen: '127.0.0.1:0', metrics, checks: {} });
    try {
      const res = await fetch(`http://127.0.0.1:${ops.port}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toContain('airlock_example_total 1');
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'process_open_fds',
        'nodejs_heap_size_used_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_gc_duration_seconds',
      ]) {
        expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      }
    } finally {
      await ops.close();
    }
  });

  it('answers /healthz, names failing checks on /readyz with 503, and serves /metrics', async () => {
    let auditHealthy = true;
    const ops = await startOpsServer({
      listen: '127.0.0.1:0',
      metrics: new Metrics(),
      checks: { audit: () => auditHealthy, executor: async () => true },
    });
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${ops.port}${path}`);
      return { status: res.status, body: await res.text() };
    };
    try {
      expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
      expect(await get('/readyz')).toEqual({ status: 200, body: 'ready\n' });
      auditHealthy = false;
      expect(await get('/readyz')).toEqual({ status: 503, body: 'not ready: audit\n' });
      expect((await get('/metrics')).status).toBe(200);
      expect((await get('/other')).status).toBe(404);
    } finally {
      await ops.close();
    }
  });
});
