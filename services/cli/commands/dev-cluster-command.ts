/**
 * `airlock dev cluster`: the hermetic Kubernetes cluster in the foreground,
 * with a fake node or a real one.
 */
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { ignoreStdioWriteErrors } from '../../core/service/stdio-guard.js';
import { startCluster } from '../dev/hermetic-cluster.js';
import { ensureAppImages } from '../dev/images/app-images.js';
import { waitForStopRequest } from '../dev/stop-request.js';

/**
 * Runs a cluster in the foreground until SIGINT or SIGTERM, then stops every
 * process it started before returning.
 */
async function runClusterInForeground(stateDir: string, node: 'fake' | 'real'): Promise<void> {
  ignoreStdioWriteErrors();
  const onProgress = (line: string) => process.stderr.write(`${line}\n`);
  const images = node === 'real' ? (await ensureAppImages(onProgress)).map((image) => image.archive) : [];
  const cluster = await startCluster({ stateDir, onProgress, node, images });
  process.stdout.write(`ready kubeconfig=${cluster.kubeconfigPath}\n`);
  const signal = await waitForStopRequest();
  process.stderr.write(`${signal}: stopping the cluster\n`);
  await cluster.stop();
  process.stderr.write('stopped\n');
}

/** Registers `airlock dev cluster`. */
export function registerDevClusterCommand(dev: Command): void {
  dev
    .command('cluster')
    .summary('Run the hermetic Kubernetes cluster')
    .description(
      'Build (if needed) and run the hermetic Kubernetes cluster in the foreground: etcd, kube-apiserver, ' +
        'kube-controller-manager and a fake kubelet on 127.0.0.1. Writes DIR/kubeconfig (cluster-admin) ' +
        'and DIR/kube-audit.log, prints `ready kubeconfig=DIR/kubeconfig` once /readyz answers, and ' +
        'stops every process it started on SIGINT, SIGTERM or SIGHUP, or when whatever started it exits ' +
        '(npx, npm, a supervisor); the cluster binaries also die with it if it is killed outright. ' +
        'Requires Go >= 1.26 for the first build.',
    )
    .requiredOption(
      '--state-dir <dir>',
      'directory for kubeconfig, audit log, PKI, etcd data and process logs',
    )
    .option(
      '--node <kind>',
      'fake: the fake kubelet runs container commands as host processes (default, fast). real: containerd,\n' +
        'a real kubelet, kube-proxy (iptables) and kube-scheduler run real pods on a CNI bridge (airlock0,\n' +
        '10.244.0.0/24; the API then listens on 10.244.0.1), with the images of `airlock dev images`\n' +
        'imported. Needs root, containerd, runc, containernetworking-plugins, docker.io and debootstrap; one\n' +
        'per machine. Stopping it (or this process dying) removes the bridge, iptables chains, mounts,\n' +
        'cgroups and restores the sysctls the node changed.',
      'fake',
    )
    .action(async (opts: { stateDir: string; node: string }) => {
      if (opts.node !== 'fake' && opts.node !== 'real') {
        throw new AirlockError('USAGE', `--node must be fake or real, not ${opts.node}`);
      }
      await runClusterInForeground(opts.stateDir, opts.node);
    });
}
