import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { AirlockError } from '../errors.js';
import {
  APPROVED_BY_METADATA_KEY,
  encodeModerators,
  loadExecutorService,
  MODERATORS_METADATA_KEY,
  SESSION_METADATA_KEY,
} from './executor-proto.js';
import { fromGrpcError } from './grpc-errors.js';
import type {
  ExecInput,
  ExecOutput,
  GetRequest,
  ListRequest,
  LogsRequest,
  ObjectResponse,
  OpenSessionRequest,
  OpenSessionResponse,
  PortForwardInput,
  WitnessHeadMessage,
} from './messages.js';

export interface ExecutorClientOptions {
  /** host:port of the executor. */
  address: string;
  /** The executor tier CA bundle (PEM) that its serving certificate must chain to. */
  executorCaPem: string;
  /** The session grant: client certificate and key (PEM). */
  grantCertPem: string;
  grantKeyPem: string;
  sessionId: string;
  /** TLS name to expect in the executor's certificate (default: the host of `address`). */
  serverName?: string;
}

/**
 * The TLS server name sent when the executor is dialled by IP address and no
 * `serverName` is configured. RFC 6066 §3 forbids an IP literal in SNI, and
 * Node 26 refuses one (`ERR_INVALID_ARG_VALUE`) where Node 20 only warned;
 * grpc-js (1.14) always sets SNI to the dialled host, so it is given this
 * reserved name (RFC 6761 `.invalid`) instead, and the certificate is checked
 * against the dialled address itself (its IP SAN), exactly as before.
 */
export const IP_TARGET_SNI = 'executor.airlock.invalid';

/**
 * TLS options for the executor channel: the name to send and the identity
 * check. A configured `serverName` is both; otherwise a DNS host is both; an
 * IP host is checked as an IP SAN and never sent as SNI.
 */
export function executorTlsTarget(
  address: string,
  serverName?: string,
): { sni?: string; checkServerIdentity?: grpc.VerifyOptions['checkServerIdentity'] } {
  if (serverName) return { sni: serverName };
  const host = hostOf(address);
  if (isIP(host) === 0) return {};
  return { sni: IP_TARGET_SNI, checkServerIdentity: (_sni, cert) => checkServerIdentity(host, cert) };
}

/** The host of `host:port`, `[v6]:port` or a bare host. */
function hostOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1] as string;
  const colon = address.lastIndexOf(':');
  return colon > 0 && address.indexOf(':') === colon ? address.slice(0, colon) : address;
}

/** The mediator's HTTP/2 receive window (per stream and per connection) on its executor channel, in bytes. */
export const EXECUTOR_FLOW_CONTROL_WINDOW = 2 * 1024 * 1024;

/** How long OpenSession's one retry waits for a new connection (grpc-js reconnects after about 1 s). */
export const RECONNECT_WAIT_MS = 3000;

/** gRPC's words for a call that failed because no connection was ever established (it was not sent). */
function neverConnected(error: unknown): boolean {
  return (
    error instanceof AirlockError &&
    error.code === 'EXECUTOR_UNAVAILABLE' &&
    (error.detail ?? '').startsWith('No connection established')
  );
}

/** Per-call options: the W3C traceparent to continue, and a deadline. */
export interface CallOptions {
  traceparent?: string;
  deadline?: Date;
  /**
   * A moderated session's claim for this intent, read when the call is made
   * (after the mediator's moderation gate): sent as metadata
   * (MODERATORS_METADATA_KEY, APPROVED_BY_METADATA_KEY) for the executor's check.
   */
  moderation?: () => ModerationClaim | undefined;
}

/** Who moderated an intent, as the mediator asserts it (docs/threat-model.md: its limit). */
export interface ModerationClaim {
  /** The moderators joined when the intent passed the gate. */
  readonly moderators: readonly string[];
  /** approve-each-command: the moderator who approved it. */
  readonly approvedBy?: string;
}

/**
 * The mediator's side of executor.proto: one client (one mTLS channel,
 * authenticated by the session grant) per SSH session. Unary calls reject
 * with an AirlockError carrying the executor's code; streams are returned
 * as grpc-js streams whose 'error' events are converted the same way with
 * `fromGrpcError`.
 */
export class ExecutorClient {
  readonly #client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  readonly #sessionId: string;

  constructor(options: ExecutorClientOptions) {
    const Executor = loadExecutorService();
    const target = executorTlsTarget(options.address, options.serverName);
    const credentials = grpc.credentials.createSsl(
      Buffer.from(options.executorCaPem),
      Buffer.from(options.grantKeyPem),
      Buffer.from(options.grantCertPem),
      target.checkServerIdentity ? { checkServerIdentity: target.checkServerIdentity } : {},
    );
    const channelOptions: grpc.ChannelOptions = {
      // HTTP/2's default 64 KiB receive window caps an exec's stdout at one
      // window per round trip; 2 MiB matches OpenSSH's channel window, so the
      // gRPC hop is never the narrower one. Backpressure still holds: a
      // paused call stops reading, and the window bounds what is buffered.
      'grpc-node.flow_control_window': EXECUTOR_FLOW_CONTROL_WINDOW,
    };
    if (target.sni) channelOptions['grpc.ssl_target_name_override'] = target.sni;
    this.#client = new Executor(options.address, credentials, channelOptions) as unknown as grpc.Client &
      Record<string, (...args: unknown[]) => unknown>;
    this.#sessionId = options.sessionId;
  }

  #metadata(options: CallOptions = {}): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(SESSION_METADATA_KEY, this.#sessionId);
    if (options.traceparent) metadata.set('traceparent', options.traceparent);
    const claim = options.moderation?.();
    if (claim?.moderators.length) metadata.set(MODERATORS_METADATA_KEY, encodeModerators(claim.moderators));
    if (claim?.approvedBy) metadata.set(APPROVED_BY_METADATA_KEY, claim.approvedBy);
    return metadata;
  }

  #unary<Req, Res>(
    method: string,
    request: Req,
    options: CallOptions = {},
    waitForReady = false,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      const callOptions: grpc.CallOptions = options.deadline ? { deadline: options.deadline } : {};
      const metadata = this.#metadata(options);
      // grpc-js takes wait-for-ready from the metadata's options, not the call options.
      if (waitForReady) metadata.setOptions({ waitForReady });
      this.#client[method]!(
        request,
        metadata,
        callOptions,
        (error: grpc.ServiceError | null, response: Res) =>
          error ? reject(fromGrpcError(error)) : resolve(response),
      );
    });
  }

  /**
   * OpenSession. A connection lost before it was established (the call was
   * never sent, so the executor saw nothing to replay) is tried once more:
   * the new connection is waited for, within the call's deadline and at most
   * {@link RECONNECT_WAIT_MS}. Seen on loaded machines as a reset during the
   * TLS handshake; a refusal that persists (an untrusted certificate) still
   * fails, only later by that wait.
   */
  async openSession(request: OpenSessionRequest, options: CallOptions = {}): Promise<OpenSessionResponse> {
    try {
      return await this.#unary('OpenSession', request, options);
    } catch (error) {
      if (!neverConnected(error)) throw error;
      const wait = new Date(Date.now() + RECONNECT_WAIT_MS);
      const deadline = options.deadline && options.deadline < wait ? options.deadline : wait;
      return this.#unary('OpenSession', request, { ...options, deadline }, true);
    }
  }

  /** Ends the session; sends the mediator's checkpoint head and resolves with the executor's ('' = none). */
  closeSession(options?: CallOptions & { witnessHead?: string }): Promise<string> {
    return this.#unary<WitnessHeadMessage, WitnessHeadMessage>(
      'CloseSession',
      { witness_head: options?.witnessHead ?? '' },
      options,
    ).then((reply) => reply.witness_head);
  }

  /** Exchanges checkpoint heads on an open session: sends `head`, resolves with the executor's. */
  witness(head: string, options?: CallOptions): Promise<string> {
    return this.#unary<WitnessHeadMessage, WitnessHeadMessage>(
      'Witness',
      { witness_head: head },
      options,
    ).then((reply) => reply.witness_head);
  }

  get(request: GetRequest, options?: CallOptions): Promise<ObjectResponse> {
    return this.#unary('Get', request, options);
  }

  list(request: ListRequest, options?: CallOptions): Promise<ObjectResponse> {
    return this.#unary('List', request, options);
  }

  exec(options?: CallOptions): grpc.ClientDuplexStream<ExecInput, ExecOutput> {
    return (this.#client.Exec as (m: grpc.Metadata) => grpc.ClientDuplexStream<ExecInput, ExecOutput>)(
      this.#metadata(options),
    );
  }

  debug(options?: CallOptions): grpc.ClientDuplexStream<ExecInput, ExecOutput> {
    return (this.#client.Debug as (m: grpc.Metadata) => grpc.ClientDuplexStream<ExecInput, ExecOutput>)(
      this.#metadata(options),
    );
  }

  logs(request: LogsRequest, options?: CallOptions): grpc.ClientReadableStream<{ data: Buffer }> {
    return (
      this.#client.Logs as (r: LogsRequest, m: grpc.Metadata) => grpc.ClientReadableStream<{ data: Buffer }>
    )(request, this.#metadata(options));
  }

  portForward(options?: CallOptions): grpc.ClientDuplexStream<PortForwardInput, { data: Buffer }> {
    return (
      this.#client.PortForward as (
        m: grpc.Metadata,
      ) => grpc.ClientDuplexStream<PortForwardInput, { data: Buffer }>
    )(this.#metadata(options));
  }

  close(): void {
    this.#client.close();
  }
}
