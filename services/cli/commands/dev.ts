import { join } from 'node:path';
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { repoRoot } from '../../core/repo-root.js';
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
    .description('Run airlock locally: a hermetic Kubernetes cluster and (later) the whole gateway');

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
      'Bring up the local airlock stack (`npm start`). Today this is the hermetic cluster only; the\n' +
        'broker, mediator and executor join it as they land. State goes to .airlock/dev/ (git-ignored).',
    )
    .option('--state-dir <dir>', 'state directory', join(repoRoot(), '.airlock', 'dev', 'cluster'))
    .action(async (opts: { stateDir: string }) => {
      process.stderr.write(
        'airlock dev up: starting the hermetic cluster; the gateway services are not part of the stack yet\n',
      );
      await runClusterInForeground(opts.stateDir);
    });

  dev.action(() => {
    throw new AirlockError('USAGE', 'choose a subcommand: airlock dev cluster | airlock dev up (see --help)');
  });
}
