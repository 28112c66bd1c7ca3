/**
 * The executor and mediator as child processes of the dev stack, each with
 * its own config file and credentials, and how the stack learns that a tier
 * is ready (its `ready port=… ops=…` line on stdout).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BUNDLE_FILE } from '../../core/ca-keyring/keyring.js';
import { AirlockError } from '../../core/errors.js';
import { STREAM_TIER_NODE_FLAGS } from '../../core/service/node-flags.js';
import { loadOrCreateHostKey } from '../../core/ssh-cert/host-key.js';
import type { ProcessGroup } from './child-processes.js';
import { DEV_CLUSTER } from './dev-identities.js';
import type { DevPki } from './dev-pki.js';
import type { DevDirs } from './dev-state-dir.js';

/** What starting a tier needs: where its files go, the process group it joins, the policy and keys. */
export interface TierContext {
  stateDir: string;
  dirs: DevDirs;
  group: ProcessGroup;
  /** dist/services of the repository: the tiers' compiled `main.js`. */
  dist: string;
  policyPath: string;
  pki: DevPki;
}

/** The `key=value` pairs of a tier's `ready …` line, or CLUSTER_START_FAILED when it crashes first. */
export function waitForReady(
  proc: ReturnType<ProcessGroup['start']>,
  name: string,
  crashed: Promise<never>,
): Promise<Record<string, string>> {
  return Promise.race([
    new Promise<Record<string, string>>((resolve) => {
      const lines = createInterface({ input: proc.child.stdout! });
      lines.on('line', (line) => {
        if (line.startsWith('ready ')) {
          resolve(
            Object.fromEntries(
              line
                .slice(6)
                .split(' ')
                .map((pair) => pair.split('=') as [string, string]),
            ),
          );
        }
      });
    }),
    crashed,
  ]).catch((error: unknown) => {
    throw error instanceof AirlockError
      ? error
      : new AirlockError('CLUSTER_START_FAILED', `${name} failed to start`);
  });
}

/**
 * Starts tier `name` from dist (`<name>/main.js --config <configPath>`, its
 * output in `<name>.log` of the state directory, with `env` or this
 * process's environment); resolves with its ready line's fields.
 */
export function startDevTier(
  ctx: TierContext,
  name: 'executor' | 'mediator' | 'broker',
  configPath: string,
  env?: NodeJS.ProcessEnv,
): Promise<Record<string, string>> {
  const proc = ctx.group.start(
    name,
    process.execPath,
    [
      ...(name === 'broker' ? [] : STREAM_TIER_NODE_FLAGS),
      join(ctx.dist, name, 'main.js'),
      '--config',
      configPath,
    ],
    join(ctx.stateDir, `${name}.log`),
    env,
  );
  return waitForReady(proc, name, ctx.group.watchForCrash());
}

/**
 * This process's environment without a Kubernetes credential or a pointer to
 * one: the mediator gets no Kubernetes credential at all, the broker only the
 * kubeconfig its config names.
 */
export function withoutKubeEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('KUBE')));
}

/** The SSH trust fields of the executor's and the mediator's configuration: the policy, the SSH user CA keys, the revocation lists. */
function devSshTrust({ policyPath, pki }: TierContext) {
  return {
    policyFile: policyPath,
    sshUserCaKeysFile: join(pki.caDirs['ssh-user'], BUNDLE_FILE['ssh-user']),
    revocation: { krlFiles: [pki.krlPath], denyListFiles: [pki.denyListPath] },
  };
}

/** A tier's `audit` block: its trail in the audit directory, its signing key among the keys. */
export function devAudit(dirs: DevDirs, tier: 'executor' | 'mediator' | 'broker') {
  return { path: join(dirs.audit, `${tier}.jsonl`), signingKeyFile: join(dirs.keys, `${tier}-audit.key`) };
}

/** Starts the executor with the ServiceAccount kubeconfig `kubeconfig`; resolves once it is ready. */
export async function startExecutor(
  ctx: TierContext,
  kubeconfig: string,
): Promise<{ port: number; ready: Record<string, string> }> {
  const { dirs, pki } = ctx;
  const executorConfig = join(dirs.config, 'executor.json');
  writeFileSync(
    executorConfig,
    JSON.stringify({
      listen: '127.0.0.1:0',
      cluster: DEV_CLUSTER,
      ...devSshTrust(ctx),
      mediatorCaBundleFile: join(pki.caDirs.mediator, BUNDLE_FILE.mediator),
      executorCa: { dir: pki.caDirs.executor },
      serving: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] },
      audit: devAudit(dirs, 'executor'),
      kubeconfig,
      ops: { listen: '127.0.0.1:0' },
      drainSeconds: 5,
    }),
  );
  const ready = await startDevTier(ctx, 'executor', executorConfig);
  return { port: Number(ready.port), ready };
}

/**
 * Starts the mediator (SSH) in front of the executor on `executorPort`, with
 * no Kubernetes credential; resolves once it is ready, having written the
 * known_hosts line for its host key.
 */
export async function startMediator(
  ctx: TierContext,
  executorPort: number,
): Promise<{
  sshPort: number;
  ready: Record<string, string>;
  recordingsDir: string;
  knownHostsPath: string;
}> {
  const { dirs, pki } = ctx;
  const mediatorConfig = join(dirs.config, 'mediator.json');
  const recordingsDir = join(dirs.audit, 'recordings');
  const hostKeyPath = join(dirs.keys, 'ssh_host_ed25519_key');
  writeFileSync(
    mediatorConfig,
    JSON.stringify({
      listen: '127.0.0.1:0',
      hostKeyFile: hostKeyPath,
      ...devSshTrust(ctx),
      mediatorCa: { dir: pki.caDirs.mediator },
      executor: {
        address: `127.0.0.1:${executorPort}`,
        caBundleFile: join(pki.caDirs.executor, BUNDLE_FILE.executor),
      },
      audit: devAudit(dirs, 'mediator'),
      ops: { listen: '127.0.0.1:0' },
      recordings: { dir: recordingsDir },
      drainSeconds: 5,
    }),
  );
  const ready = await startDevTier(ctx, 'mediator', mediatorConfig, withoutKubeEnv());
  const sshPort = Number(ready.port);
  const hostKeyLine = loadOrCreateHostKey(hostKeyPath).publicKeyLine;
  const knownHostsPath = join(ctx.stateDir, 'known_hosts');
  writeFileSync(knownHostsPath, `[127.0.0.1]:${sshPort} ${hostKeyLine}\n`);
  return { sshPort, ready, recordingsDir, knownHostsPath };
}
