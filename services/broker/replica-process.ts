/**
 * A broker replica as its own process (`node dist/services/broker/main.js`)
 * on the files of a `startBrokerTestEnv` environment, with its own audit
 * trail and revocation files and config overrides (e.g. a shared PostgreSQL
 * store). For the replica tests and the replica benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpsCall } from '../core/https/https-client.js';
import { repoRoot } from '../core/repo/repo-root.js';
import type { BrokerConfig } from './config.js';
import type { ApiBody, BrokerTestEnv } from './testing.js';

/** A running broker process. */
export interface BrokerReplica {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly auditPath: string;
  call(
    method: 'GET' | 'POST',
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: ApiBody }>;
  /** Stops it (SIGTERM, or SIGKILL with `kill`) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts replica `name` on `env`'s files and `store`, with `policyFile`. */
export async function startBrokerReplica(
  env: BrokerTestEnv,
  name: string,
  overrides: Partial<BrokerConfig>,
): Promise<BrokerReplica> {
  const { kubernetes: _k, kubeCertificates: _c, ops: _o, ...base } = env.config;
  const config: BrokerConfig = {
    ...base,
    listen: { host: '127.0.0.1', port: 0 },
    audit: { ...env.config.audit, path: join(env.dir, `audit-${name}.jsonl`) },
    denyListFile: join(env.dir, `deny-${name}.json`),
    revocationKrlFile: join(env.dir, `revoked-${name}.krl`),
    ...overrides,
  };
  const configPath = join(env.dir, `broker-${name}.json`);
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'dist/services/broker/main.js'), '--config', configPath],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /^ready url=(\S+)/m.exec(stdout);
      if (ready?.[1]) resolve(ready[1]);
    });
    child.once('exit', (code) => reject(new Error(`broker ${name} exited with ${code}: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    url,
    child,
    auditPath: config.audit.path,
    async call(method, path, token, body) {
      const response = await httpsCall(`${url}${path}`, {
        method,
        ca: env.caPem,
        headers: { authorization: `Bearer ${token}` },
        ...(body === undefined ? {} : { json: body }),
      });
      return { status: response.status, body: response.body };
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
