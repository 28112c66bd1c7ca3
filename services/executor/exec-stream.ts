/**
 * Exec and Debug: one bidirectional stream per command. The first frame
 * (`start`, or `debug`) is authorized; Debug then adds an ephemeral
 * container; the command runs through kube-gateway with stdin, stdout,
 * stderr and terminal resizes on the stream; the exit status is the last
 * frame. Frames after the first are buffered in arrival order while the
 * start is still being authorized.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type * as grpc from '@grpc/grpc-js';
import { AirlockError } from '../core/errors.js';
import type { DebugStart, ExecInput, ExecOutput, ExecStart } from '../core/rpc/messages.js';
import { targetNamespace } from '../core/session/target-namespace.js';
import { caller, resolvePodTarget } from './call-context.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import { grpcWritable, writeInput } from './grpc-stream-io.js';
import { type IntentCall, streamIntent } from './intent-call.js';
import type { PodTarget } from './kube-gateway.js';

type Kind = 'exec' | 'debug';
type ExecCall = grpc.ServerDuplexStream<ExecInput, ExecOutput>;

/** The streams the command reads and writes; filled from the call's frames. */
interface ExecIo {
  stdin: PassThrough;
  resize: PassThrough;
  bytesIn: number;
}

/** Exec and Debug share one stream handler; Debug first adds the ephemeral container. */
export function execStream(
  rt: ExecutorRuntime,
  kind: Kind,
): grpc.handleBidiStreamingCall<ExecInput, ExecOutput> {
  return (call) => {
    const io: ExecIo = {
      stdin: new PassThrough(),
      resize: new PassThrough({ objectMode: true }),
      bytesIn: 0,
    };
    let started = false;
    call.on('data', (frame: ExecInput) => {
      // Frames after the first go straight into the (buffering) streams,
      // in arrival order, even while the start is still being authorized.
      if (started) return onFrame(call, io, frame);
      started = true;
      void streamIntent(rt, call, kind === 'exec' ? 'Exec' : 'Debug', 'exec.exited', (intent) =>
        runCommand(rt, call, kind, frame, io, intent),
      );
    });
    call.on('end', () => io.stdin.end());
  };
}

function onFrame(call: ExecCall, io: ExecIo, frame: ExecInput): void {
  if (frame.frame === 'stdin') {
    // Input after stdin EOF has nowhere to go; writing it would fail the stream.
    if (io.stdin.writableEnded) return;
    io.bytesIn += frame.stdin.length;
    writeInput(call, io.stdin, frame.stdin);
  } else if (frame.frame === 'stdin_eof') io.stdin.end();
  else if (frame.frame === 'resize') io.resize.write(frame.resize);
}

function startOf(kind: Kind, first: ExecInput): ExecStart | DebugStart {
  const start =
    kind === 'exec'
      ? first.frame === 'start'
        ? first.start
        : undefined
      : first.frame === 'debug'
        ? first.debug
        : undefined;
  if (!start)
    throw new AirlockError('USAGE', `the first frame must be ${kind === 'exec' ? 'start' : 'debug'}`);
  return start;
}

/** Authorizes the start frame; returns the command to run (a bare shell: the profile's shell). */
async function authorizeStart(
  rt: ExecutorRuntime,
  intent: IntentCall,
  kind: Kind,
  start: ExecStart | DebugStart,
): Promise<string[]> {
  const namespace = targetNamespace(start.target?.namespace, intent.ctx.session.scope);
  const pod = start.target?.pod ?? '';
  const container = start.target?.container ?? '';
  const argv = [...start.argv];
  if (kind === 'debug') {
    const debug = start as DebugStart;
    const at = { namespace, pod, container };
    await intent.authorize({ action: 'debug', ...at, image: debug.image, tty: debug.tty }, argv);
    return argv;
  }
  const action = (start as ExecStart).shell ? 'shell' : 'exec';
  const bareShell = action === 'shell' && argv.length === 0;
  await intent.authorize(
    { action, namespace, pod, container, argv: bareShell ? undefined : argv, tty: start.tty },
    argv,
  );
  if (!bareShell) return argv;
  return [...(rt.deps.policy().profiles[intent.ctx.session.scope.profile]?.actions.shell?.argv[0] ?? ['sh'])];
}

/** Debug: adds the ephemeral container that will run `argv` (default `sh`), audited as `debug.added`. */
async function addDebugContainer(intent: IntentCall, start: DebugStart, argv: string[]): Promise<PodTarget> {
  const namespace = intent.target.namespace ?? '';
  const pod = intent.target.pod ?? '';
  const name = `airlock-debug-${randomBytes(3).toString('hex')}`;
  const command = argv.length === 0 ? ['sh'] : argv;
  await intent.ctx.kube.addEphemeralContainer(
    { namespace, pod },
    { name, image: start.image, command, tty: start.tty },
    caller(intent.ctx),
  );
  await intent.audit('debug.added', {
    target: { ...intent.target, container: name },
    details: { image: start.image },
  });
  return { namespace, pod, container: name };
}

/** client-node resizes a tty when stdout looks like a terminal: give it the size, and follow resizes. */
function makeTerminal(stdout: Writable, start: ExecStart | DebugStart, resize: PassThrough): void {
  const terminal = stdout as Writable & { columns: number; rows: number };
  terminal.columns = start.size?.width ?? 80;
  terminal.rows = start.size?.height ?? 24;
  resize.on('data', (size: { width: number; height: number }) => {
    terminal.columns = size.width;
    terminal.rows = size.height;
    stdout.emit('resize');
  });
}

async function runCommand(
  rt: ExecutorRuntime,
  call: ExecCall,
  kind: Kind,
  first: ExecInput,
  io: ExecIo,
  intent: IntentCall,
): Promise<void> {
  const startedAt = Date.now();
  const start = startOf(kind, first);
  let argv = await authorizeStart(rt, intent, kind, start);
  let podTarget: PodTarget;
  if (kind === 'debug') {
    podTarget = await addDebugContainer(intent, start as DebugStart, argv);
    if (argv.length === 0) argv = ['sh'];
  } else podTarget = await resolvePodTarget(intent.ctx, start.target);
  intent.target = { ...intent.target, container: podTarget.container };
  const bytes = { out: { bytes: 0 }, err: { bytes: 0 } };
  const stdout = grpcWritable(call, (chunk) => ({ stdout: chunk }), bytes.out);
  const stderr = grpcWritable(call, (chunk) => ({ stderr: chunk }), bytes.err);
  if (start.tty) makeTerminal(stdout, start, io.resize);
  const signal = intent.track(call);
  await intent.audit('exec.started', { details: { tty: start.tty } });
  rt.log.debug({ argv, podTarget }, 'exec starting');
  const as = caller(intent.ctx);
  const result = await intent.ctx.kube.exec(
    podTarget,
    argv,
    start.tty,
    { stdin: io.stdin, stdout, stderr },
    as,
    signal,
  );
  rt.log.debug({ result }, 'exec returned');
  // Every output byte is on the wire before the exit status.
  await Promise.all([finished(stdout), finished(stderr)]);
  if (result.outputUnconfirmed)
    // Kubernetes said success, but may have dropped the output's end (kube-streams.ts):
    // an error instead of exit 0, audited as exec.exited with this code.
    throw new AirlockError(
      'OUTPUT_INCOMPLETE',
      `the command exited 0 but its output cannot be confirmed complete (${bytes.out.bytes} stdout and ${bytes.err.bytes} stderr bytes passed on): Kubernetes can drop the end of the output of an exec whose reader fell behind (kubernetes/kubernetes#124571); run it again, or read its output faster`,
    );
  await intent.audit('exec.exited', {
    details: {
      exit_code: result.code,
      bytes_in: io.bytesIn,
      bytes_out: bytes.out.bytes,
      bytes_err: bytes.err.bytes,
      duration_ms: Date.now() - startedAt,
    },
  });
  intent.ctx.span.setAttribute('airlock.exit_code', result.code);
  call.write({ exit: { code: result.code, signal: '' } });
  call.end();
}
