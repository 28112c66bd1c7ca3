/**
 * A real OpenTelemetry Collector process for the shipping tests, run with a
 * config of deploy/components/audit-shipping/ and its environment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../services/core/repo/repo-root.js';

export { freePort } from '../../services/core/service/free-port.js';

export interface RunningCollector {
  /** SIGTERM and wait for the exit (the collector flushes and saves its offsets). */
  stop(): Promise<void>;
}

/** Polls `check` every 100 ms until it is true; throws `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts `binary --config deploy/components/audit-shipping/<config>` with
 * `env`; its output goes to `logPath`. Resolves once it has started its
 * pipelines ("Everything is ready" in its log).
 */
export async function startCollector(
  binary: string,
  config: 'agent.yaml' | 'store.yaml',
  env: Record<string, string>,
  logPath: string,
): Promise<RunningCollector> {
  const configPath = join(repoRoot(), 'deploy', 'components', 'audit-shipping', config);
  const log = createWriteStream(logPath, { flags: 'a' });
  let output = '';
  const child: ChildProcess = spawn(binary, ['--config', `file:${configPath}`], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      log.write(chunk);
    });
  }
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await waitFor(() => {
    if (gone) throw new Error(`collector (${config}) exited: ${output.slice(-2000)}`);
    return output.includes('Everything is ready');
  }, `the collector (${config}) to start; log ${logPath}`);
  return {
    async stop() {
      if (!gone) child.kill('SIGTERM');
      await exited;
      log.end();
    },
  };
}

/**
 * The audit store (store.yaml) listening on 127.0.0.1:`port`, writing into
 * `dir`/store, logging to `dir`/store.log.
 */
export function startAuditStore(binary: string, dir: string, port: number): Promise<RunningCollector> {
  mkdirSync(dir, { recursive: true });
  const env = {
    OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${port}`,
    AIRLOCK_AUDIT_STORE_DIR: join(dir, 'store'),
  };
  return startCollector(binary, 'store.yaml', env, join(dir, 'store.log'));
}
