import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTelemetry, type Telemetry } from '../../services/core/observability/telemetry.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  startGateway,
  testPolicy,
} from '../support/executor-harness.js';
import {
  adminKubeConfig,
  createNamespace,
  createRunningPod,
  uniqueName,
  waitForAuditEvent,
} from '../support/kube.js';
import { type Mediator, ssh, sshUser, startMediator } from '../support/mediator-harness.js';

describe('tracing: one SSH command is one trace from the mediator to the Kubernetes audit log', () => {
  const suffix = uniqueName('tr');
  const payments = `payments-${suffix}`;
  const exporter = new InMemorySpanExporter();
  let mediatorTelemetry: Telemetry;
  let executorTelemetry: Telemetry;
  let gateway: Gateway;
  let mediator: Mediator;
  const scope = {
    cluster: CLUSTER_NAME,
    namespace: payments,
    podPatterns: ['api-*'],
    profile: 'debug',
    requestId: 'req-trace',
    groups: [],
  };

  beforeAll(async () => {
    // Two tiers in one process: each its own provider (and service.name), neither global.
    mediatorTelemetry = startTelemetry({
      serviceName: 'airlock-mediator',
      spanProcessor: new SimpleSpanProcessor({ exporter }),
      registerGlobal: false,
    });
    executorTelemetry = startTelemetry({
      serviceName: 'airlock-executor',
      spanProcessor: new SimpleSpanProcessor({ exporter }),
      registerGlobal: false,
    });
    const admin = adminKubeConfig();
    await createNamespace(admin, payments);
    await createRunningPod(admin, payments, 'api-0', [{ name: 'main' }]);
    const policy = testPolicy([payments]);
    gateway = await startGateway(
      policy,
      await executorKubeConfig(suffix, [`jit:debug:${payments}`], [payments]),
      executorTelemetry.tracer,
    );
    mediator = await startMediator(gateway, policy, {}, mediatorTelemetry.tracer);
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
    await mediatorTelemetry?.shutdown();
    await executorTelemetry?.shutdown();
  });

  /** Finished spans, polled: the session span ends only after the connection has closed. */
  async function finishedSpan(match: (span: ReadableSpan) => boolean): Promise<ReadableSpan> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const found = exporter.getFinishedSpans().find(match);
      if (found) return found;
      await sleep(50);
    }
    throw new Error('no matching finished span');
  }

  const childOf = (parent: ReadableSpan) => (span: ReadableSpan) =>
    span.parentSpanContext?.spanId === parent.spanContext().spanId;

  it('links ssh.session → airlock.command → executor.Exec → kube.exec and the audit records by one trace id', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'x']);
    expect(result).toEqual({ code: 0, stdout: 'x\n', stderr: '' });

    const opened = mediator.audit.events().find((e) => e.event === 'session.opened');
    if (!opened?.session_id) throw new Error('the mediator audited no session.opened');
    const sessionId = opened.session_id;

    const session = await finishedSpan(
      (s) => s.name === 'ssh.session' && s.attributes['airlock.session_id'] === sessionId,
    );
    const command = await finishedSpan((s) => s.name === 'airlock.command' && childOf(session)(s));
    const exec = await finishedSpan((s) => s.name === 'executor.Exec' && childOf(command)(s));
    const kubeExec = await finishedSpan((s) => s.name === 'kube.exec' && childOf(exec)(s));
    const traceId = session.spanContext().traceId;

    expect(session.parentSpanContext).toBeUndefined();
    for (const span of [command, exec, kubeExec]) expect(span.spanContext().traceId).toBe(traceId);
    expect(session.kind).toBe(SpanKind.SERVER);
    expect(session.attributes).toMatchObject({
      'client.address': '127.0.0.1',
      'enduser.id': 'alice',
      'airlock.decision': 'allow',
    });
    expect(command.attributes).toMatchObject({
      'airlock.command': 'exec',
      'airlock.decision': 'allow',
      'airlock.exit_code': 0,
    });
    expect(exec.kind).toBe(SpanKind.SERVER);
    expect(exec.attributes).toMatchObject({
      'rpc.method': 'Exec',
      'airlock.session_id': sessionId,
      'airlock.exit_code': 0,
    });
    expect(kubeExec.kind).toBe(SpanKind.CLIENT);
    expect(kubeExec.attributes).toMatchObject({
      'k8s.namespace.name': payments,
      'k8s.pod.name': 'api-0',
      'k8s.container.name': 'main',
    });
    expect(session.resource.attributes['service.name']).toBe('airlock-mediator');
    expect(kubeExec.resource.attributes['service.name']).toBe('airlock-executor');

    // The executor's OpenSession continues the session span: the whole connection is one trace.
    const openSession = await finishedSpan((s) => s.name === 'executor.OpenSession' && childOf(session)(s));
    expect(openSession.spanContext().traceId).toBe(traceId);

    // The phase events the latency breakdown reads (bench/phases.bench.ts), each once and in order.
    const ms = ([seconds, nanos]: [number, number]) => seconds * 1e3 + nanos / 1e6;
    const at = (span: ReadableSpan, name: string) => {
      const found = span.events.filter((e) => e.name === name);
      expect(found, `${span.name} has one ${name} event`).toHaveLength(1);
      return ms(found[0]!.time);
    };
    const timeline = [
      at(session, 'ssh.authenticated'),
      at(session, 'session.grant_issued'),
      ms(openSession.startTime),
      at(openSession, 'session.verified'),
      ms(openSession.endTime),
      at(session, 'executor.session_opened'),
      ms(command.startTime),
      ms(exec.startTime),
      at(exec, 'intent.authorized'),
      ms(kubeExec.startTime),
      at(kubeExec, 'kube.stream_opened'),
      at(kubeExec, 'kube.first_frame'),
      ms(kubeExec.endTime),
    ];
    expect(timeline).toEqual([...timeline].sort((a, b) => a - b));

    // Both tiers' audit trails carry the trace id; the executor's exec records carry the Exec span.
    expect(opened.trace_id).toBe(traceId);
    const executorRecords = gateway.audit.events().filter((e) => e.session_id === sessionId);
    expect(executorRecords.map((e) => e.event)).toEqual(
      expect.arrayContaining(['session.opened', 'intent.allowed', 'exec.started', 'exec.exited']),
    );
    for (const record of executorRecords) expect(record.trace_id).toBe(traceId);
    for (const record of executorRecords.filter(
      (e) => e.event !== 'session.opened' && e.event !== 'session.closed',
    ))
      expect(record.span_id).toBe(exec.spanContext().spanId);

    // And the Kubernetes audit log: the impersonated user's extra names the same trace.
    const kubeEvent = await waitForAuditEvent(
      (e) =>
        e.impersonatedUser?.extra?.['airlock.dev/session-id']?.[0] === sessionId &&
        e.objectRef?.subresource === 'exec',
    );
    expect(kubeEvent.impersonatedUser?.extra?.['airlock.dev/trace-id']).toEqual([traceId]);
  });

  it('marks a command the policy refuses as denied, with its code, and never reaches the executor', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['exec', 'api-0', '--', 'ls', '/']);
    expect(result.code).toBe(77);
    const command = await finishedSpan(
      (s) => s.name === 'airlock.command' && s.attributes['airlock.code'] === 'COMMAND_NOT_ALLOWED',
    );
    expect(command.attributes).toMatchObject({ 'airlock.decision': 'deny', 'airlock.exit_code': 77 });
    const denied = mediator.audit
      .events()
      .find((e) => e.event === 'intent.denied' && e.code === 'COMMAND_NOT_ALLOWED');
    expect(denied?.trace_id).toBe(command.spanContext().traceId);
    expect(exporter.getFinishedSpans().some((s) => s.name === 'executor.Exec' && childOf(command)(s))).toBe(
      false,
    );
  });
});
