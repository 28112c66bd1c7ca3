import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import ssh2, { type AuthContext, type Connection, type ServerChannel, type Session } from 'ssh2';
import type { AuditEventInput, AuditTrail } from '../core/audit/types.js';
import {
  type AdmissionOptions,
  type AdmittedIdentity,
  admitCertificate,
  admitLogin,
} from '../core/certificate-admission.js';
import { AirlockError } from '../core/errors.js';
import { Metrics } from '../core/ops-server.js';
import { authorizeIntent, type Policy, type Scope } from '../core/policy/index.js';
import { ExecutorClient } from '../core/rpc/executor-client.js';
import { fromGrpcError } from '../core/rpc/grpc-errors.js';
import type { OpenSessionResponse } from '../core/rpc/messages.js';
import { sessionBindingDigest } from '../core/session-binding.js';
import { scopeOf } from '../core/session-scope.js';
import { parseCertificate, type RevocationList, type SshPublicKey } from '../core/ssh-cert/index.js';
import { defaultTracer, traceIdsOf, traceparentOf, withTraceIds } from '../core/telemetry.js';
import { issueSessionGrant, type TierCa } from '../core/x509/index.js';
import { completeCommandLine } from './command-language/complete-command-line.js';
import { EXIT_CODES, exitCodeFor, formatError } from './command-language/exit-codes.js';
import { formatTimeLeft } from './command-language/format-output.js';
import { parseCommand, requestedOutputFormat } from './command-language/parse-command.js';
import { splitCommandLine } from './command-language/split-command-line.js';
import { type CommandContext, type CommandIo, runCommand } from './command-runner.js';
import type { HostKey } from './host-key.js';
import { HARDENED_ALGORITHMS } from './ssh-algorithms.js';
import { coalesceWrites } from './write-coalescing.js';

// ssh2 is CommonJS: its classes are reachable only through the default export under Node's ESM loader.
const { Server } = ssh2;

export interface MediatorLimits {
  /** A connection that has not authenticated by then is closed. */
  preAuthTimeoutMs: number;
  maxUnauthenticatedPerSource: number;
  maxSessionsPerPrincipal: number;
  /** No channel activity for this long closes the connection. */
  idleTimeoutMs: number;
  /** Interactive sessions are warned this long before the certificate expires. */
  expiryWarningMs: number;
}

export const DEFAULT_LIMITS: MediatorLimits = {
  preAuthTimeoutMs: 20_000,
  maxUnauthenticatedPerSource: 10,
  maxSessionsPerPrincipal: 10,
  idleTimeoutMs: 15 * 60_000,
  expiryWarningMs: 60_000,
};

export interface MediatorDeps {
  hostKey: HostKey;
  trustedSshCas: () => readonly SshPublicKey[];
  revocation: () => readonly RevocationList[];
  policy: () => Policy;
  /**
   * The mediator tier CA that issues one session grant per SSH connection:
   * the keyring's signer at the moment the session opens.
   */
  mediatorCa: () => Promise<TierCa>;
  /** `caPem`: the executor CA bundle that new channels trust (re-read when it rotates). */
  executor: { address: string; caPem: () => string; serverName?: string };
  audit: AuditTrail;
  logger: Logger;
  clock: () => Date;
  limits: MediatorLimits;
  /** Where `/metrics` counts come from; a private registry when absent. */
  metrics?: Metrics;
  /** Record interactive sessions (asciicast v2) here; input only if `recordInput`. */
  recordings?: { dir: string; recordInput: boolean };
  /**
   * Spans: `ssh.session` per connection, `airlock.command` per command. The
   * global tracer when absent (a no-op until main.ts starts the SDK; ids are
   * then random so audit records still correlate).
   */
  tracer?: Tracer;
}

/** Environment variables a client may set; everything else is refused. */
const ALLOWED_ENV = new Set(['TERM', 'LANG']);

interface OpenedSession {
  client: ExecutorClient;
  session: OpenSessionResponse;
  /** The `ssh.session` span's traceparent: OpenSession, CloseSession, completion, forwards. */
  traceparent: string;
}

interface ConnectionState {
  id: string;
  address: string;
  authenticated: boolean;
  identity?: AdmittedIdentity;
  certificate?: Uint8Array;
  signature?: Uint8Array;
  signedData?: Uint8Array;
  opened?: Promise<OpenedSession>;
  channels: Set<ServerChannel>;
  interactive: Set<ServerChannel>;
  timers: NodeJS.Timeout[];
  /** `ssh.session`: from TCP accept to connection close. */
  span: Span;
}

/**
 * `api-0`, `api-0.payments` or `payments/api-0` as the destination of an
 * `ssh -L` forward: the pod and, optionally, its namespace.
 */
export function parseForwardDestination(
  host: string,
  defaultNamespace: string,
): { namespace: string; pod: string } {
  const slash = host.split('/');
  if (slash.length === 2) return { namespace: slash[0]!, pod: slash[1]! };
  const dot = host.indexOf('.');
  return dot === -1
    ? { namespace: defaultNamespace, pod: host }
    : { namespace: host.slice(dot + 1), pod: host.slice(0, dot) };
}

/**
 * The scope of the certificate this connection authenticated with, as the
 * mediator verified it (`requireScope`, so present once authenticated);
 * fails closed otherwise.
 */
function verifiedScope(state: ConnectionState): Scope {
  const scope = state.identity?.scope;
  if (!scope) throw new AirlockError('CERT_SCOPE_INVALID', 'the certificate has no airlock scope');
  return scopeOf(scope);
}

/**
 * The SSH front door: ssh2 with hardened algorithms, OpenSSH user
 * certificates as the only way in, a command language per session, and
 * port forwarding as PortForward intents. It holds no Kubernetes credential;
 * everything goes to the executor over mTLS with a per-connection session
 * grant.
 */
export function createSshFrontend(deps: MediatorDeps) {
  const log = deps.logger.child({ component: 'mediator.ssh' });
  const tracer = deps.tracer ?? defaultTracer('airlock.mediator');
  const metrics = deps.metrics ?? new Metrics();
  const authFailures = metrics.counter('airlock_mediator_auth_failures_total', 'Refused logins by code', [
    'code',
  ]);
  const connectionsActive = metrics.gauge('airlock_mediator_connections_active', 'Open SSH connections');
  const sessionsOpened = metrics.counter(
    'airlock_mediator_sessions_total',
    'Executor sessions opened for SSH connections, by result',
    ['result'],
  );
  const sessionOpenSeconds = metrics.histogram(
    'airlock_mediator_session_open_duration_seconds',
    'From SSH authentication to the executor session (grant, mTLS, OpenSession), by result',
    ['result'],
  );
  const commandSeconds = metrics.histogram(
    'airlock_mediator_command_duration_seconds',
    'One `ssh gw <command>` from parse to exit status, by command (streams last as long as they run)',
    ['command'],
    [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  );
  const unauthenticated = new Map<string, number>();
  const sessionsByPrincipal = new Map<string, number>();
  const connections = new Set<{ client: Connection; state: ConnectionState }>();
  let draining = false;

  const audit = (event: AuditEventInput, durable = event.decision !== undefined) =>
    deps.audit
      .append(event, { durable })
      .catch((error: unknown) => log.error({ err: error }, 'audit append failed'));

  function verifyOptions(state: ConnectionState, principal: string): AdmissionOptions {
    return {
      trustedCAs: deps.trustedSshCas(),
      principal,
      now: deps.clock(),
      clientAddress: state.address,
      revocation: deps.revocation(),
      policy: deps.policy(),
    };
  }

  function authenticate(ctx: AuthContext, state: ConnectionState): undefined {
    if (ctx.method !== 'publickey') {
      ctx.reject(['publickey']);
      return;
    }
    const deny = (error: unknown): undefined => {
      const airlock =
        error instanceof AirlockError ? error : new AirlockError('CERT_MALFORMED', 'invalid certificate');
      void audit({
        event: 'auth.denied',
        actor: { user: ctx.username, address: state.address },
        target: {},
        decision: 'deny',
        code: airlock.code,
        reason: airlock.message,
      });
      authFailures.inc({ code: airlock.code });
      state.span.addEvent('auth.denied', { 'airlock.code': airlock.code });
      log.info({ code: airlock.code, address: state.address, user: ctx.username }, 'authentication refused');
      ctx.reject(['publickey']);
    };
    if (!deps.audit.healthy())
      return deny(new AirlockError('AUDIT_UNAVAILABLE', 'the audit trail is unavailable'));
    if (!ctx.key.algo.endsWith('-cert-v01@openssh.com')) {
      return deny(
        new AirlockError('CERT_REQUIRED', 'an OpenSSH user certificate is required; plain keys are refused'),
      );
    }
    try {
      const certificate = parseCertificate(ctx.key.data);
      if (!ctx.signature) {
        // The client asks whether this key would do; answer without a signature yet.
        admitCertificate(certificate, verifyOptions(state, ctx.username));
        ctx.accept();
        return;
      }
      // ssh2 hands over the RFC 4252 §7 signed data it rebuilt: session id + the request.
      const { identity } = admitLogin(
        certificate,
        ctx.signature,
        ctx.blob!,
        verifyOptions(state, ctx.username),
      );
      const open = sessionsByPrincipal.get(identity.principal) ?? 0;
      if (open >= deps.limits.maxSessionsPerPrincipal) {
        return deny(
          new AirlockError(
            'LIMIT_EXCEEDED',
            `at most ${deps.limits.maxSessionsPerPrincipal} sessions per user`,
          ),
        );
      }
      state.identity = identity;
      state.certificate = ctx.key.data;
      state.signature = ctx.signature;
      state.signedData = ctx.blob;
      ctx.accept();
    } catch (error) {
      deny(error);
    }
  }

  async function openExecutorSession(state: ConnectionState): Promise<OpenedSession> {
    const identity = state.identity!;
    const now = deps.clock();
    const sessionId = randomBytes(12).toString('hex');
    // The grant ends with the certificate (admission refused one without an end), or earlier
    // where the mediator CA's own lifetime or MAX_SESSION_GRANT_SECONDS cap it.
    const validBefore = Number(identity.validBefore) * 1000;
    const grant = await issueSessionGrant(await deps.mediatorCa(), {
      sessionId,
      user: identity.principal,
      scopeDigest: sessionBindingDigest(identity),
      notAfter: new Date(validBefore),
      now,
    });
    state.span.addEvent('session.grant_issued');
    const client = new ExecutorClient({
      address: deps.executor.address,
      executorCaPem: deps.executor.caPem(),
      grantCertPem: grant.certPem,
      grantKeyPem: grant.privateKeyPem!,
      sessionId,
      ...(deps.executor.serverName ? { serverName: deps.executor.serverName } : {}),
    });
    state.span.setAttribute('airlock.session_id', sessionId);
    const traceparent = traceparentOf(state.span)!;
    try {
      const session = await client.openSession(
        {
          ssh_certificate: Buffer.from(state.certificate!),
          auth_signature: Buffer.from(state.signature!),
          auth_signed_data: Buffer.from(state.signedData!),
          client_address: state.address,
          session_id: sessionId,
          principal: identity.principal,
        },
        { traceparent },
      );
      state.span.addEvent('executor.session_opened');
      void audit({
        event: 'session.opened',
        actor: { user: identity.principal, groups: session.groups, address: state.address },
        target: { cluster: session.cluster, namespace: session.namespace },
        decision: 'allow',
        session_id: sessionId,
        request_id: session.request_id,
        trace_id: traceIdsOf(state.span).traceId,
        details: {
          key_id: identity.keyId,
          serial: identity.serial.toString(),
          expires_at: new Date(session.expires_at_ms).toISOString(),
        },
      });
      return { client, session, traceparent };
    } catch (error) {
      client.close();
      throw error;
    }
  }

  function commandContext(opened: OpenedSession, state: ConnectionState): CommandContext {
    return {
      client: opened.client,
      session: opened.session,
      scope: verifiedScope(state),
      policy: deps.policy,
      audit: deps.audit,
      clock: deps.clock,
      traceparent: opened.traceparent,
      tracer,
      traceContext: trace.setSpan(ROOT_CONTEXT, state.span),
      clientAddress: state.address,
      ...(deps.recordings ? { recordings: deps.recordings } : {}),
    };
  }

  function fail(channel: ServerChannel, error: unknown, output: 'text' | 'json' = 'text'): void {
    const airlock = error instanceof AirlockError ? error : fromGrpcError(error);
    channel.stderr.write(formatError(airlock, output));
    finish(channel, exitCodeFor(airlock.code));
  }

  function finish(channel: ServerChannel, code: number): void {
    if (channel.destroyed) return;
    channel.exit(code);
    channel.end();
  }

  /** `ssh gw <command>`: one command, its exit status, done. */
  async function runOne(
    channel: ServerChannel,
    line: string,
    io: CommandIo,
    state: ConnectionState,
  ): Promise<void> {
    let output: 'text' | 'json' = 'text';
    const started = performance.now();
    let kind = 'unparsed';
    try {
      const argv = splitCommandLine(line);
      output = requestedOutputFormat(argv);
      const opened = await state.opened!;
      const command = parseCommand(argv, { namespace: opened.session.namespace });
      output = command.output;
      kind = command.kind;
      const code = await runCommand(command, io, commandContext(opened, state));
      finish(channel, code);
    } catch (error) {
      fail(channel, error, output);
    } finally {
      commandSeconds.observe((performance.now() - started) / 1000, { command: kind });
    }
  }

  /** An interactive session: prompt, line editing, history, completion. */
  async function runInteractive(
    channel: ServerChannel,
    io: CommandIo,
    state: ConnectionState,
  ): Promise<void> {
    let opened: OpenedSession;
    try {
      opened = await state.opened!;
    } catch (error) {
      return fail(channel, error);
    }
    state.interactive.add(channel);
    const context = commandContext(opened, state);
    // Pod names for tab completion; a scope that may not list pods just gets none.
    const podNames = await opened.client
      .list({ kind: 'pods', namespace: opened.session.namespace }, { traceparent: opened.traceparent })
      .then((list) =>
        ((JSON.parse(list.json) as { items?: { metadata?: { name?: string } }[] }).items ?? []).flatMap(
          (p) => p.metadata?.name ?? [],
        ),
      )
      .catch(() => [] as string[]);
    const prompt = () =>
      `airlock ${opened.session.user}@${opened.session.namespace} (${formatTimeLeft(opened.session.expires_at_ms, deps.clock().getTime())} left)> `;
    const readline = createInterface({
      input: channel,
      output: channel,
      terminal: io.terminal !== undefined,
      historySize: 200,
      completer: (line: string): [string[], string] => [
        completeCommandLine(line, line.length, podNames),
        line.slice(line.lastIndexOf(' ') + 1),
      ],
    });
    channel.write(
      `airlock: ${opened.session.user} in ${opened.session.cluster}/${opened.session.namespace} (profile ${opened.session.profile}). Type help.\r\n`,
    );
    readline.setPrompt(prompt());
    readline.prompt();
    let busy = false;
    for await (const line of readline) {
      if (busy) continue;
      const trimmed = line.trim();
      if (trimmed === '') {
        readline.setPrompt(prompt());
        readline.prompt();
        continue;
      }
      busy = true;
      try {
        const command = parseCommand(splitCommandLine(trimmed), { namespace: opened.session.namespace });
        if (command.kind === 'exit') break;
        readline.pause();
        const interactiveIo: CommandIo = { ...io, stdin: channel };
        await runCommand(command, interactiveIo, context);
        readline.resume();
      } catch (error) {
        const airlock =
          error instanceof AirlockError ? error : new AirlockError('INTERNAL', 'internal error');
        channel.stderr.write(formatError(airlock, 'text'));
      }
      busy = false;
      readline.setPrompt(prompt());
      readline.prompt();
    }
    readline.close();
    state.interactive.delete(channel);
    finish(channel, EXIT_CODES.OK);
  }

  function handleSession(session: Session, state: ConnectionState): void {
    let terminal: { width: number; height: number } | undefined;
    const resizeListeners: Array<(width: number, height: number) => void> = [];
    session.on('pty', (accept, reject, info) => {
      if (state.identity?.extensions['permit-pty'] === undefined) return reject?.();
      terminal = { width: info.cols, height: info.rows };
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (terminal) {
        terminal.width = info.cols;
        terminal.height = info.rows;
        for (const listener of resizeListeners) listener(info.cols, info.rows);
      }
      accept?.();
    });
    session.on('env', (accept, reject, info) => (ALLOWED_ENV.has(info.key) ? accept?.() : reject?.()));
    session.on('auth-agent', (_accept, reject) => reject?.());
    session.on('x11', (_accept, reject) => reject?.());
    session.on('subsystem', (_accept, reject) => reject?.());
    session.on('signal', (accept) => accept?.());

    const start = (accept: () => ServerChannel, line: string | undefined) => {
      const channel = accept();
      state.channels.add(channel);
      // ssh2 emits a server channel's 'close' only once its input has emitted
      // 'end', i.e. once something read stdin to EOF. Most commands never read
      // it (pods, logs, a denied exec), so 'close' alone would keep every such
      // channel, and all it references, until the connection closes: with
      // ControlMaster that is every command of a long-lived session.
      const forget = () => state.channels.delete(channel);
      channel.on('close', forget);
      const io: CommandIo = {
        stdin: channel,
        stdout: channel,
        stderr: channel.stderr,
        permitPty: state.identity?.extensions['permit-pty'] !== undefined,
        ...(terminal
          ? {
              terminal: {
                ...terminal,
                onResize: (listener: (width: number, height: number) => void) =>
                  resizeListeners.push(listener),
              },
            }
          : {}),
      };
      const forced = state.identity?.forceCommand;
      const command = forced ?? line;
      const ran =
        command !== undefined ? runOne(channel, command, io, state) : runInteractive(channel, io, state);
      void ran.finally(() => {
        // The exit status is sent: nothing more to tell this channel at expiry
        // or shutdown. Drain what stdin is left so ssh2 can end the channel.
        forget();
        channel.resume();
      });
    };
    session.on('exec', (accept, _reject, info) => start(accept, info.command));
    session.on('shell', (accept) => start(accept, undefined));
  }

  async function handleForward(
    accept: () => ServerChannel,
    reject: () => void,
    info: { destIP: string; destPort: number },
    state: ConnectionState,
  ): Promise<void> {
    let opened: OpenedSession | undefined;
    try {
      if (state.identity?.extensions['permit-port-forwarding'] === undefined) {
        throw new AirlockError('ACTION_NOT_ALLOWED', 'this certificate does not permit port forwarding');
      }
      opened = await state.opened!;
      const { namespace, pod } = parseForwardDestination(info.destIP, opened.session.namespace);
      // The mediator's own verified scope: a runbook session is refused here too.
      const scope = verifiedScope(state);
      const decision = authorizeIntent(deps.policy(), scope, {
        action: 'port-forward',
        cluster: scope.cluster,
        namespace,
        pod,
        port: info.destPort,
      });
      if (!decision.allow) throw new AirlockError(decision.code, decision.reason);
      const channel = accept();
      const call = opened.client.portForward({ traceparent: opened.traceparent });
      call.write({ start: { target: { namespace, pod, container: '' }, port: info.destPort } });
      channel.on('data', (chunk: Buffer) => {
        if (!call.write({ data: chunk })) {
          channel.pause();
          call.once('drain', () => channel.resume());
        }
      });
      channel.on('end', () => call.end());
      call.on('data', (frame: { data: Buffer }) => {
        if (!channel.write(frame.data)) {
          call.pause();
          channel.once('drain', () => call.resume());
        }
      });
      call.on('end', () => channel.end());
      call.on('error', (error) => {
        log.info({ code: fromGrpcError(error).code }, 'port-forward ended with an error');
        channel.destroy();
      });
      channel.on('close', () => call.cancel());
    } catch (error) {
      const airlock = error instanceof AirlockError ? error : fromGrpcError(error);
      // Refused before the session opened (no port-forwarding right): no ids to join on yet.
      const ids = opened && {
        session_id: opened.session.session_id,
        request_id: opened.session.request_id,
        trace_id: opened.traceparent.split('-')[1],
      };
      void audit({
        event: 'intent.denied',
        ...ids,
        actor: { user: state.identity?.principal, address: state.address },
        target: { pod: info.destIP, port: info.destPort, resource: 'pods/portforward' },
        decision: 'deny',
        code: airlock.code,
        reason: airlock.message,
      });
      reject();
    }
  }

  /** Ends every channel at certificate expiry: a warning first for interactive sessions. */
  function scheduleExpiry(client: Connection, state: ConnectionState, opened: OpenedSession): void {
    const left = opened.session.expires_at_ms - deps.clock().getTime();
    const warn = setTimeout(
      () => {
        for (const channel of state.interactive)
          channel.stderr.write('\r\nairlock: session expires in 1 minute\r\n');
      },
      Math.max(0, left - deps.limits.expiryWarningMs),
    );
    const expire = setTimeout(
      () => {
        void audit({
          event: 'session.expired',
          actor: { user: opened.session.user, address: state.address },
          target: { cluster: opened.session.cluster, namespace: opened.session.namespace },
          code: 'SESSION_EXPIRED',
          session_id: opened.session.session_id,
          request_id: opened.session.request_id,
        });
        for (const channel of state.channels) {
          channel.stderr.write('airlock: SESSION_EXPIRED: session expired\r\n');
          finish(channel, EXIT_CODES.SESSION_EXPIRED);
        }
        setTimeout(() => client.end(), 100);
      },
      Math.max(0, left),
    );
    state.timers.push(warn, expire);
  }

  /**
   * Sockets admitted but not yet authenticated, by `ip:port`. The limits that
   * protect the pre-auth phase live here, at the TCP layer, because ssh2
   * reports a connection only after the client's identification string: a
   * peer that connects and stays silent must be counted and timed out too.
   */
  const pendingSockets = new Map<string, { authenticated(): void }>();
  const tcp = createServer((socket) => {
    const address = socket.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const count = (unauthenticated.get(address) ?? 0) + 1;
    if (draining || count > deps.limits.maxUnauthenticatedPerSource) {
      void audit({
        event: 'connection.opened',
        actor: { address },
        target: {},
        decision: 'deny',
        code: draining ? 'EXECUTOR_SHUTDOWN' : 'LIMIT_EXCEEDED',
      });
      socket.destroy();
      return;
    }
    unauthenticated.set(address, count);
    let counted = true;
    const leave = () => {
      if (!counted) return;
      counted = false;
      const left = (unauthenticated.get(address) ?? 1) - 1;
      if (left <= 0) unauthenticated.delete(address);
      else unauthenticated.set(address, left);
    };
    const timer = setTimeout(() => socket.destroy(), deps.limits.preAuthTimeoutMs);
    pendingSockets.set(key, {
      authenticated: () => {
        clearTimeout(timer);
        leave();
        pendingSockets.delete(key);
      },
    });
    socket.once('close', () => {
      clearTimeout(timer);
      leave();
      pendingSockets.delete(key);
    });
    // No Nagle delay: ssh2 writes each packet on its own, and a small packet
    // queued behind an unacknowledged one would wait for the client's delayed
    // ACK (tens of ms per handshake round). Writes of one turn still go out
    // together: coalesceWrites gives the kernel one writev per turn.
    socket.setNoDelay(true);
    coalesceWrites(socket);
    server.injectSocket(socket);
  });

  const server = new Server(
    {
      hostKeys: [deps.hostKey.privateKey],
      algorithms: HARDENED_ALGORITHMS,
      ident: 'airlock',
    },
    (client, info) => {
      const id = randomBytes(8).toString('hex');
      const state: ConnectionState = {
        id,
        address: info.ip,
        authenticated: false,
        channels: new Set(),
        interactive: new Set(),
        timers: [],
        span: withTraceIds(
          tracer.startSpan(
            'ssh.session',
            {
              kind: SpanKind.SERVER,
              attributes: { 'client.address': info.ip, 'airlock.connection_id': id },
            },
            ROOT_CONTEXT,
          ),
        ),
      };
      const entry = { client, state };
      // The TCP layer (below) admitted this socket and runs its pre-auth clock.
      const socket = pendingSockets.get(`${info.ip}:${info.port}`);
      connections.add(entry);
      connectionsActive.set(connections.size);
      void audit({ event: 'connection.opened', actor: { address: state.address }, target: {} });
      let idle = setTimeout(() => client.end(), deps.limits.idleTimeoutMs);
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => client.end(), deps.limits.idleTimeoutMs);
      };
      client.on('authentication', (ctx) => authenticate(ctx, state));
      client.on('ready', () => {
        socket?.authenticated();
        state.authenticated = true;
        const identity = state.identity!;
        state.span.setAttribute('enduser.id', identity.principal);
        state.span.addEvent('ssh.authenticated');
        sessionsByPrincipal.set(identity.principal, (sessionsByPrincipal.get(identity.principal) ?? 0) + 1);
        void audit({
          event: 'auth.accepted',
          actor: { user: identity.principal, address: state.address },
          target: {},
          decision: 'allow',
          details: { key_id: identity.keyId, serial: identity.serial.toString(), ca: identity.caFingerprint },
        });
        const openStarted = performance.now();
        const openSeconds = () => (performance.now() - openStarted) / 1000;
        state.opened = openExecutorSession(state);
        state.opened.then(
          (opened) => {
            state.span.setAttribute('airlock.decision', 'allow');
            sessionsOpened.inc({ result: 'opened' });
            sessionOpenSeconds.observe(openSeconds(), { result: 'opened' });
            scheduleExpiry(client, state, opened);
          },
          (error: unknown) => {
            const code = fromGrpcError(error).code;
            state.span.setAttributes({ 'airlock.decision': 'deny', 'airlock.code': code });
            state.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
            sessionsOpened.inc({ result: code });
            sessionOpenSeconds.observe(openSeconds(), { result: code });
            log.info({ code }, 'executor refused the session');
          },
        );
        client.on('session', (accept) => {
          touch();
          handleSession(accept(), state);
        });
        client.on('tcpip', (accept, reject, forward) => {
          touch();
          void handleForward(accept, reject, forward, state);
        });
        client.on('request', (_accept, reject) => reject?.());
      });
      client.on('error', (error) => log.debug({ err: error, address: state.address }, 'connection error'));
      client.on('close', () => {
        clearTimeout(idle);
        for (const timer of state.timers) clearTimeout(timer);
        connections.delete(entry);
        connectionsActive.set(connections.size);
        if (state.authenticated) {
          const principal = state.identity!.principal;
          const left = (sessionsByPrincipal.get(principal) ?? 1) - 1;
          if (left <= 0) sessionsByPrincipal.delete(principal);
          else sessionsByPrincipal.set(principal, left);
        }
        const closed = state.opened?.then(
          async (opened) => {
            await opened.client.closeSession({ traceparent: opened.traceparent }).catch(() => {});
            opened.client.close();
            void audit({
              event: 'session.closed',
              actor: { user: opened.session.user, address: state.address },
              target: { cluster: opened.session.cluster, namespace: opened.session.namespace },
              session_id: opened.session.session_id,
              request_id: opened.session.request_id,
            });
          },
          () => {},
        );
        // Ends once CloseSession has been answered (at once when no session was opened).
        void (closed ?? Promise.resolve()).finally(() => state.span.end());
        void audit({
          event: 'connection.closed',
          actor: { user: state.identity?.principal, address: state.address },
          target: {},
        });
      });
    },
  );

  return {
    server,
    /**
     * Channels whose command is still running, summed over open connections:
     * the ones expiry and shutdown would end. A finished command's channel is
     * not counted, even while its connection stays open.
     */
    runningChannels(): number {
      let count = 0;
      for (const { state } of connections) count += state.channels.size;
      return count;
    },
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          const address = tcp.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    /**
     * Graceful shutdown: stop accepting, let sessions finish for up to
     * `drainMs`, then close what is left with a message.
     */
    async stop(drainMs: number): Promise<void> {
      draining = true;
      tcp.close();
      const deadline = Date.now() + drainMs;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      for (const { state } of connections) {
        for (const channel of state.channels) {
          channel.stderr.write('airlock: EXECUTOR_SHUTDOWN: the gateway is shutting down\r\n');
          finish(channel, EXIT_CODES.UNAVAILABLE);
        }
      }
      // Let the exit statuses reach the clients before the connections go.
      await new Promise((r) => setTimeout(r, 200));
      for (const { client } of connections) client.end();
    },
  };
}

export type SshFrontend = ReturnType<typeof createSshFrontend>;
