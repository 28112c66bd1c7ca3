/**
 * Logs: one server stream per request. The intent is authorized, the pod's
 * default container resolved, and the container's log streamed (followed
 * until the caller or the session ends, if asked) with backpressure.
 */
import type * as grpc from '@grpc/grpc-js';
import type { LogsRequest } from '../core/rpc/messages.js';
import { targetNamespace } from '../core/session/target-namespace.js';
import { caller, resolvePodTarget } from './call-context.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import { grpcWritable } from './grpc-stream-io.js';
import { type IntentCall, streamIntent } from './intent-call.js';

type LogsCall = grpc.ServerWritableStream<LogsRequest, { data: Buffer }>;

export function logsStream(
  rt: ExecutorRuntime,
): grpc.handleServerStreamingCall<LogsRequest, { data: Buffer }> {
  return (call) => {
    void streamIntent(rt, call, 'Logs', 'logs.streamed', (intent) => streamLogs(call, intent));
  };
}

async function streamLogs(call: LogsCall, intent: IntentCall): Promise<void> {
  const request = call.request;
  const namespace = targetNamespace(request.target?.namespace, intent.ctx.session.scope);
  const pod = request.target?.pod ?? '';
  const container = request.target?.container ?? '';
  await intent.authorize({ action: 'logs', namespace, pod, container });
  const podTarget = await resolvePodTarget(intent.ctx, request.target);
  intent.target = { ...intent.target, container: podTarget.container };
  const signal = intent.track(call);
  const count = { bytes: 0 };
  const out = grpcWritable(call, (chunk) => ({ data: chunk }), count);
  await intent.ctx.kube.logs(
    podTarget,
    {
      follow: request.follow,
      sinceSeconds: request.since_seconds > 0 ? request.since_seconds : undefined,
      tailLines: request.tail_lines >= 0 && request.tail_lines !== 0 ? request.tail_lines : undefined,
      timestamps: request.timestamps,
    },
    out,
    caller(intent.ctx),
    signal,
  );
  if (signal.aborted) throw signal.reason;
  await intent.audit('logs.streamed', { details: { bytes_out: count.bytes, follow: request.follow } });
  call.end();
}
