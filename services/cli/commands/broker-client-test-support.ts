import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll } from 'vitest';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../broker/testing.js';
import { registerBrokerClientCommands } from './broker-client.js';
import type { BrokerClientIo } from './broker-client-io.js';
import { capturedOutput } from './cli-test-support.js';
import type { RequestOptions } from './request-commands.js';

/*
 * What the broker-client*.test.ts files share: a real broker and OpenID
 * provider per test file (useBrokerTestEnv), an IO per person, and the CLI
 * with the broker commands.
 */

export let env: BrokerTestEnv;

/** An IO for one person: own config dir and home, captured output, and a sleep that signs in at the provider. */
export function personIo(user: string): BrokerClientIo & { stdout: string[]; stderr: string[] } {
  const home = join(env.dir, `home-${user}`);
  mkdirSync(join(home, '.ssh'), { recursive: true });
  const output = capturedOutput();
  return {
    ...output,
    configDir: join(home, '.config', 'airlock'),
    homeDir: home,
    now: () => env.now(),
    async sleep(ms) {
      // The person reads the code from the terminal and approves it on the provider's page.
      const code = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(output.stderr.join(''))?.[1];
      if (code) {
        try {
          env.provider.approveDeviceCode(code, user);
        } catch {
          // already redeemed
        }
      }
      await new Promise((r) => setTimeout(r, ms));
    },
  };
}

/** `airlock request` options: oncall-debug on payments-api-* in prod-eu/payments, printed as JSON, with `rest`. */
export function oncallDebugRequest(
  rest: Omit<RequestOptions, 'profile' | 'cluster' | 'namespace' | 'pod'>,
): RequestOptions {
  return {
    profile: 'oncall-debug',
    cluster: 'prod-eu',
    namespace: 'payments',
    pod: ['payments-api-*'],
    output: 'json',
    ...rest,
  };
}

/** Runs `airlock ARGS` with the broker commands on `io`; returns the exit status they set. */
export async function cli(io: BrokerClientIo, args: string[]): Promise<number | undefined> {
  const program = new Command('airlock').exitOverride();
  registerBrokerClientCommands(program, () => io);
  const saved = process.exitCode;
  try {
    await program.parseAsync(['node', 'airlock', ...args]);
    return process.exitCode === undefined ? undefined : Number(process.exitCode);
  } finally {
    process.exitCode = saved;
  }
}

/** Registers, in the calling test file, a broker and OpenID provider for its tests (`env`). */
export function useBrokerTestEnv(): void {
  beforeAll(async () => {
    env = await startBrokerTestEnv();
  });

  afterAll(async () => {
    await env?.stop();
  });
}
