import type { Readable, Writable } from 'node:stream';
import type { Context, Tracer } from '@opentelemetry/api';
import type { AuditEventInput, AuditTarget, AuditTrail } from '../core/audit/types.js';
import type { PodTarget } from '../core/command-language/index.js';
import { AirlockError } from '../core/errors.js';
import type { Intent, Policy } from '../core/policy/index.js';
import type { ExecutorClient, ModerationClaim } from '../core/rpc/executor-client.js';
import type { Target } from '../core/rpc/messages.js';
import type { Session } from '../core/session/session.js';
import type { LiveSession } from './live/live-session.js';

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

/**
 * What a command (or a forward) runs against: the session opened at the
 * executor. `session.scope` is the scope of the certificate the mediator
 * verified itself (`scopeOf`): what its early checks decide on,
 * independently of the executor's answer.
 */
export interface CommandContext {
  client: ExecutorClient;
  session: Session;
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
  /**
   * The live session of a moderated scope: every intent waits at its gate
   * (`authorizeAndAudit`) and its decisions are shown to the moderators.
   */
  live?: LiveSession;
  /** Set by `runCommand` for one command: what its audit records so far. */
  audited?: CommandAudit;
}

/**
 * One command's audit state, so that every intent leaves exactly one
 * decision (`intent.allowed` or `intent.denied`) and, if it was allowed but
 * then failed (executor or Kubernetes unavailable, RBAC, expiry), exactly
 * one failure record in the mediator's own trail.
 */
export interface CommandAudit {
  /** The intent `authorizeAndAudit` allowed, if any. */
  allowed?: { action: Intent['action']; target: AuditEventInput['target'] };
  /** The failure is already recorded (a policy denial, or a recording's `exec.exited`). */
  failureRecorded: boolean;
  /** A moderated session: who moderated the allowed intent, sent to the executor with the call. */
  moderation?: ModerationClaim;
}

/** The pod a command names as the executor's wire target (empty container: the pod's default). */
export function wireTarget(target: PodTarget): Target {
  return { namespace: target.namespace, pod: target.pod, container: target.container ?? '' };
}

/** The pod a command names as the target of its audit records. */
export function podAuditTarget(target: PodTarget, resource: string, argv?: string[]): AuditTarget {
  return { namespace: target.namespace, pod: target.pod, resource, ...(argv ? { argv } : {}) };
}

/** Any error as the `AirlockError` the user sees: unknown ones become `INTERNAL`. */
export function asAirlockError(error: unknown): AirlockError {
  return error instanceof AirlockError
    ? error
    : new AirlockError('INTERNAL', 'internal error', { cause: error });
}
