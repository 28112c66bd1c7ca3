import { AirlockError } from '../../core/errors.js';

/** The port a door destination names: the inner SSH session's, as `ssh -J door <request-id>` sends it. */
export const DESTINATION_PORT = 22;

/** The longest requested host name kept in an audit record. */
const MAX_AUDITED_HOST = 255;

/** A `direct-tcpip` channel's destination as the client asked for it (RFC 4254 §7.2). */
export interface RequestedDestination {
  readonly host: string;
  readonly port: number;
}

/**
 * May this `direct-tcpip` channel go on to the mediator of `requestId` (the
 * request named in the certificate's verified scope)? Only if the client
 * named exactly that request, on port 22: `ssh -J door <request-id>`.
 *
 * A mismatch is refused (DOOR_DESTINATION_REFUSED), never silently
 * redirected to the certificate's own mediator. Refusing fails closed and is
 * visible: a client that asks for request B with A's certificate is told so
 * and the attempt is in the door's trail, and a client never talks to a
 * mediator other than the one its `HostKeyAlias` / known_hosts check expects
 * (the inner host key is verified for the name the user typed). The door
 * still dials the mediator it resolves for `requestId` itself: the requested
 * host is only compared, never resolved or dialled.
 *
 * Pure; the requested destination is untrusted input.
 */
export function checkDestination(requested: RequestedDestination, requestId: string): void {
  if (requested.host === requestId && requested.port === DESTINATION_PORT) return;
  throw new AirlockError(
    'DOOR_DESTINATION_REFUSED',
    `this certificate reaches only the mediator of its own request: ssh -J <door> ${requestId}`,
  );
}

/** The requested destination as an audit record keeps it: `host:port`, the host cut to a bound. */
export function auditedDestination(requested: RequestedDestination): string {
  return `${requested.host.slice(0, MAX_AUDITED_HOST)}:${requested.port}`;
}
