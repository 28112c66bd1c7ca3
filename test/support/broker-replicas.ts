/**
 * Broker replicas for tests: `node dist/services/broker/main.js` processes
 * sharing one PostgreSQL database, the SSH CA, the policy and the OpenID
 * provider of a `startBrokerTestEnv` environment, each with its own audit
 * trail and revocation files; and the audit-trail counting the replica
 * tests assert on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerConfig } from '../../services/broker/config.js';
import type { ApiBody, BrokerTestEnv } from '../../services/broker/testing.js';
import { httpsCall } from '../../services/core/https/https-client.js';
import { repoRoot } from '../../services/core/repo-root.js';

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

/** A state change as the audit trail records it: event, request, actor (allow decisions only). */
export interface AuditedChange {
  readonly key: string;
  /** Position in its trail (0-based, events only). */
  readonly index: number;
}

const STATE_CHANGES = new Set([
  'request.created',
  'request.approved',
  'request.denied',
  'request.expired',
  'cert.issued',
  'cert.revoked',
]);

/** The key of a state change: `event request_id actor`. */
export function changeKey(event: string, requestId: string, actor: string): string {
  return `${event} ${requestId} ${actor}`;
}

/**
 * The state changes in a trail (events with decision allow, or none for
 * request.created/expired). A last line cut short by SIGKILL is ignored.
 */
export function auditedChanges(path: string): AuditedChange[] {
  if (!existsSync(path)) return [];
  const out: AuditedChange[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const event = record.event;
    if (typeof event !== 'string' || !STATE_CHANGES.has(event) || record.decision === 'deny') continue;
    const actor = (record.actor as { user?: string; kind?: string } | undefined) ?? {};
    out.push({
      key: changeKey(event, String(record.request_id), actor.user ?? actor.kind ?? '?'),
      index: out.length,
    });
  }
  return out;
}
