/**
 * A minimal OTLP/HTTP JSON trace receiver for the benchmarks: the tiers'
 * own exporter (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, docs/telemetry.md)
 * posts finished spans here, and the phase breakdown reads them back. It
 * understands exactly what `@opentelemetry/exporter-trace-otlp-http` sends
 * (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding: hex
 * ids, nanosecond times as decimal strings), gzip or not.
 */
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** One finished span, times in milliseconds since the epoch. */
export interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number | boolean>;
  events: { name: string; timeMs: number }[];
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: OtlpKeyValue[];
        events?: { name: string; timeUnixNano: string | number }[];
      }[];
    }[];
  }[];
}

const nanosToMs = (value: string | number) => Number(BigInt(value) / 1000n) / 1000;

function attributeValue(value: OtlpValue): string | number | boolean {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  return value.boolValue ?? '';
}

function attributes(list: OtlpKeyValue[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, attributeValue(kv.value)]));
}

/** Flattens one OTLP JSON export request into spans. */
export function spansOfRequest(request: OtlpRequest): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const service = String(attributes(resourceSpans.resource?.attributes)['service.name'] ?? '');
    for (const scope of resourceSpans.scopeSpans ?? [])
      for (const span of scope.spans ?? [])
        spans.push({
          service,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          startMs: nanosToMs(span.startTimeUnixNano),
          endMs: nanosToMs(span.endTimeUnixNano),
          attributes: attributes(span.attributes),
          events: (span.events ?? []).map((e) => ({ name: e.name, timeMs: nanosToMs(e.timeUnixNano) })),
        });
  }
  return spans;
}

export interface SpanCollector {
  /** The traces URL to give the tiers as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  url: string;
  /** Every span received so far. */
  spans(): readonly CollectedSpan[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (any free port) and keeps every span posted to /v1/traces. */
export function startSpanCollector(): Promise<SpanCollector> {
  const received: CollectedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`${req.method} ${req.url}`);
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        received.push(...spansOfRequest(JSON.parse(body.toString('utf8')) as OtlpRequest));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (error) {
        res.writeHead(400).end(String(error));
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}/v1/traces`,
        spans: () => received,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
