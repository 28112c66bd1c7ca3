import type { AirlockError } from '../../core/errors.js';
import { OPEN_FAILURE, type RejectChannel } from '../channel-open-failure.js';

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

/** Refuses a channel open with the airlock code in the failure's description (RFC 4254 §5.1). */
export function refuseChannel(reject: RejectChannel, error: AirlockError): void {
  reject(reasonCodeOf(error), refusalDescription(error));
}
