import { mkdir } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type * as grpc from '@grpc/grpc-js';
import { type Context, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { AuditEventInput, AuditTrail } from '../core/audit/types.js';
import { AirlockError, POLICY_CODES } from '../core/errors.js';
import { authorizeIntent, type Intent, type Policy, type Scope } from '../core/policy/index.js';
import type { CallOptions, ExecutorClient } from '../core/rpc/executor-client.js';
import { fromGrpcError } from '../core/rpc/grpc-errors.js';
import type { ExecInput, ExecOutput, OpenSessionResponse } from '../core/rpc/messages.js';
import { contextFromTraceparent, defaultTracer, traceparentOf } from '../core/telemetry.js';
import { EXIT_CODES, exitCodeFor, formatError } from './command-language/exit-codes.js';
import {
  type EventListJson,
  formatEventTable,
  formatPodTable,
  formatWhoami,
  type PodListJson,
  whoamiOf,
} from './command-language/format-output.js';
import { formatPodDescription, formatResourceTable } from './command-language/format-resources.js';
import { formatYaml } from './command-language/format-yaml.js';
import { FORWARD_EXPLANATION, helpText } from './command-language/help-text.js';
import type { Command, OutputFormat } from './command-language/parse-command.js';
import { sanitizeForTerminal } from './command-language/sanitize.js';
import { createSessionRecorder, type SessionRecorder } from './session-recording.js';

/** The SSH channel a command runs on. */
export interface CommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Set when the client asked for a pty: its size now, and a way to hear about changes. */
  terminal?: {
    width: number;
    height: number;
    onResize(listener: (width: number, height: number) => void): void;
  };
  /** True if the certificate has permit-pty. */
  permitPty: boolean;
}

/** What a command runs against: the session opened at the executor. */
export interface CommandContext {
  client: ExecutorClient;
  session: OpenSessionResponse;
  /**
   * The scope of the certificate the mediator verified itself (`scopeOf`):
   * what its early checks decide on, independently of the executor's answer.
   */
  scope: Scope;
  policy: () => Policy;
  audit: AuditTrail;
  clock: () => Date;
  /**
   * W3C traceparent of the SSH session (`ssh.session`). Each command runs in
   * its own `airlock.command` span under it, and that span's traceparent is
   * what the executor calls carry.
   */
  traceparent: string;
  /** Tracer for `airlock.command` spans; the global one when absent. */
  tracer?: Tracer;
  /** The session span's context, the parent of command spans; parsed from `traceparent` when absent. */
  traceContext?: Context;
  clientAddress: string;
  /** Interactive (tty) sessions are recorded as asciicast v2 here; absent: not recorded. */
  recordings?: { dir: string; recordInput: boolean };
  /** Set by `runCommand` for one command: what its audit records so far. */
  audited?: CommandAudit;
}

/**
 * One command's audit state, so that every intent leaves exactly one
 * decision (`intent.allowed` or `intent.denied`) and, if it was allowed but
 * then failed (executor or Kubernetes unavailable, RBAC, expiry), exactly
 * one failure record in the mediator's own trail.
 */
interface CommandAudit {
  /** The intent `checkEarly` allowed, if any. */
  allowed?: { action: Intent['action']; target: AuditEventInput['target'] };
  /** The failure is already recorded (a policy denial, or a recording's `exec.exited`). */
  failureRecorded: boolean;
}

function write(stream: Writable, text: string): void {
  stream.write(text);
}

/**
 * The early, clear answer: the same policy the executor applies
 * authoritatively. A denial here is audited in the mediator's trail and never
 * reaches the executor.
 */
async function checkEarly(
  ctx: CommandContext,
  intent: Intent,
  target: AuditEventInput['target'],
): Promise<void> {
  const decision = authorizeIntent(ctx.policy(), ctx.scope, { ...intent, cluster: ctx.scope.cluster });
  const actor = { user: ctx.session.user, groups: ctx.session.groups, address: ctx.clientAddress };
  if (decision.allow) {
    await ctx.audit.append(
      {
        event: 'intent.allowed',
        actor,
        target,
        decision: 'allow',
        session_id: ctx.session.session_id,
        request_id: ctx.session.request_id,
        trace_id: ctx.traceparent.split('-')[1],
        details: { action: intent.action, ...(decision.rule ? { rule: decision.rule } : {}) },
      },
      { durable: true },
    );
    if (ctx.audited) ctx.audited.allowed = { action: intent.action, target };
    return;
  }
  if (ctx.audited) ctx.audited.failureRecorded = true;
  await ctx.audit.append(
    {
      event: 'intent.denied',
      actor,
      target,
      decision: 'deny',
      code: decision.code,
      reason: decision.reason,
      session_id: ctx.session.session_id,
      request_id: ctx.session.request_id,
      trace_id: ctx.traceparent.split('-')[1],
      details: { action: intent.action, ...(decision.rule ? { rule: decision.rule } : {}) },
    },
    { durable: true },
  );
  throw new AirlockError(decision.code, decision.reason);
}

/** YAML whose every line is one terminal line (formatYaml escapes already; this makes sure). */
function yamlForTerminal(value: unknown): string {
  return formatYaml(value).split('\n').map(sanitizeForTerminal).join('\n');
}

function printObject(
  io: CommandIo,
  output: OutputFormat,
  json: string,
  text: (value: unknown) => string,
): void {
  const value = JSON.parse(json) as unknown;
  write(io.stdout, output === 'json' ? `${JSON.stringify(value)}\n` : text(value));
}

/**
 * Pipes one executor Exec/Debug stream to the SSH channel: stdin frames in
 * (EOF when the channel's input ends), resize frames for a pty, stdout and
 * stderr out with backpressure both ways. Resolves with the remote exit code.
 */
function pipeExec(
  call: grpc.ClientDuplexStream<ExecInput, ExecOutput>,
  first: ExecInput,
  io: CommandIo,
  recorder?: SessionRecorder,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let exitCode: number | undefined;
    call.write(first);
    const onData = (chunk: Buffer) => {
      recorder?.recordInput(chunk);
      if (!call.write({ stdin: chunk })) {
        io.stdin.pause();
        call.once('drain', () => io.stdin.resume());
      }
    };
    const onEnd = () => call.write({ stdin_eof: true });
    io.stdin.on('data', onData);
    io.stdin.once('end', onEnd);
    io.terminal?.onResize((width, height) => {
      if (width > 0 && height > 0) recorder?.resize(width, height);
      call.write({ resize: { width, height } });
    });
    call.on('data', (frame: ExecOutput) => {
      const target =
        'stdout' in frame && frame.stdout
          ? io.stdout
          : 'stderr' in frame && frame.stderr
            ? io.stderr
            : undefined;
      const chunk =
        'stdout' in frame && frame.stdout ? frame.stdout : 'stderr' in frame ? frame.stderr : undefined;
      if (chunk) recorder?.recordOutput(chunk);
      if (target && chunk && !target.write(chunk)) {
        call.pause();
        target.once('drain', () => call.resume());
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
async function recorded(
  ctx: CommandContext,
  size: { width: number; height: number } | null,
  target: AuditEventInput['target'],
  run: (recorder: SessionRecorder | undefined) => Promise<number>,
): Promise<number> {
  if (!size || !ctx.recordings) return run(undefined);
  await mkdir(ctx.recordings.dir, { recursive: true, mode: 0o700 });
  const recorder = await createSessionRecorder({
    dir: ctx.recordings.dir,
    sessionId: ctx.session.session_id,
    // A client without a real terminal (ssh -tt from a script) reports 0x0.
    width: size.width || 80,
    height: size.height || 24,
    recordInput: ctx.recordings.recordInput,
    clock: ctx.clock,
  });
  let code: number | undefined;
  let failure: AirlockError | undefined;
  try {
    code = await run(recorder);
    return code;
  } catch (error) {
    failure = asAirlockError(error);
    throw failure;
  } finally {
    const recording = await recorder.close().catch(() => undefined);
    if (failure && ctx.audited) ctx.audited.failureRecorded = true;
    await ctx.audit.append({
      event: 'exec.exited',
      actor: { user: ctx.session.user, groups: ctx.session.groups, address: ctx.clientAddress },
      target,
      session_id: ctx.session.session_id,
      request_id: ctx.session.request_id,
      trace_id: ctx.traceparent.split('-')[1],
      ...(failure ? { decision: 'deny' as const, code: failure.code, reason: failure.message } : {}),
      details: {
        ...(code === undefined ? {} : { exit_code: code }),
        ...(recording
          ? { recording: recording.path, recording_sha256: recording.sha256 }
          : { recording_failed: true }),
      },
    });
  }
}

/**
 * Runs one parsed command and returns the SSH exit status: the remote
 * command's own status for exec/shell/debug, 0 for success, or the status
 * for the error code (printed as `airlock: CODE: reason` or JSON on stderr).
 */
export async function runCommand(
  command: Command,
  io: CommandIo,
  sessionCtx: CommandContext,
): Promise<number> {
  const span = (sessionCtx.tracer ?? defaultTracer('airlock.mediator')).startSpan(
    'airlock.command',
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'airlock.command': command.kind,
        'airlock.session_id': sessionCtx.session.session_id,
        'enduser.id': sessionCtx.session.user,
      },
    },
    sessionCtx.traceContext ?? contextFromTraceparent(sessionCtx.traceparent),
  );
  // Without an SDK the no-op span carries the session's ids: keep its traceparent.
  const audited: CommandAudit = { failureRecorded: false };
  const ctx: CommandContext = {
    ...sessionCtx,
    traceparent: traceparentOf(span) ?? sessionCtx.traceparent,
    audited,
  };
  try {
    const code = await runTraced(command, io, ctx);
    span.setAttributes({ 'airlock.decision': 'allow', 'airlock.exit_code': code });
    return code;
  } catch (error) {
    const airlock = asAirlockError(error);
    if (audited.allowed && !audited.failureRecorded) await auditFailure(ctx, audited.allowed, airlock);
    write(io.stderr, formatError(airlock, command.output));
    const code = exitCodeFor(airlock.code);
    span.setAttributes({
      // A refusal by the policy (here or at the executor) or by RBAC; anything else is a failure.
      'airlock.decision':
        (POLICY_CODES as readonly string[]).includes(airlock.code) || airlock.code === 'RBAC_DENIED'
          ? 'deny'
          : 'error',
      'airlock.code': airlock.code,
      'airlock.exit_code': code,
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: airlock.code });
    return code;
  } finally {
    span.end();
  }
}

function asAirlockError(error: unknown): AirlockError {
  return error instanceof AirlockError
    ? error
    : new AirlockError('INTERNAL', 'internal error', { cause: error });
}

/**
 * Records in the mediator's trail that an allowed intent failed further on
 * (the executor refused or failed it, or could not be reached), under the
 * event the executor uses for the same outcome: `exec.exited` for exec,
 * shell and debug, `logs.streamed` for logs, `intent.denied` for reads.
 * Best effort: the user still gets the error if the trail refuses it.
 */
async function auditFailure(
  ctx: CommandContext,
  allowed: NonNullable<CommandAudit['allowed']>,
  error: AirlockError,
): Promise<void> {
  const event: AuditEventInput['event'] =
    allowed.target.resource === 'pods/log'
      ? 'logs.streamed'
      : allowed.target.resource === 'pods/exec' || allowed.target.resource === 'pods/ephemeralcontainers'
        ? 'exec.exited'
        : 'intent.denied';
  await ctx.audit
    .append(
      {
        event,
        actor: { user: ctx.session.user, groups: ctx.session.groups, address: ctx.clientAddress },
        target: allowed.target,
        decision: 'deny',
        code: error.code,
        reason: error.message,
        session_id: ctx.session.session_id,
        request_id: ctx.session.request_id,
        trace_id: ctx.traceparent.split('-')[1],
        details: { action: allowed.action },
      },
      { durable: true },
    )
    .catch(() => {});
}

/** The command itself; errors propagate to `runCommand`, which prints them and records them on the span. */
async function runTraced(command: Command, io: CommandIo, ctx: CommandContext): Promise<number> {
  const options: CallOptions = { traceparent: ctx.traceparent };
  switch (command.kind) {
    case 'help':
      write(io.stdout, helpText(command.topic));
      return EXIT_CODES.OK;
    case 'forward':
      write(io.stdout, `${FORWARD_EXPLANATION}\n`);
      return EXIT_CODES.OK;
    case 'exit':
      return EXIT_CODES.OK;
    case 'whoami': {
      const now = ctx.clock().getTime();
      write(
        io.stdout,
        command.output === 'json'
          ? `${JSON.stringify(whoamiOf(ctx.session, ctx.scope))}\n`
          : formatWhoami(whoamiOf(ctx.session, ctx.scope), now),
      );
      return EXIT_CODES.OK;
    }
    case 'pods':
    case 'events': {
      const resource = command.kind;
      await checkEarly(
        ctx,
        { action: 'list', namespace: command.namespace, resource },
        { namespace: command.namespace, resource },
      );
      const list = await ctx.client.list({ kind: resource, namespace: command.namespace }, options);
      const now = ctx.clock().getTime();
      printObject(io, command.output, list.json, (value) =>
        resource === 'pods'
          ? formatPodTable(value as PodListJson, now)
          : formatEventTable(value as EventListJson, now),
      );
      return EXIT_CODES.OK;
    }
    case 'get': {
      const ns = command.namespace || undefined;
      const intent: Intent = command.name
        ? {
            action: 'get',
            namespace: ns,
            resource: command.resource,
            ...(command.resource === 'pods' ? { pod: command.name } : {}),
          }
        : { action: 'list', namespace: ns, resource: command.resource };
      await checkEarly(ctx, intent, { namespace: ns, resource: command.resource });
      const result = command.name
        ? await ctx.client.get(
            { kind: command.resource, namespace: command.namespace, name: command.name },
            options,
          )
        : await ctx.client.list({ kind: command.resource, namespace: command.namespace }, options);
      const now = ctx.clock().getTime();
      // A list is a table, as `kubectl get`; one named object is YAML, as `kubectl get -o yaml`.
      printObject(io, command.output, result.json, (value) =>
        command.name ? yamlForTerminal(value) : formatResourceTable(command.resource, value, now),
      );
      return EXIT_CODES.OK;
    }
    case 'describe': {
      const { target } = command;
      await checkEarly(
        ctx,
        { action: 'get', namespace: target.namespace, resource: 'pods', pod: target.pod },
        { namespace: target.namespace, pod: target.pod, resource: 'pods' },
      );
      const pod = await ctx.client.get(
        { kind: 'pods', namespace: target.namespace, name: target.pod },
        options,
      );
      write(
        io.stdout,
        command.output === 'json'
          ? `${pod.json}\n`
          : formatPodDescription(JSON.parse(pod.json), ctx.clock().getTime()),
      );
      return EXIT_CODES.OK;
    }
    case 'logs': {
      const { target } = command;
      await checkEarly(
        ctx,
        { action: 'logs', namespace: target.namespace, pod: target.pod, container: target.container ?? '' },
        { namespace: target.namespace, pod: target.pod, resource: 'pods/log' },
      );
      const call = ctx.client.logs(
        {
          target: { namespace: target.namespace, pod: target.pod, container: target.container ?? '' },
          follow: command.follow,
          since_seconds: command.sinceSeconds ?? 0,
          tail_lines: command.tailLines ?? -1,
          timestamps: command.timestamps,
        },
        options,
      );
      const decoder = new StringDecoder('utf8');
      // A followed log ends when the client goes away: closing the SSH channel
      // ends our side of it (ssh2 ends the writable). Not stdin EOF, which
      // `ssh … < /dev/null` sends at once; and nothing here reads stdin, so
      // its 'end' would never come anyway.
      const clientGone = () => call.cancel();
      if (command.follow) {
        io.stdout.once('finish', clientGone);
        io.stdout.once('close', clientGone);
      }
      await new Promise<void>((resolve, reject) => {
        call.on('data', (chunk: { data: Buffer }) => {
          // Pod output goes to the user's terminal: neutralise escape sequences, keep the lines.
          const text = decoder.write(chunk.data).split('\n').map(sanitizeForTerminal).join('\n');
          if (!io.stdout.write(text)) {
            call.pause();
            io.stdout.once('drain', () => call.resume());
          }
        });
        call.on('end', resolve);
        call.on('error', (error) => reject(fromGrpcError(error)));
      })
        .catch((error: unknown) => {
          if (error instanceof AirlockError && error.detail?.includes('Cancelled')) return;
          throw error;
        })
        .finally(() => {
          // An interactive session runs many commands on one channel.
          io.stdout.off('finish', clientGone);
          io.stdout.off('close', clientGone);
        });
      return EXIT_CODES.OK;
    }
    case 'exec':
    case 'shell': {
      const { target } = command;
      const shell = command.kind === 'shell';
      const tty = shell || command.tty;
      if (tty && !io.permitPty)
        throw new AirlockError('SHELL_NOT_ALLOWED', 'this certificate does not permit a pty (permit-pty)');
      const argv = shell ? [] : command.argv;
      await checkEarly(
        ctx,
        {
          action: shell ? 'shell' : 'exec',
          namespace: target.namespace,
          pod: target.pod,
          container: target.container ?? '',
          argv: shell ? undefined : argv,
          tty,
        },
        { namespace: target.namespace, pod: target.pod, resource: 'pods/exec', argv },
      );
      const size = io.terminal ? { width: io.terminal.width, height: io.terminal.height } : null;
      const tracked = tty && io.terminal !== undefined;
      return await recorded(
        ctx,
        tracked ? size : null,
        { namespace: target.namespace, pod: target.pod, resource: 'pods/exec', argv },
        (recorder) =>
          pipeExec(
            ctx.client.exec(options),
            {
              start: {
                target: { namespace: target.namespace, pod: target.pod, container: target.container ?? '' },
                argv,
                tty: tty && io.terminal !== undefined,
                size,
                shell,
              },
            },
            io,
            recorder,
          ),
      );
    }
    case 'debug': {
      const { target } = command;
      await checkEarly(
        ctx,
        {
          action: 'debug',
          namespace: target.namespace,
          pod: target.pod,
          image: command.image,
          container: target.container ?? '',
        },
        { namespace: target.namespace, pod: target.pod, resource: 'pods/ephemeralcontainers' },
      );
      const size = io.terminal ? { width: io.terminal.width, height: io.terminal.height } : null;
      return await recorded(
        ctx,
        command.tty && io.terminal !== undefined ? size : null,
        {
          namespace: target.namespace,
          pod: target.pod,
          resource: 'pods/ephemeralcontainers',
          argv: command.argv,
        },
        (recorder) =>
          pipeExec(
            ctx.client.debug(options),
            {
              debug: {
                target: { namespace: target.namespace, pod: target.pod, container: target.container ?? '' },
                image: command.image,
                argv: command.argv,
                tty: command.tty && io.terminal !== undefined,
                size,
              },
            },
            io,
            recorder,
          ),
      );
    }
  }
  return EXIT_CODES.OK;
}
