/**
 * A real mediator or executor process (dist/services/<tier>/main.js) that
 * needs no Kubernetes cluster: fresh tier CAs, SSH user CA and audit key in a
 * directory of its own, its audit trail in the off-pod ack mode towards a
 * given store. The executor's kubeconfig names an address nothing listens
 * on: it reads it at start and calls the API only for sessions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { formatPublicKeyLine, generateCaKey } from '../../services/core/ssh-cert/index.js';
import { createTierCa } from '../../services/core/x509/index.js';
import { killTree } from './processes.js';

export type ProcessTier = 'mediator' | 'executor';

/** `audit.offPodAck` of the tier's configuration. */
export interface OffPodAck {
  endpoint: string;
  trail: string;
  timeoutMs: number;
}

/** Writes the tier's configuration and keys into `dir` (and `audit.pub`, for verify); returns the config file. */
export async function writeTierConfig(tier: ProcessTier, dir: string, offPodAck: OffPodAck): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return name;
  };
  const now = new Date();
  const mediatorCa = await createTierCa({ tier: 'mediator', now });
  const executorCa = await createTierCa({ tier: 'executor', now });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const auditKey = privateKey.export({ type: 'pkcs8', format: 'pem' });
  file('audit.pub', publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const common = {
    listen: '127.0.0.1:0',
    policyFile: join(repoRoot(), 'docs', 'policy.example.json'),
    sshUserCaKeysFile: file(
      'ssh-user-ca.pub',
      `${formatPublicKeyLine(generateCaKey('ed25519').publicKey)}\n`,
    ),
    audit: {
      path: `audit/${tier}.jsonl`,
      signingKeyFile: file('audit.key', auditKey.toString()),
      offPodAck,
    },
    drainSeconds: 0,
    logLevel: 'info',
  };
  const config =
    tier === 'mediator'
      ? {
          ...common,
          hostKeyFile: 'host_ed25519',
          mediatorCa: {
            certFile: file('mediator-ca.pem', mediatorCa.certPem),
            keyFile: file('mediator-ca.key', mediatorCa.privateKeyPem!),
          },
          executor: { address: '127.0.0.1:9', caBundleFile: file('executor-ca.pem', executorCa.certPem) },
        }
      : {
          ...common,
          cluster: 'hermetic',
          mediatorCaBundleFile: file('mediator-ca.pem', mediatorCa.certPem),
          executorCa: {
            certFile: file('executor-ca.pem', executorCa.certPem),
            keyFile: file('executor-ca.key', executorCa.privateKeyPem!),
          },
          serving: {},
          loginRecordFile: 'state/logins.jsonl',
          kubeconfig: file('kubeconfig', kubeconfigNowhere()),
        };
  return join(dir, file(`${tier}.json`, JSON.stringify(config)));
}

function kubeconfigNowhere(): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:9' } }],
    users: [{ name: 'none', user: { token: 'unused' } }],
    contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
    'current-context': 'none',
  });
}

/** A started tier process. */
export interface TierProcess {
  /** Everything it wrote on stdout and stderr so far. */
  output(): string;
  /** Sends `signal` and resolves with the exit status once the process has exited. */
  terminate(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL to the process tree (after a failed assertion). */
  kill(): void;
}

/** Starts `node dist/services/<tier>/main.js --config <config>`; resolves once it printed `ready`. */
export async function startTierProcess(tier: ProcessTier, config: string): Promise<TierProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [join(repoRoot(), 'dist', 'services', tier, 'main.js'), '--config', config],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (/^ready /m.test(output)) {
        clearInterval(check);
        resolve();
      } else if (gone) {
        clearInterval(check);
        reject(new Error(`${tier} exited before ready: ${output.slice(-2000)}`));
      }
    }, 50);
  });
  return {
    output: () => output,
    async terminate(signal = 'SIGTERM') {
      if (!gone) child.kill(signal);
      return exited;
    },
    kill: () => killTree(child.pid),
  };
}
