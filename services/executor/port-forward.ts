/**
 * PortForward: one bidirectional stream per forwarded connection. The first
 * frame names the pod and port and is authorized like every other intent;
 * later `data` frames are the connection's bytes, with backpressure both
 * ways. Audited as `portforward.opened` and `portforward.closed`.
 */
import { PassThrough } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import { AirlockError } from '../core/errors.js';
import type { PortForwardInput } from '../core/rpc/messages.js';
import { targetNamespace } from '../core/session/target-namespace.js';
import { caller } from './call-context.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import { grpcWritable, writeInput } from './grpc-stream-io.js';
import { type IntentCall, streamIntent } from './intent-call.js';

type ForwardCall = grpc.ServerDuplexStream<PortForwardInput, { data: Buffer }>;

export function portForwardStream(
  rt: ExecutorRuntime,
): grpc.handleBidiStreamingCall<PortForwardInput, { data: Buffer }> {
  return (call) => {
    const input = { stream: new PassThrough(), bytes: 0 };
    let started = false;
    call.on('data', (frame: PortForwardInput) => {
      if (!started) {
        started = true;
        void streamIntent(rt, call, 'PortForward', 'portforward.closed', (intent) =>
          forward(call, frame, input, intent),
        );
      } else if (frame.frame === 'data') {
        input.bytes += frame.data.length;
        writeInput(call, input.stream, frame.data);
      }
    });
    call.on('end', () => input.stream.end());
  };
}

async function forward(
  call: ForwardCall,
  first: PortForwardInput,
  input: { stream: PassThrough; bytes: number },
  intent: IntentCall,
): Promise<void> {
  const startedAt = Date.now();
  if (first.frame !== 'start') throw new AirlockError('USAGE', 'the first frame must be start');
  const namespace = targetNamespace(first.start.target?.namespace, intent.ctx.session.scope);
  const pod = first.start.target?.pod ?? '';
  const port = first.start.port;
  await intent.authorize({ action: 'port-forward', namespace, pod, port });
  const signal = intent.track(call);
  await intent.audit('portforward.opened');
  const count = { bytes: 0 };
  const output = grpcWritable(call, (chunk) => ({ data: chunk }), count);
  await intent.ctx.kube.portForward(
    { namespace, pod, container: '' },
    port,
    input.stream,
    output,
    caller(intent.ctx),
    signal,
  );
  await intent.audit('portforward.closed', {
    details: { bytes_in: input.bytes, bytes_out: count.bytes, duration_ms: Date.now() - startedAt },
  });
  if (signal.aborted) throw signal.reason;
  call.end();
}
