import { randomBytes } from 'node:crypto';
import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { AirlockError } from './errors.js';

/**
 * Tracing for airlock. Context crosses the mediator → executor hop
 * explicitly, as the W3C `traceparent` gRPC metadata entry the executor
 * client already sends (https://www.w3.org/TR/trace-context/#traceparent-header),
 * and reaches the Kubernetes calls as an explicit parent `Context`.
 *
 * There is deliberately no gRPC auto-instrumentation: under ESM it needs the
 * process started with `node --import` and an import-in-the-middle loader
 * hook that patches @grpc/grpc-js before anything imports it. Propagating
 * through metadata we already send needs no loader, works the same in
 * tests (in-process, many tiers per process) as in production, and is
 * asserted directly by test/e2e/tracing.test.ts.
 */

/** Where finished spans go: an OTLP/HTTP collector, or nowhere. */
export type TelemetryExporter = 'otlp-http' | 'none';

export interface TelemetryOptions {
  /** The `service.name` resource attribute, e.g. `airlock-mediator`. */
  serviceName: string;
  /** Default `none`: spans (and their ids) still exist, nothing is exported. */
  exporter?: TelemetryExporter;
  /** The OTLP/HTTP traces URL (e.g. `http://collector:4318/v1/traces`); required for `otlp-http`. */
  endpoint?: string;
  /** An extra processor, e.g. a SimpleSpanProcessor over an InMemorySpanExporter in tests. */
  spanProcessor?: SpanProcessor;
  /**
   * Install the provider, the W3C trace-context propagator and the
   * AsyncLocalStorage context manager as the process globals (default true).
   * Tests that run several tiers in one process pass false and hand each
   * tier its own tracer.
   */
  registerGlobal?: boolean;
}

export interface Telemetry {
  /** Hand this to the services' deps (`tracer`). */
  tracer: Tracer;
  /** Flushes pending spans and stops exporting; unregisters the globals it installed. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK for one tier. Called only by the composition
 * roots (`services/<tier>/main.ts`) and tests; services take the returned
 * tracer through their deps.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const exporter = options.exporter ?? 'none';
  const spanProcessors: SpanProcessor[] = [];
  if (exporter === 'otlp-http') {
    if (!options.endpoint) throw new Error('telemetry: the otlp-http exporter needs an endpoint');
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.endpoint })));
  }
  if (options.spanProcessor) spanProcessors.push(options.spanProcessor);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors,
  });
  const registerGlobal = options.registerGlobal ?? true;
  // register() installs the W3C trace-context (and baggage) propagator by default.
  if (registerGlobal) provider.register();
  return {
    tracer: provider.getTracer('airlock'),
    async shutdown() {
      await provider.shutdown();
      if (registerGlobal) {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}

/**
 * The telemetry settings the standard OpenTelemetry environment variables
 * ask for (https://opentelemetry.io/docs/specs/otel/protocol/exporter/):
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`) turns export on;
 * `OTEL_TRACES_EXPORTER=none` turns it off again; `OTEL_SERVICE_NAME`
 * overrides the service name. Pure: the composition root passes `process.env`.
 */
export function telemetryOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  serviceName: string,
): TelemetryOptions {
  const name = env.OTEL_SERVICE_NAME || serviceName;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const endpoint = tracesEndpoint || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!endpoint || env.OTEL_TRACES_EXPORTER === 'none') return { serviceName: name, exporter: 'none' };
  return { serviceName: name, exporter: 'otlp-http', endpoint };
}

/** W3C traceparent, version 00: version-traceid-parentid-flags, lowercase hex. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span's W3C `traceparent` header value, or undefined if it has no valid ids. */
export function traceparentOf(span: Span): string | undefined {
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * A context whose parent is the remote span a `traceparent` header names,
 * on top of `base` (default: the root context). A missing or invalid header
 * (wrong shape, version ff, all-zero ids) yields `base` unchanged, so the
 * next span starts a new trace.
 */
export function contextFromTraceparent(header: unknown, base: Context = ROOT_CONTEXT): Context {
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim()) : null;
  if (!match || match[1] === 'ff') return base;
  const spanContext: SpanContext = {
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: Number.parseInt(match[4]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(base, spanContext) : base;
}

/** The trace and span id of a span, for audit records; undefined when it has none. */
export function traceIdsOf(span: Span): { traceId: string | undefined; spanId: string | undefined } {
  const sc = span.spanContext();
  return isSpanContextValid(sc)
    ? { traceId: sc.traceId, spanId: sc.spanId }
    : { traceId: undefined, spanId: undefined };
}

/**
 * `span` itself when it has valid ids; otherwise (the API's no-op tracer,
 * no SDK started) a non-recording span with fresh random ids, so audit
 * records and the Kubernetes audit log still correlate by trace id.
 */
export function withTraceIds(span: Span): Span {
  if (isSpanContextValid(span.spanContext())) return span;
  return trace.wrapSpanContext({
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  });
}

/** Ends a span, marking it failed with the airlock error code when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const code = error instanceof AirlockError ? error.code : 'INTERNAL';
    span.setAttribute('airlock.code', code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }
  span.end();
}

/** The tracer services use when their deps name none: the global one (no-op until an SDK registers). */
export function defaultTracer(component: string): Tracer {
  return trace.getTracer(component);
}
