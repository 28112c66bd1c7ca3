import { randomBytes } from 'node:crypto';
import {
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { AirlockError } from '../errors.js';

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
    spanProcessors.push(
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: options.endpoint }) }),
    );
  }
  if (options.spanProcessor) spanProcessors.push(options.spanProcessor);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors,
  });
  const registerGlobal = options.registerGlobal ?? true;
  // What SDK 2's NodeTracerProvider.register() did; SDK 3's TracerProvider leaves it to the caller.
  if (registerGlobal) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    trace.setGlobalTracerProvider(provider);
  }
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

/** Reads and writes the W3C `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header). */
const W3C_TRACE_CONTEXT = new W3CTraceContextPropagator();

/** The span's W3C `traceparent` header value, or undefined if it has no valid ids. */
export function traceparentOf(span: Span): string | undefined {
  if (!isSpanContextValid(span.spanContext())) return undefined;
  const carrier: Record<string, string> = {};
  W3C_TRACE_CONTEXT.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/**
 * The trace id a W3C `traceparent` carries (what audit records join on), or
 * undefined when the header is not a valid version-00 traceparent.
 */
export function traceIdOf(traceparent: string): string | undefined {
  const parsed = contextFromTraceparent(traceparent);
  return parsed === ROOT_CONTEXT ? undefined : trace.getSpanContext(parsed)?.traceId;
}

/**
 * A context whose parent is the remote span a `traceparent` header names,
 * on top of `base` (default: the root context). A missing or invalid header
 * (wrong shape, upper-case hex, version ff, all-zero ids, a version-00 header
 * with trailing fields) yields `base` unchanged, so the next span starts a new
 * trace. Only the sampled flag is kept: the spec has us zero flags we do not
 * know before passing them on. Only `traceparent` is read (no `tracestate`).
 */
export function contextFromTraceparent(header: unknown, base: Context = ROOT_CONTEXT): Context {
  if (typeof header !== 'string') return base;
  const extracted = trace.getSpanContext(
    W3C_TRACE_CONTEXT.extract(ROOT_CONTEXT, { traceparent: header }, defaultTextMapGetter),
  );
  if (!extracted || !isSpanContextValid(extracted)) return base;
  return trace.setSpanContext(base, { ...extracted, traceFlags: extracted.traceFlags & TraceFlags.SAMPLED });
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
