/**
 * Refusing an SSH channel open with a reason (RFC 4254 §5.1): a reason code
 * and a description, which OpenSSH prints as `channel N: open failed:
 * <reason>: <description>`. ssh2's `reject()` takes both with airlock's
 * patch (patches/ssh2-channel-open-failure-description.patch); unpatched it
 * sent an empty description.
 */

/** ssh2's channel-open `reject`, as patched: the reason code and description to send. */
export type RejectChannel = (reasonCode?: number, description?: string) => void;

/** RFC 4254 §5.1 reason codes of SSH_MSG_CHANNEL_OPEN_FAILURE. */
export const OPEN_FAILURE = { ADMINISTRATIVELY_PROHIBITED: 1, CONNECT_FAILED: 2 } as const;
