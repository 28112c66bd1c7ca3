/**
 * `airlock dev up`: the whole gateway on this machine (host processes on the
 * hermetic cluster or an existing one, or with --pods real pods) until
 * SIGINT or SIGTERM.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { ignoreStdioWriteErrors } from '../../core/service/stdio-guard.js';
import { type DevGateway, startDevStack, startDevStackOnCluster } from '../dev/dev-stack.js';
import { waitForStopRequest } from '../dev/stop-request.js';
import { runPodsUp } from './dev-pods.js';
import { type DevUpRecord, RECORD_FILE, readRecord, running } from './dev-up-record.js';
import { walkthrough } from './dev-walkthrough.js';

/** `dev up` flags beyond the state dir. */
interface DevUpOptions {
  /** An existing cluster instead of the hermetic one. */
  kubeconfig?: string;
  /** Pin the demo pods to this node (an existing cluster without a scheduler). */
  node?: string;
}

/**
 * Starts the stack, records it in STATE/dev-up.json, prints the walkthrough
 * and `ready …`, and runs until a stop request; then stops everything it
 * started and removes the record.
 */
async function runDevUp(stateDir: string, options: DevUpOptions): Promise<void> {
  if (options.node !== undefined && options.kubeconfig === undefined) {
    throw new AirlockError(
      'USAGE',
      '--node applies only with --kubeconfig (the hermetic cluster has one node)',
    );
  }
  const previous = readRecord(stateDir);
  if (previous && running(previous.pid)) {
    throw new AirlockError(
      'USAGE',
      `airlock dev up is already running from ${stateDir} (pid ${previous.pid})`,
    );
  }
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  // A closed stdout/stderr (Ctrl-C on `npm start | tee log` ends tee too) must
  // not kill dev up before it has stopped the tiers it started (issue 26.3).
  ignoreStdioWriteErrors();
  const stack: DevGateway =
    options.kubeconfig === undefined
      ? await startDevStack(stateDir, progress)
      : await startDevStackOnCluster(
          stateDir,
          { kubeconfigPath: options.kubeconfig, ...(options.node ? { nodeName: options.node } : {}) },
          progress,
        );
  const record: DevUpRecord = {
    pid: process.pid,
    pids: [...stack.pids],
    brokerUrl: stack.brokerUrl,
    brokerCa: stack.brokerCaPath,
    issuer: stack.oidc.issuer,
    sshPort: stack.sshPort,
  };
  writeFileSync(join(stateDir, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  process.stderr.write(walkthrough(stack));
  process.stdout.write(
    `ready ssh=${stack.sshPort} broker=${stack.brokerUrl} issuer=${stack.oidc.issuer} ` +
      `kubeconfig=${stack.kube.kubeconfigPath} ` +
      `mediator-ops=${stack.opsPorts.mediator} executor-ops=${stack.opsPorts.executor} broker-ops=${stack.opsPorts.broker}\n`,
  );
  const signal = await waitForStopRequest();
  process.stderr.write(`${signal}: stopping\n`);
  await stack.stop();
  rmSync(join(stateDir, RECORD_FILE), { force: true });
}

/** Registers `airlock dev up`. */
export function registerDevUpCommand(dev: Command): void {
  dev
    .command('up')
    .summary('Run the whole gateway locally (npm start)')
    .description(
      'Bring up the whole gateway locally (`npm start`): the hermetic cluster, the executor and the ' +
        'mediator as separate processes with their own dev CAs and keys, the executor RBAC rendered from ' +
        'docs/policy.example.json plus the demo profile demo-shell (an interactive, recorded shell, approved ' +
        'by lead; STATE/config/policy.json), demo pods in `payments` (one serving HTTP on 8080, one logging) and a ' +
        '`billing` namespace the demo scope cannot reach, the dev identity provider (device flow; demo ' +
        'people oncall and lead) and the broker, which issues every SSH certificate. Prints a walkthrough ' +
        'and `ready ssh=... broker=...`. State goes to .airlock/dev/ (git-ignored) and is reused by the ' +
        'next run; SIGINT, SIGTERM, SIGHUP or the exit of whatever started it (npm start, npx, a supervisor) ' +
        'stops everything; `dev down` removes it.\n\n' +
        'With --kubeconfig FILE it uses that existing cluster instead (its current context, as cluster-admin): ' +
        'it applies the RBAC, the deploy/rbac templates, the namespaces and demo pods there, records what it ' +
        'created in STATE/cluster-objects.json, never stops the cluster, and `dev down` deletes exactly that.',
    )
    .option('--state-dir <dir>', 'state directory', join(repoRoot(), '.airlock', 'dev'))
    .option('--kubeconfig <file>', 'run against this existing cluster instead of starting the hermetic one')
    .option(
      '--node <name>',
      'with --kubeconfig: pin the demo pods to this node (a cluster without a scheduler)',
    )
    .option(
      '--pods',
      'run the gateway as real pods instead of host processes: builds the images (`airlock dev images`),\n' +
        'starts the hermetic cluster with a real node (`dev cluster --node real`), creates the Secrets and\n' +
        'ConfigMaps deploy/ expects, applies deploy/overlays/dev, waits for the Deployments to be Available\n' +
        'and relays the mediator (SSH) and broker Services to 127.0.0.1. Root, docker.io, containerd, runc,\n' +
        'containernetworking-plugins and debootstrap needed.',
    )
    .action(async (opts: { stateDir: string; kubeconfig?: string; node?: string; pods?: boolean }) => {
      if (opts.pods) {
        if (opts.kubeconfig !== undefined)
          throw new AirlockError('USAGE', '--pods runs its own cluster; drop --kubeconfig');
        await runPodsUp(resolve(opts.stateDir));
        return;
      }
      await runDevUp(resolve(opts.stateDir), {
        ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
        ...(opts.node !== undefined ? { node: opts.node } : {}),
      });
    });
}
