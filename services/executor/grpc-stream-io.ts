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

/** A Writable that forwards chunks as gRPC messages, honouring the call's backpressure. */
export function grpcWritable<T>(
  call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>,
  wrap: (chunk: Buffer) => T,
  count: { bytes: number },
): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      // The call may already have ended with an error (expiry, shutdown).
      if (call.writableEnded || call.destroyed) return done();
      count.bytes += chunk.length;
      writeThen(call, wrap(chunk), () => done());
    },
  });
}
