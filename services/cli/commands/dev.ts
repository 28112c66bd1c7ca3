import { join } from 'node:path';
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { repoRoot } from '../../core/repo-root.js';
import { startDevStack } from '../dev/dev-stack.js';
import { startCluster } from '../dev/hermetic-cluster.js';

/**
 * Runs a cluster in the foreground until SIGINT or SIGTERM, then stops every
 * process it started before returning.
 */
async function runClusterInForeground(stateDir: string): Promise<void> {
  const cluster = await startCluster({
    stateDir,
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`ready kubeconfig=${cluster.kubeconfigPath}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.stderr.write(`${signal}: stopping the cluster\n`);
  await cluster.stop();
  process.stderr.write('stopped\n');
}

export function registerDevCommands(program: Command): void {
  const dev = program
    .command('dev')
    .description('Run airlock locally: the hermetic Kubernetes cluster, or the whole gateway (dev up)');

  dev
    .command('cluster')
    .description(
      'Build (if needed) and run the hermetic Kubernetes cluster in the foreground: etcd, kube-apiserver,\n' +
        'kube-controller-manager and a fake kubelet on 127.0.0.1. Writes DIR/kubeconfig (cluster-admin)\n' +
        'and DIR/kube-audit.log, prints `ready kubeconfig=DIR/kubeconfig` once /readyz answers, and\n' +
        'stops every process it started on SIGINT or SIGTERM. Requires Go >= 1.26 for the first build.',
    )
    .requiredOption(
      '--state-dir <dir>',
      'directory for kubeconfig, audit log, PKI, etcd data and process logs',
    )
    .action(async (opts: { stateDir: string }) => {
      await runClusterInForeground(opts.stateDir);
    });

  dev
    .command('up')
    .description(
      'Bring up the whole gateway locally (`npm start`): the hermetic cluster, the executor and the\n' +
        'mediator as separate processes with their own dev CAs and keys, the executor RBAC rendered from\n' +
        'docs/policy.example.json, demo pods in `payments` (one serving HTTP on 8080, one logging) and a\n' +
        '`billing` namespace the demo scope cannot reach, and certificates for the demo users `oncall`\n' +
        '(oncall-debug) and `reader` (cluster-read). Prints `ready ssh=...` with a command to paste.\n' +
        'State goes to .airlock/dev/ (git-ignored); SIGINT/SIGTERM stops everything.',
    )
    .option('--state-dir <dir>', 'state directory', join(repoRoot(), '.airlock', 'dev'))
    .action(async (opts: { stateDir: string }) => {
      const stack = await startDevStack(opts.stateDir, (line) => process.stderr.write(`${line}\n`));
      process.stderr.write(
        `\nairlock is up. Try:\n  ${stack.sshCommand} help\n  ${stack.sshCommand} pods\n` +
          `  ${stack.sshCommand} logs payments-worker-0 --tail 5\n  ${stack.sshCommand} exec payments-api-0 -- ps aux\n` +
          `  ${stack.sshCommand.replace('oncall@', '-N -L 8080:payments-api-0:8080 oncall@')}   (then curl localhost:8080)\n` +
          `Audit trails: ${join(stack.stateDir, 'audit')}; Kubernetes audit log: ${stack.cluster.auditLogPath}\n\n`,
      );
      process.stdout.write(
        `ready ssh=${stack.sshPort} kubeconfig=${stack.cluster.kubeconfigPath} ` +
          `mediator-ops=${stack.opsPorts.mediator} executor-ops=${stack.opsPorts.executor}\n`,
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      process.stderr.write(`${signal}: stopping\n`);
      await stack.stop();
    });

  dev.action(() => {
    throw new AirlockError('USAGE', 'choose a subcommand: airlock dev cluster | airlock dev up (see --help)');
  });
}
