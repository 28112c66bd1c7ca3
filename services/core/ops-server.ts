import { createServer, type Server } from 'node:http';

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '';
  const escapeValue = (value: string) =>
    value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
  return `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}`;
}

interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4). Enough for a
 * tier's `/metrics`; no dependency.
 */
export class Metrics {
  readonly #metrics: Metric[] = [];

  counter(name: string, help: string) {
    const values = new Map<string, number>();
    this.#metrics.push({
      name,
      help,
      type: 'counter',
      render: () => [...values].map(([k, v]) => `${name}${k} ${v}`),
    });
    return {
      inc(labels: Labels = {}, by = 1): void {
        const key = labelKey(labels);
        values.set(key, (values.get(key) ?? 0) + by);
      },
    };
  }

  gauge(name: string, help: string) {
    const values = new Map<string, number>();
    this.#metrics.push({
      name,
      help,
      type: 'gauge',
      render: () => [...values].map(([k, v]) => `${name}${k} ${v}`),
    });
    return {
      set(value: number, labels: Labels = {}): void {
        values.set(labelKey(labels), value);
      },
      add(by: number, labels: Labels = {}): void {
        const key = labelKey(labels);
        values.set(key, (values.get(key) ?? 0) + by);
      },
    };
  }

  /** Buckets in seconds. */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  ) {
    const series = new Map<string, { counts: number[]; sum: number; count: number }>();
    this.#metrics.push({
      name,
      help,
      type: 'histogram',
      render: () =>
        [...series].flatMap(([key, s]) => {
          const inner = key === '' ? '' : `${key.slice(1, -1)},`;
          return [
            ...buckets.map((b, i) => `${name}_bucket{${inner}le="${b}"} ${s.counts[i]}`),
            `${name}_bucket{${inner}le="+Inf"} ${s.count}`,
            `${name}_sum${key} ${s.sum}`,
            `${name}_count${key} ${s.count}`,
          ];
        }),
    });
    return {
      observe(seconds: number, labels: Labels = {}): void {
        const key = labelKey(labels);
        let s = series.get(key);
        if (!s) {
          s = { counts: buckets.map(() => 0), sum: 0, count: 0 };
          series.set(key, s);
        }
        for (const [i, bound] of buckets.entries()) if (seconds <= bound) s.counts[i]! += 1;
        s.sum += seconds;
        s.count += 1;
      },
    };
  }

  render(): string {
    return `${this.#metrics
      .flatMap((m) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render()])
      .join('\n')}\n`;
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
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(options.metrics.render());
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
