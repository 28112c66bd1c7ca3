import { createServer } from 'node:http';
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import {
  contextFromTraceparent,
  endSpan,
  startTelemetry,
  type Telemetry,
  telemetryOptionsFromEnv,
  traceIdOf,
  traceIdsOf,
  traceparentOf,
  withTraceIds,
} from './telemetry.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('telemetry', () => {
  const started: Telemetry[] = [];
  // A fresh exporter per test: shutting a provider down stops its exporter for good.
  let exporter = new InMemorySpanExporter();
  function sdk(serviceName = 'airlock-test'): Telemetry {
    const telemetry = startTelemetry({
      serviceName,
      spanProcessor: new SimpleSpanProcessor({ exporter }),
      registerGlobal: false,
    });
    started.push(telemetry);
    return telemetry;
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((t) => t.shutdown()));
    exporter = new InMemorySpanExporter();
  });

  it('writes a span as a W3C traceparent and reads it back as the parent of the next span', () => {
    const { tracer } = sdk();
    const parent = tracer.startSpan('parent');
    const header = traceparentOf(parent)!;
    const { traceId, spanId } = parent.spanContext();
    expect(header).toBe(`00-${traceId}-${spanId}-01`);

    const child = tracer.startSpan('child', {}, contextFromTraceparent(header));
    child.end();
    parent.end();
    const [finishedChild] = exporter.getFinishedSpans();
    expect(finishedChild!.spanContext().traceId).toBe(traceId);
    expect(finishedChild!.parentSpanContext).toMatchObject({ traceId, spanId, isRemote: true });
  });

  it('keeps the sampled flag of the incoming traceparent', () => {
    const sampled = trace.getSpanContext(contextFromTraceparent(`00-${TRACE_ID}-${SPAN_ID}-01`));
    const unsampled = trace.getSpanContext(contextFromTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`));
    expect(sampled).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(unsampled?.traceFlags).toBe(TraceFlags.NONE);
  });

  it.each([
    ['absent', undefined],
    ['not a string', Buffer.from(`00-${TRACE_ID}-${SPAN_ID}-01`)],
    ['garbage', 'not-a-traceparent'],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['an all-zero span id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['version 00 with a trailing field', `00-${TRACE_ID}-${SPAN_ID}-01-extra`],
  ])('ignores a traceparent that is %s: the base context comes back unchanged', (_what, header) => {
    expect(contextFromTraceparent(header)).toBe(ROOT_CONTEXT);
  });

  it('keeps only the sampled flag: flags it does not know are zeroed, not passed on', () => {
    expect(trace.getSpanContext(contextFromTraceparent(`00-${TRACE_ID}-${SPAN_ID}-03`))?.traceFlags).toBe(
      TraceFlags.SAMPLED,
    );
    expect(trace.getSpanContext(contextFromTraceparent(`00-${TRACE_ID}-${SPAN_ID}-fe`))?.traceFlags).toBe(
      TraceFlags.NONE,
    );
  });

  it('reads a later version with extra fields, as the spec asks of a version-00 reader', () => {
    expect(trace.getSpanContext(contextFromTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-later`))).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
  });

  it('any header yields the base context or a valid remote parent with only the sampled flag (fast-check)', () => {
    const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
    const header = fc.oneof(
      fc.string(),
      fc.tuple(hex(2), hex(32), hex(16), hex(2), fc.string()).map((parts) => parts.join('-')),
      fc.tuple(hex(2), hex(32), hex(16), hex(2)).map((parts) => parts.join('-')),
    );
    fc.assert(
      fc.property(header, (value) => {
        const parsed = contextFromTraceparent(value);
        if (parsed === ROOT_CONTEXT) return;
        const parent = trace.getSpanContext(parsed)!;
        expect(parent.isRemote).toBe(true);
        expect(parent.traceFlags & ~TraceFlags.SAMPLED).toBe(0);
        expect(traceparentOf(trace.wrapSpanContext(parent))).toBe(
          `00-${parent.traceId}-${parent.spanId}-0${parent.traceFlags}`,
        );
      }),
    );
  });

  it('writes any valid span context as a traceparent it reads back unchanged (fast-check)', () => {
    const id = (length: number) =>
      fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`)).filter((v) => /[1-9a-f]/.test(v));
    fc.assert(
      fc.property(
        id(32),
        id(16),
        fc.constantFrom(TraceFlags.NONE, TraceFlags.SAMPLED),
        (traceId, spanId, flags) => {
          const header = traceparentOf(trace.wrapSpanContext({ traceId, spanId, traceFlags: flags }))!;
          expect(header).toBe(`00-${traceId}-${spanId}-0${flags}`);
          expect(trace.getSpanContext(contextFromTraceparent(header))).toEqual({
            traceId,
            spanId,
            traceFlags: flags,
            isRemote: true,
          });
        },
      ),
    );
  });

  it('reads the trace id out of a traceparent, and none out of a malformed one', () => {
    expect(traceIdOf(`00-${TRACE_ID}-${SPAN_ID}-01`)).toBe(TRACE_ID);
    expect(traceIdOf('not-a-traceparent')).toBeUndefined();
    expect(traceIdOf(`00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`)).toBeUndefined();
  });

  it('has no traceparent and no ids for a span without valid ids', () => {
    const invalid = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    expect(traceparentOf(invalid)).toBeUndefined();
    expect(traceIdsOf(invalid)).toEqual({ traceId: undefined, spanId: undefined });
  });

  it('gives a span of the no-op tracer fresh random ids, and leaves a real span alone', () => {
    const noop = withTraceIds(trace.getTracerProvider().getTracer('no-sdk').startSpan('x'));
    expect(traceparentOf(noop)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceparentOf(withTraceIds(trace.wrapSpanContext(INVALID_SPAN_CONTEXT)))).not.toBe(
      traceparentOf(noop),
    );
    const real = sdk().tracer.startSpan('real');
    expect(withTraceIds(real)).toBe(real);
    expect(traceIdsOf(real)).toEqual({
      traceId: real.spanContext().traceId,
      spanId: real.spanContext().spanId,
    });
  });

  it('creates spans with ids and the service name even with no exporter configured', () => {
    const { tracer } = sdk('airlock-mediator');
    const span = tracer.startSpan('ssh.session');
    expect(traceparentOf(span)).toBeDefined();
    span.end();
    expect(exporter.getFinishedSpans()[0]!.resource.attributes['service.name']).toBe('airlock-mediator');
  });

  it('records the airlock code of a failure on the span it ends', () => {
    const { tracer } = sdk();
    endSpan(tracer.startSpan('ok'));
    endSpan(tracer.startSpan('denied'), new AirlockError('SCOPE_POD', 'no'));
    endSpan(tracer.startSpan('crashed'), new Error('boom'));
    const byName = Object.fromEntries(exporter.getFinishedSpans().map((s) => [s.name, s]));
    expect(byName.ok!.status.code).toBe(SpanStatusCode.UNSET);
    expect(byName.denied!.attributes['airlock.code']).toBe('SCOPE_POD');
    expect(byName.denied!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SCOPE_POD' });
    expect(byName.crashed!.attributes['airlock.code']).toBe('INTERNAL');
  });

  it('exports spans over OTLP/HTTP to the configured endpoint, flushed by shutdown', async () => {
    const received: { method?: string; url?: string; type?: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          method: req.method,
          url: req.url,
          type: req.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as { port: number };
      const telemetry = startTelemetry({
        serviceName: 'airlock-executor',
        exporter: 'otlp-http',
        endpoint: `http://127.0.0.1:${port}/v1/traces`,
        registerGlobal: false,
      });
      telemetry.tracer.startSpan('executor.Exec').end();
      await telemetry.shutdown();
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({
        method: 'POST',
        url: '/v1/traces',
        type: 'application/json',
      });
      expect(received[0]!.body).toContain('"airlock-executor"');
      expect(received[0]!.body).toContain('"executor.Exec"');
    } finally {
      collector.close();
    }
  });

  it('refuses the OTLP exporter without an endpoint', () => {
    expect(() => startTelemetry({ serviceName: 'x', exporter: 'otlp-http', registerGlobal: false })).toThrow(
      /endpoint/,
    );
  });

  describe('telemetryOptionsFromEnv', () => {
    it('exports nothing when no OTLP endpoint is set', () => {
      expect(telemetryOptionsFromEnv({}, 'airlock-executor')).toEqual({
        serviceName: 'airlock-executor',
        exporter: 'none',
      });
    });

    it('appends /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT', () => {
      expect(
        telemetryOptionsFromEnv(
          { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' },
          'airlock-executor',
        ),
      ).toEqual({
        serviceName: 'airlock-executor',
        exporter: 'otlp-http',
        endpoint: 'http://collector:4318/v1/traces',
      });
    });

    it('uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, and OTEL_SERVICE_NAME over the default name', () => {
      expect(
        telemetryOptionsFromEnv(
          {
            OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otlp.example/traces',
            OTEL_SERVICE_NAME: 'airlock-mediator-eu',
          },
          'airlock-mediator',
        ),
      ).toEqual({
        serviceName: 'airlock-mediator-eu',
        exporter: 'otlp-http',
        endpoint: 'https://otlp.example/traces',
      });
    });

    it('turns export off with OTEL_TRACES_EXPORTER=none even when an endpoint is set', () => {
      expect(
        telemetryOptionsFromEnv(
          { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' },
          'airlock-mediator',
        ).exporter,
      ).toBe('none');
    });
  });
});
