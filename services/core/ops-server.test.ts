import { describe, expect, it } from 'vitest';
import { Metrics, startOpsServer } from './ops-server.js';

describe('ops server', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', () => {
    const metrics = new Metrics();
    const intents = metrics.counter('airlock_intents_total', 'Intents by decision and code');
    const sessions = metrics.gauge('airlock_sessions_active', 'Open sessions');
    const latency = metrics.histogram('airlock_exec_start_seconds', 'Exec start latency', [0.1, 1]);
    intents.inc({ decision: 'deny', code: 'COMMAND_NOT_ALLOWED' });
    intents.inc({ code: 'COMMAND_NOT_ALLOWED', decision: 'deny' });
    intents.inc({ decision: 'allow' });
    sessions.add(2);
    sessions.add(-1);
    latency.observe(0.05);
    latency.observe(0.5);
    expect(metrics.render()).toBe(
      [
        '# HELP airlock_intents_total Intents by decision and code',
        '# TYPE airlock_intents_total counter',
        'airlock_intents_total{code="COMMAND_NOT_ALLOWED",decision="deny"} 2',
        'airlock_intents_total{decision="allow"} 1',
        '# HELP airlock_sessions_active Open sessions',
        '# TYPE airlock_sessions_active gauge',
        'airlock_sessions_active 1',
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
