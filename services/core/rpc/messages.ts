/**
 * TypeScript shapes of the executor.proto messages as @grpc/proto-loader
 * delivers them (see loadExecutorService for the options): snake_case field
 * names, bytes as Buffer, int64 as number, and `frame` naming the oneof
 * member that is set.
 */

export interface OpenSessionRequest {
  ssh_certificate: Buffer;
  auth_signature: Buffer;
  auth_signed_data: Buffer;
  client_address: string;
  session_id: string;
  principal: string;
  /** The mediator's latest durable signed checkpoint line, or '' / absent (witness.ts). */
  witness_head?: string;
}

/**
 * What both tiers say of a session in the wire's field names: the
 * executor's OpenSession answer and the mediator's `whoami -o json`.
 */
export interface SessionSummary {
  user: string;
  groups: string[];
  profile: string;
  cluster: string;
  namespace: string;
  pod_patterns: string[];
  expires_at_ms: number;
}

/** The {@link SessionSummary} of a session (its user, groups and scope) that ends at `expiresAtMs`. */
export function sessionSummary(
  session: {
    user: string;
    groups: readonly string[];
    scope: { profile: string; cluster: string; namespace: string; podPatterns: readonly string[] };
  },
  expiresAtMs: number,
): SessionSummary {
  const { scope } = session;
  return {
    user: session.user,
    groups: [...session.groups],
    profile: scope.profile,
    cluster: scope.cluster,
    namespace: scope.namespace,
    pod_patterns: [...scope.podPatterns],
    expires_at_ms: expiresAtMs,
  };
}

export interface OpenSessionResponse extends SessionSummary {
  session_id: string;
  request_id: string;
  /** The executor's latest durable signed checkpoint line, or ''. */
  witness_head: string;
}

/** CloseSession and Witness, both ways: the sender's latest durable signed checkpoint line, or ''. */
export interface WitnessHeadMessage {
  witness_head: string;
}

export interface Target {
  namespace: string;
  pod: string;
  container: string;
}

export interface TerminalSize {
  width: number;
  height: number;
}

export interface ExecStart {
  target: Target | null;
  argv: string[];
  tty: boolean;
  size: TerminalSize | null;
  shell: boolean;
}

export interface DebugStart {
  target: Target | null;
  image: string;
  argv: string[];
  tty: boolean;
  size: TerminalSize | null;
}

/**
 * A oneof as a union: exactly one member set. `frame` names it on messages
 * received (proto-loader adds it); senders leave it out.
 */
type OneOf<T> = { [K in keyof T]: { frame?: K } & Pick<T, K> }[keyof T];

export type ExecInput = OneOf<{
  start: ExecStart;
  stdin: Buffer;
  resize: TerminalSize;
  stdin_eof: boolean;
  debug: DebugStart;
}>;

export interface ExitStatus {
  code: number;
  signal: string;
}

export type ExecOutput = OneOf<{ stdout: Buffer; stderr: Buffer; exit: ExitStatus }>;

export interface LogsRequest {
  target: Target | null;
  follow: boolean;
  since_seconds: number;
  tail_lines: number;
  timestamps: boolean;
}

export type PortForwardInput = OneOf<{ start: { target: Target | null; port: number }; data: Buffer }>;

export interface GetRequest {
  kind: string;
  namespace: string;
  name: string;
}

export interface ListRequest {
  kind: string;
  namespace: string;
}

export interface ObjectResponse {
  json: string;
}
