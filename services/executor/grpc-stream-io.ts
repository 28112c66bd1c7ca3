/**
 * The executor's two stream adapters between gRPC and the Kubernetes side,
 * both honouring backpressure (services/core/streams/backpressure.ts).
 */
import { Writable } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import { forwardChunk, type Pausable, writeThen } from '../core/streams/backpressure.js';

/**
 * Writes one input chunk from `call` into `into`; while `into` is full
 * (the Kubernetes side is not taking input: kube-gateway's pumpInput), the
 * call is not read, so HTTP/2 flow control pushes back on the mediator and
 * the executor holds at most the streams' own small buffers.
 */
export function writeInput(call: Pausable, into: Writable, chunk: Buffer): void {
  forwardChunk(into, chunk, call);
}

/**
 * The most output one gRPC message carries. Chunks that queue up while the
 * call is busy go out together, up to this size: fewer, larger messages cost
 * less per byte (framing, protobuf, HTTP/2 frames) than one per WebSocket frame.
 */
export const OUTPUT_MESSAGE_BYTES = 128 * 1024;

/**
 * A Writable that forwards chunks as gRPC messages, honouring the call's
 * backpressure. Its buffer (OUTPUT_MESSAGE_BYTES) is what it holds before
 * the Kubernetes stream feeding it is paused; chunks that wait are coalesced
 * into messages of at most OUTPUT_MESSAGE_BYTES.
 */
export function grpcWritable<T>(
  call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>,
  wrap: (chunk: Buffer) => T,
  count: { bytes: number },
): Writable {
  const send = (chunk: Buffer, done: () => void) => {
    // The call may already have ended with an error (expiry, shutdown).
    if (call.writableEnded || call.destroyed) return done();
    count.bytes += chunk.length;
    writeThen(call, wrap(chunk), done);
  };
  return new Writable({
    highWaterMark: OUTPUT_MESSAGE_BYTES,
    write(chunk: Buffer, _encoding, done) {
      send(chunk, () => done());
    },
    writev(chunks, done) {
      const messages = coalesce(
        chunks.map((c) => c.chunk as Buffer),
        OUTPUT_MESSAGE_BYTES,
      );
      const next = (i: number) => {
        if (i === messages.length) done();
        else send(messages[i]!, () => next(i + 1));
      };
      next(0);
    },
  });
}

/** Joins consecutive buffers into pieces of at most `max` bytes (a larger single buffer stays whole), in order. */
export function coalesce(buffers: readonly Buffer[], max: number): Buffer[] {
  const out: Buffer[] = [];
  let group: Buffer[] = [];
  let size = 0;
  for (const buffer of buffers) {
    if (size > 0 && size + buffer.length > max) {
      out.push(group.length === 1 ? group[0]! : Buffer.concat(group, size));
      group = [];
      size = 0;
    }
    group.push(buffer);
    size += buffer.length;
  }
  if (size > 0) out.push(group.length === 1 ? group[0]! : Buffer.concat(group, size));
  return out;
}
