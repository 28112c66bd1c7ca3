/**
 * `airlock dev approve-login`: approves a device code at the running
 * `dev up` identity provider as one of its demo users.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { httpsCall } from '../../core/https/https-client.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { readRecord, running } from './dev-up-record.js';

/**
 * `dev approve-login`: what the demo login page does, from a terminal. It
 * posts the page's form to the running provider over HTTPS; the broker
 * still verifies the resulting ID token like any issuer's.
 */
async function runApproveLogin(stateDir: string, user: string, code: string): Promise<void> {
  const record = readRecord(stateDir);
  if (!record || !running(record.pid)) {
    throw new AirlockError('USAGE', `airlock dev up is not running from ${stateDir}`);
  }
  const answer = await httpsCall(`${record.issuer}/device`, {
    method: 'POST',
    ca: readFileSync(record.brokerCa, 'utf8'),
    form: { user_code: code, user },
  });
  if (answer.status !== 200) {
    const reason = (/<p>([^<]*)<\/p>/.exec(answer.text ?? '')?.[1] ?? `HTTP ${answer.status}`).replaceAll(
      '&quot;',
      '"',
    );
    // The command line was right; the code is spent (redeemed, denied or expired): a refusal, not USAGE.
    if (reason.startsWith('no pending device authorization')) {
      throw new AirlockError(
        'AUTH_INVALID',
        `${reason} (it was used, denied or has expired); run airlock login again for a new code`,
      );
    }
    throw new AirlockError('USAGE', reason);
  }
  process.stderr.write(`approved ${code} as ${user}; airlock login completes within a few seconds\n`);
}

/** Registers `airlock dev approve-login`. */
export function registerDevApproveLoginCommand(dev: Command): void {
  dev
    .command('approve-login <code>')
    .summary('Dev only: approve a login as a demo user')
    .description(
      'Dev only: approve an `airlock login` device code as a demo user of the running `dev up` ' +
        'identity provider (what its demo login page does). Demo users: oncall, lead.',
    )
    .requiredOption('--user <name>', 'demo user to sign in as')
    .option('--state-dir <dir>', 'state directory', join(repoRoot(), '.airlock', 'dev'))
    .action(async (code: string, opts: { stateDir: string; user: string }) => {
      await runApproveLogin(resolve(opts.stateDir), opts.user, code);
    });
}
