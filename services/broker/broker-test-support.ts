import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type BrokerTestEnv, startBrokerTestEnv } from './testing.js';

/*
 * What the broker*.test.ts files of the HTTP API share: a broker per test file
 * (useBrokerEnv) with two user keys, request bodies and ID tokens.
 */

export let env: BrokerTestEnv;
export let userKeyLine: string;
export let otherKeyLine: string;

/** A new ed25519 key `name` in `dir` (comment `comment`), made by ssh-keygen; its public line. */
export function sshKeyIn(dir: string, name: string, comment = name): string {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

export function sshKey(name: string): string {
  return sshKeyIn(env.dir, name);
}

export const manualRequest = () => ({
  profile: 'oncall-debug',
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['payments-api-*'],
  reason: 'latency on checkout',
  ttlSeconds: 1200,
  sshPublicKey: userKeyLine,
});

export const autoRequest = () => ({
  ...manualRequest(),
  reason: 'INC-1234 checkout latency',
  ttlSeconds: 900,
});

export async function token(user: string): Promise<string> {
  return env.provider.mintIdToken(user);
}

/** Registers, in the calling test file, a broker (`env`) and two user keys for its tests. */
export function useBrokerEnv(): void {
  beforeAll(async () => {
    env = await startBrokerTestEnv();
    userKeyLine = sshKey('id_alice');
    otherKeyLine = sshKey('id_other');
  });

  afterAll(async () => {
    await env?.stop();
  });
}
