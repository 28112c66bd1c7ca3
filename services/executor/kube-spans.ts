/** Client spans around the Kubernetes gateway: one `kube.*` span per call, a child of the RPC span. */
import { type Attributes, type Context, type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import { endSpan } from '../core/observability/telemetry.js';
import type { KubeGateway } from './kube-gateway.js';

/**
 * `gateway` with a client span around every Kubernetes call, each a child of
 * `parent` (the executor's RPC span): kube.exec, kube.logs, kube.portforward,
 * kube.get, kube.list, kube.ephemeralcontainers, and kube.get for the
 * default-container lookup. A failed call's span carries the airlock code.
 * Streaming calls' spans last until the stream has ended.
 */
export function withKubeSpans(gateway: KubeGateway, tracer: Tracer, parent: Context): KubeGateway {
  async function traced<T>(
    name: string,
    attributes: Attributes,
    call: (span: Span) => Promise<T>,
  ): Promise<T> {
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    try {
      const result = await call(span);
      endSpan(span);
      return result;
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }
  const pod = (target: { namespace: string; pod: string; container?: string }, resource: string) => ({
    'k8s.namespace.name': target.namespace,
    'k8s.pod.name': target.pod,
    ...(target.container ? { 'k8s.container.name': target.container } : {}),
    'airlock.kube.resource': resource,
  });
  return {
    exec: (target, argv, tty, io, as, signal) =>
      traced('kube.exec', { ...pod(target, 'pods/exec'), 'airlock.tty': tty }, (span) =>
        gateway.exec(
          target,
          argv,
          tty,
          {
            ...io,
            onEvent: (event) => {
              span.addEvent(event);
              io.onEvent?.(event);
            },
          },
          as,
          signal,
        ),
      ),
    logs: (target, options, out, as, signal) =>
      traced('kube.logs', { ...pod(target, 'pods/log'), 'airlock.follow': options.follow }, () =>
        gateway.logs(target, options, out, as, signal),
      ),
    portForward: (target, port, input, output, as, signal) =>
      traced('kube.portforward', { ...pod(target, 'pods/portforward'), 'airlock.port': port }, () =>
        gateway.portForward(target, port, input, output, as, signal),
      ),
    get: (kind, namespace, name, as) =>
      traced(
        'kube.get',
        { ...(namespace ? { 'k8s.namespace.name': namespace } : {}), 'airlock.kube.resource': kind },
        () => gateway.get(kind, namespace, name, as),
      ),
    list: (kind, namespace, as) =>
      traced(
        'kube.list',
        { ...(namespace ? { 'k8s.namespace.name': namespace } : {}), 'airlock.kube.resource': kind },
        () => gateway.list(kind, namespace, as),
      ),
    addEphemeralContainer: (target, container, as) =>
      traced(
        'kube.ephemeralcontainers',
        { ...pod(target, 'pods/ephemeralcontainers'), 'k8s.container.name': container.name },
        () => gateway.addEphemeralContainer(target, container, as),
      ),
    defaultContainer: (namespace, podName, as) =>
      traced('kube.get', pod({ namespace, pod: podName }, 'pods'), () =>
        gateway.defaultContainer(namespace, podName, as),
      ),
  };
}
