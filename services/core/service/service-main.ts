import { parseArgs } from 'node:util';
import { AirlockError } from '../errors.js';
import { setRuntimeV8Flags } from './node-flags.js';
import { ignoreStdioWriteErrors } from './stdio-guard.js';

/** A started tier: the lines to print once it is ready, and how to stop it. */
export interface RunningService {
  /** Printed on stdout, the first one starting with `ready `. */
  readyLines: string[];
  stop(): Promise<void>;
}

/** The end of a tier's `--help` SIGTERM/SIGINT paragraph: how its audit trail closes. */
export const CLOSE_CHECKPOINT_HELP = `the audit trail ends with its signed close checkpoint (with
audit.offPodAck: acknowledged by the audit store); if it cannot, the tier
still exits, with status 1 and "AUDIT_UNAVAILABLE: the close checkpoint was
not shipped off the pod".`;

/**
 * The ready lines of an SSH tier (the mediator, the door): its port, host key
 * fingerprint and ops port, then the host key as a known_hosts line to pin.
 */
export function sshReadyLines(started: {
  port: number;
  opsPort: number | undefined;
  hostKey: { fingerprint: string; publicKeyLine: string };
}): string[] {
  const ops = started.opsPort ? ` ops=${started.opsPort}` : '';
  return [
    `ready port=${started.port} host-key=${started.hostKey.fingerprint}${ops}`,
    `known_hosts: ${started.hostKey.publicKeyLine}`,
  ];
}

/**
 * The shared `main` of a tier's entry point: `--config FILE` (or `--help`),
 * start, print the ready lines, wait for SIGTERM or SIGINT, stop (the tier
 * drains and closes its audit trail), and report a start-up failure as
 * `<tier>: CODE: reason` with exit status 1 (2 for usage).
 *
 * Nothing that happens to stdout/stderr stops the drain: write errors on
 * them (EPIPE when the reader, say `| tee`, died with the same Ctrl-C) are
 * dropped, and a second SIGINT/SIGTERM during the drain does not kill the
 * tier before its audit trail is closed (SIGKILL still does).
 * `v8Flags` are set on this process's V8 before the tier starts
 * (STREAM_TIER_RUNTIME_V8_FLAGS for the tiers that move stream bytes).
 */
export async function serviceMain(
  tier: string,
  help: string,
  start: (configPath: string) => Promise<RunningService>,
  v8Flags: readonly string[] = [],
): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help || !values.config) {
    process.stdout.write(`${help}\n`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  ignoreStdioWriteErrors();
  setRuntimeV8Flags(v8Flags);
  // Listen before starting and before printing `ready`: a supervisor may
  // signal as soon as it reads that line, and a signal that came before the
  // listener would kill the tier with its audit trail unclosed.
  let signalled = false;
  const stopSignal = new Promise<string>((resolve) => {
    const onSignal = (name: string) => {
      if (signalled) process.stderr.write(`${name}: already draining; the audit trail closes when it ends\n`);
      signalled = true;
      resolve(name);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  try {
    const service = await start(values.config);
    for (const line of service.readyLines) process.stdout.write(`${line}\n`);
    const signal = await stopSignal;
    process.stderr.write(`${signal}: draining\n`);
    await service.stop();
  } catch (error) {
    const airlock = error instanceof AirlockError ? error : new AirlockError('INTERNAL', String(error));
    process.stderr.write(
      `${tier}: ${airlock.code}: ${airlock.message}\n${airlock.detail ? `${airlock.detail}\n` : ''}`,
    );
    process.exitCode = 1;
  }
}
