/**
 * `STATE/dev-up.json`, the record a running `airlock dev up` leaves for
 * `dev down` and `dev approve-login`, and whether the processes it names
 * still run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../../core/errors.js';

/** `STATE/dev-up.json`: written by `dev up` while it runs, read by `dev down` and `dev approve-login`. */
export interface DevUpRecord {
  pid: number;
  /** Every process `dev up` started (cluster, executor, mediator, broker). */
  pids: number[];
  brokerUrl: string;
  brokerCa: string;
  issuer: string;
  sshPort: number;
}

/** The record's file name in the state dir. */
export const RECORD_FILE = 'dev-up.json';

/** The record `dev up` left in the state dir, or undefined when there is none. */
export function readRecord(stateDir: string): DevUpRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, RECORD_FILE), 'utf8')) as DevUpRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError(
      'USAGE',
      `cannot read ${join(stateDir, RECORD_FILE)}: ${(error as Error).message}`,
    );
  }
}

/** A live process (zombies count as ended: only their reaping is left). */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch (error) {
    // EPERM: it exists but is not ours; no /proc: trust kill(0).
    return (
      (error as NodeJS.ErrnoException).code === 'EPERM' || (error as NodeJS.ErrnoException).code === 'ENOENT'
    );
  }
}
