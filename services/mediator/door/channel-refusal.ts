import type { Connection } from 'ssh2';
import type { AirlockError } from '../../core/errors.js';

/** RFC 4254 §5.1 reason codes of SSH_MSG_CHANNEL_OPEN_FAILURE. */
export const OPEN_FAILURE = { ADMINISTRATIVELY_PROHIBITED: 1, CONNECT_FAILED: 2 } as const;

/** The reason code a refusal is sent with: a mediator not (yet) reachable is a failed connect. */
function reasonCodeOf(error: AirlockError): number {
  return error.code === 'MEDIATOR_NOT_READY'
    ? OPEN_FAILURE.CONNECT_FAILED
    : OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED;
}

/** The description a refusal carries: `CODE: message`, what OpenSSH prints after "open failed:". */
export function refusalDescription(error: AirlockError): string {
  return `${error.code}: ${error.message}`;
}

interface ProtocolWithOpenFail {
  channelOpenFail(recipient: number, reason: number, description: string): void;
}

/**
 * Refuses a channel open with the airlock code in the failure's description
 * (RFC 4254 §5.1 `description`), which ssh2's `reject()` always leaves empty.
 * `reject()` still does the refusing (it frees the reserved channel and marks
 * the open as answered); only the one SSH_MSG_CHANNEL_OPEN_FAILURE it
 * writes, synchronously, gets our reason code and text. This reaches into
 * ssh2 1.17's `Connection._protocol`; test/e2e/door.test.ts asserts the text the real ssh client prints, and an
 * ssh2 option for a reject reason would replace it.
 */
export function refuseChannel(client: Connection, reject: () => void, error: AirlockError): void {
  const protocol = (client as unknown as { _protocol?: ProtocolWithOpenFail })._protocol;
  if (protocol === undefined || typeof protocol.channelOpenFail !== 'function') {
    reject();
    return;
  }
  const original = protocol.channelOpenFail;
  protocol.channelOpenFail = (recipient) =>
    original.call(protocol, recipient, reasonCodeOf(error), refusalDescription(error));
  try {
    reject();
  } finally {
    protocol.channelOpenFail = original;
  }
}
