/** `airlock request | approve | deny | revoke | status`: calls of the broker API, rendered by request-view.ts. */

import { readFile } from 'node:fs/promises';
import { AirlockError } from '../../core/errors.js';
import { call, session } from './broker-api.js';
import { type BrokerCallOptions, type BrokerClientIo, expandHome, printJson } from './broker-client-io.js';
import { rememberRequestKey } from './cert-key.js';
import { asOf, describe, type RequestView } from './request-view.js';
import { parseTtl } from './ttl.js';

/** Options of `airlock request`. */
export interface RequestOptions extends BrokerCallOptions {
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly pod: readonly string[];
  readonly ttl: string;
  readonly reason: string;
  readonly key?: string;
  readonly runbook?: string;
  /** Container name patterns (`--container`, repeatable); none: every container the profile allows. */
  readonly container?: readonly string[];
  /** `--moderate`: ask for the profile's moderator role (join and moderate its sessions) instead of access. */
  readonly moderate?: boolean;
  /** `--observe`: ask for the profile's observer role (join and watch its sessions, read-only). */
  readonly observe?: boolean;
  /** Same as `output: 'json'` (the `--json` flag, kept for existing scripts). */
  readonly json?: boolean;
}

/** `airlock request`. */
export async function runRequest(options: RequestOptions, io: BrokerClientIo): Promise<number> {
  // Refused before any login or broker call: the flags alone are wrong.
  if (options.moderate && options.observe)
    throw new AirlockError('USAGE', '--moderate and --observe exclude each other');
  const s = await session(io, options);
  const keyPath = expandHome(options.key ?? '~/.ssh/id_ed25519.pub', io);
  let sshPublicKey: string;
  try {
    sshPublicKey = (await readFile(keyPath, 'utf8')).trim();
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read public key ${keyPath}: ${(error as Error).message}`);
  }
  if (options.pod.length === 0) throw new AirlockError('USAGE', 'name at least one --pod pattern');
  const created = (await call(s, 'POST', '/v1/requests', {
    profile: options.profile,
    cluster: options.cluster,
    namespace: options.namespace,
    podPatterns: [...options.pod],
    reason: options.reason,
    ttlSeconds: parseTtl(options.ttl),
    sshPublicKey,
    ...(options.runbook === undefined ? {} : { runbook: options.runbook }),
    ...(options.container && options.container.length > 0
      ? { containerPatterns: [...options.container] }
      : {}),
    ...(options.moderate ? { role: 'moderator' } : {}),
    ...(options.observe ? { role: 'observer' } : {}),
  })) as RequestView;
  // `airlock cert ID` then writes the certificate next to this key, and only this key.
  await rememberRequestKey(io.configDir, created.id, keyPath);
  if (options.output === 'json' || options.json) printJson(io, created);
  else {
    io.out(describe(created));
    io.err(
      created.status === 'approved'
        ? `approved; get the certificate with: airlock cert ${created.id}\n`
        : `ask an approver to run: airlock approve ${created.id}\n`,
    );
  }
  return 0;
}

/** Options of `airlock approve | deny | revoke`. */
export interface DecisionOptions extends BrokerCallOptions {
  /** Recorded in the audit trail. */
  readonly comment?: string;
}

/** Options of `airlock status`. */
export interface StatusOptions extends BrokerCallOptions {
  /** Requests the caller may approve now, instead of the caller's own. */
  readonly pending?: boolean;
  /** Same as `output: 'json'` (the `--json` flag, kept for existing scripts). */
  readonly json?: boolean;
}

/** `airlock approve` / `airlock deny` / `airlock revoke`. */
export async function runDecision(
  action: 'approve' | 'deny' | 'revoke',
  id: string,
  options: DecisionOptions,
  io: BrokerClientIo,
): Promise<number> {
  const s = await session(io, options);
  const r = (await call(s, 'POST', `/v1/requests/${encodeURIComponent(id)}/${action}`, {
    ...(options.comment === undefined ? {} : { comment: options.comment }),
  })) as RequestView;
  if (options.output === 'json') printJson(io, r);
  else io.out(describe(r));
  return 0;
}

/** `airlock status [ID]`. */
export async function runStatus(
  id: string | undefined,
  options: StatusOptions,
  io: BrokerClientIo,
): Promise<number> {
  const s = await session(io, options);
  const fetched =
    id === undefined
      ? (
          (await call(s, 'GET', options.pending ? '/v1/requests?pending=1' : '/v1/requests?mine=1')) as {
            requests: RequestView[];
          }
        ).requests
      : [(await call(s, 'GET', `/v1/requests/${encodeURIComponent(id)}`)) as RequestView];
  const now = io.now();
  const result = fetched.map((r) => asOf(r, now));
  if (options.output === 'json' || options.json) printJson(io, id === undefined ? result : result[0]);
  else if (result.length === 0)
    io.out(options.pending ? 'nothing waiting for your approval\n' : 'no requests\n');
  else for (const r of result) io.out(describe(r));
  return 0;
}
