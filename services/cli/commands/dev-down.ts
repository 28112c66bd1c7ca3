/**
 * `airlock dev down`: removes what `dev up` created, once nothing it started
 * still runs.
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { deleteCreatedObjects, readLedger } from '../dev/dev-cluster-target.js';
import { readRecord, running } from './dev-up-record.js';

/**
 * `dev down`: once nothing `dev up` started from the state dir runs, deletes
 * what it created in an existing cluster (never the cluster itself), then
 * removes the state dir. If the cluster cannot be reached the state dir
 * stays, so a later `dev down` can finish.
 */
async function runDevDown(stateDir: string): Promise<void> {
  if (!existsSync(stateDir)) {
    process.stderr.write(`${stateDir} does not exist; nothing to remove\n`);
    return;
  }
  const record = readRecord(stateDir);
  const alive = record ? [record.pid, ...record.pids].filter(running) : [];
  if (alive.length > 0) {
    throw new AirlockError(
      'USAGE',
      `airlock dev up is still running from ${stateDir} (pid ${record!.pid}; live: ${alive.join(', ')}); ` +
        `stop it with Ctrl-C or kill ${record!.pid}, then run dev down again`,
    );
  }
  const ledger = readLedger(stateDir);
  if (ledger) {
    const deleted = await deleteCreatedObjects(ledger);
    process.stderr.write(
      `deleted ${deleted} object(s) dev up created in ${ledger.server} (the cluster itself keeps running)\n`,
    );
  }
  rmSync(stateDir, { recursive: true, force: true });
  process.stderr.write(`removed ${stateDir}\n`);
}

/** Registers `airlock dev down`. */
export function registerDevDownCommand(dev: Command): void {
  dev
    .command('down')
    .summary('Remove what dev up created')
    .description(
      'Remove the dev up state directory (CAs, keys, cluster data, audit trails). Refuses while the ' +
        '`dev up` that uses it, or any process it started, still runs. After `dev up --kubeconfig`, first ' +
        'deletes from that cluster every object dev up created there (never the cluster, never objects ' +
        'that existed before); if the cluster cannot be reached it stops and keeps the state dir.',
    )
    .option('--state-dir <dir>', 'state directory', join(repoRoot(), '.airlock', 'dev'))
    .action(async (opts: { stateDir: string }) => {
      await runDevDown(resolve(opts.stateDir));
    });
}
