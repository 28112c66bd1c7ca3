import { mkdir } from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';
import type { AuditEventInput } from '../core/audit/types.js';
import { AirlockError } from '../core/errors.js';
import { fromGrpcError } from '../core/rpc/grpc-errors.js';
import type { ExecInput, ExecOutput } from '../core/rpc/messages.js';
import { forwardChunk } from '../core/streams/backpressure.js';
import { ChunkCoalescer } from '../core/streams/coalescer.js';
import { asAirlockError, type CommandContext, type CommandIo } from './command-context.js';
import { auditRecordedExit } from './intent-audit.js';
import { createSessionRecorder, type SessionRecorder } from './session-recording.js';

/** The output stream and bytes of one Exec/Debug frame, if it carries any. */
function outputOf(
  frame: ExecOutput,
  io: CommandIo,
): { into: CommandIo['stdout']; chunk: Buffer } | undefined {
  if ('stdout' in frame && frame.stdout) return { into: io.stdout, chunk: frame.stdout };
  if ('stderr' in frame && frame.stderr) return { into: io.stderr, chunk: frame.stderr };
  return undefined;
}

/**
 * Pipes one executor Exec/Debug stream to the SSH channel: stdin frames in
 * (EOF when the channel's input ends), resize frames for a pty, stdout and
 * stderr out with backpressure both ways. Resolves with the remote exit code.
 * The caller owns the call; the listeners put on `io.stdin` are removed when
 * the stream ends, since an interactive session runs many commands on it.
 */
export function pipeExec(
  call: grpc.ClientDuplexStream<ExecInput, ExecOutput>,
  first: ExecInput,
  io: CommandIo,
  recorder?: SessionRecorder,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let exitCode: number | undefined;
    call.write(first);
    // Input goes out in messages of up to 128 KiB rather than one per SSH packet.
    const input = new ChunkCoalescer((chunk) => {
      if (!call.writableEnded && !call.destroyed) forwardChunk(call, { stdin: chunk }, io.stdin);
    });
    const onData = (chunk: Buffer) => {
      recorder?.recordInput(chunk);
      input.push(chunk);
    };
    const onEnd = () => {
      input.flush();
      call.write({ stdin_eof: true });
    };
    io.stdin.on('data', onData);
    io.stdin.once('end', onEnd);
    io.terminal?.onResize((width, height) => {
      if (width > 0 && height > 0) recorder?.resize(width, height);
      input.flush();
      call.write({ resize: { width, height } });
    });
    call.on('data', (frame: ExecOutput) => {
      const output = outputOf(frame, io);
      if (output) {
        recorder?.recordOutput(output.chunk);
        forwardChunk(output.into, output.chunk, call);
      }
      if ('exit' in frame && frame.exit) exitCode = frame.exit.code;
    });
    const cleanup = () => {
      io.stdin.off('data', onData);
      io.stdin.off('end', onEnd);
    };
    call.on('error', (error) => {
      cleanup();
      reject(fromGrpcError(error));
    });
    call.on('end', () => {
      cleanup();
      if (exitCode === undefined)
        reject(
          new AirlockError('EXECUTOR_UNAVAILABLE', 'the executor ended the stream without an exit status'),
        );
      else resolve(exitCode);
    });
  });
}

/**
 * Runs an interactive (tty) stream with its recording, when recordings are
 * configured: the asciicast file is referenced from the mediator's audit
 * trail by path and SHA-256 (`exec.exited`), so a reviewer can tell it is the
 * one that was written. Non-tty streams are not recorded.
 */
export async function recorded(
  ctx: CommandContext,
  size: { width: number; height: number } | null,
  target: AuditEventInput['target'],
  run: (recorder: SessionRecorder | undefined) => Promise<number>,
): Promise<number> {
  if (!size || !ctx.recordings) return run(undefined);
  await mkdir(ctx.recordings.dir, { recursive: true, mode: 0o700 });
  const recorder = await createSessionRecorder({
    dir: ctx.recordings.dir,
    sessionId: ctx.session.id,
    // A client without a real terminal (ssh -tt from a script) reports 0x0.
    width: size.width || 80,
    height: size.height || 24,
    recordInput: ctx.recordings.recordInput,
    clock: ctx.clock,
  });
  let code: number | undefined;
  let failure: AirlockError | undefined;
  const unmark = ctx.live?.onMarker((label) => recorder.marker(label));
  try {
    code = await run(recorder);
    return code;
  } catch (error) {
    failure = asAirlockError(error);
    throw failure;
  } finally {
    unmark?.();
    const recording = await recorder.close().catch(() => undefined);
    if (failure && ctx.audited) ctx.audited.failureRecorded = true;
    await auditRecordedExit(ctx, target, {
      ...(code === undefined ? {} : { code }),
      ...(failure ? { failure } : {}),
      ...(recording ? { recording } : {}),
    });
  }
}
