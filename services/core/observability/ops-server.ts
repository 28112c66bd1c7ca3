import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Label values by label name; a label left out is not written. A metric without label names takes none. */
type Labels<L extends string> = [L] extends [never] ? Record<string, never> : Partial<Record<L, string>>;

/** Labels in name order, so a series reads the same whatever order the caller wrote them in. */
function sorted<L extends string>(labels: Labels<L>): Partial<Record<L, string>> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))) as Partial<
    Record<L, string>
  >;
}

export interface MetricsOptions {
  /**
   * Also collect prom-client's process and Node metrics: CPU, memory, open
   * file descriptors, heap, GC duration by kind (`nodejs_gc_duration_seconds`)
   * and event-loop lag (`nodejs_eventloop_lag_*`). The tiers' main.ts turn it
   * on; tests that build many services in one process leave it off (each
   * collection starts its own GC observer and event-loop monitor).
   */
  readonly processMetrics?: boolean;
}

/**
 * A tier's Prometheus registry (prom-client): counters, gauges and
 * histograms with a fixed set of label names each, rendered in the text
 * exposition format on the ops port's `/metrics`.
 */
export class Metrics {
  readonly #registry = new Registry();

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.#registry });
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
    const counter = new Counter({ name, help, labelNames, registers: [this.#registry] });
    return {
      inc(labels: Labels<L> = {}, by = 1): void {
        counter.inc(sorted(labels), by);
      },
    };
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
    const gauge = new Gauge({ name, help, labelNames, registers: [this.#registry] });
    return {
      set(value: number, labels: Labels<L> = {}): void {
        gauge.set(sorted(labels), value);
      },
      add(by: number, labels: Labels<L> = {}): void {
        gauge.inc(sorted(labels), by);
      },
    };
  }

  /** Buckets in seconds. */
  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  ) {
    const histogram = new Histogram({
      name,
      help,
      labelNames,
      buckets: [...buckets],
      registers: [this.#registry],
    });
    return {
      observe(seconds: number, labels: Labels<L> = {}): void {
        histogram.observe(sorted(labels), seconds);
      },
    };
  }

  /** The `content-type` of `render()`'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Every metric in the text exposition format. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }
}

/** A named readiness check; false or a throw means not ready. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/**
 * The operations endpoint of a tier, on its own local port (never the
 * user-facing one): `/healthz` (the process runs), `/readyz` (every check
 * passes; the failing ones are named), `/metrics` (Prometheus).
 */
export function startOpsServer(options: {
  listen: string;
  metrics: Metrics;
  checks: Readonly<Record<string, ReadinessCheck>>;
}): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (req.url === '/readyz') {
        const failing: string[] = [];
        for (const [name, check] of Object.entries(options.checks)) {
          const ok = await Promise.resolve()
            .then(check)
            .catch(() => false);
          if (!ok) failing.push(name);
        }
        res
          .writeHead(failing.length === 0 ? 200 : 503, { 'content-type': 'text/plain' })
          .end(failing.length === 0 ? 'ready\n' : `not ready: ${failing.join(', ')}\n`);
      } else if (req.url === '/metrics') {
        const text = await options.metrics.render();
        res.writeHead(200, { 'content-type': options.metrics.contentType }).end(text);
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  const separator = options.listen.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(options.listen.slice(separator + 1)), options.listen.slice(0, separator), () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
