import type { Span } from '@opentelemetry/api';
import type { AdmittedIdentity } from '../core/session/certificate-admission.js';

/**
 * What both SSH servers (the mediator's front door and the jump door) keep
 * of one connection, from TCP accept to close: what admission (ssh-auth.ts)
 * reads and records, the connection's span, its timers. Each server's state
 * extends it.
 */
export interface AdmittedConnectionState {
  id: string;
  address: string;
  authenticated: boolean;
  identity?: AdmittedIdentity;
  certificate?: Uint8Array;
  signature?: Uint8Array;
  signedData?: Uint8Array;
  /** `ssh.session` (mediator) or `door.connection`: its trace id goes into every record of the connection. */
  span: Span;
  timers: NodeJS.Timeout[];
}
