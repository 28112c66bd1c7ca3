import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { httpsCall } from '../../core/https/https-client.js';
import { repoRoot } from '../../core/repo-root.js';
import { ignoreStdioWriteErrors } from '../../core/stdio-guard.js';
import { DEMO_SHELL_PROFILE } from '../dev/demo-policy.js';
import { deleteCreatedObjects, readLedger } from '../dev/dev-cluster-target.js';
import {
  BROKER_TOKEN_AUDIENCE,
  DEMO_NAMESPACE,
  DEV_CLUSTER,
  type DevGateway,
  INCIDENT_BOT_SA,
  startDevStack,
  startDevStackOnCluster,
} from '../dev/dev-stack.js';
import { startCluster } from '../dev/hermetic-cluster.js';
import { ensureAppImages } from '../dev/images/app-images.js';
import { waitForStopRequest } from '../dev/stop-request.js';
import { registerDevImagesCommand } from './dev-images.js';
import { runPodsUp } from './dev-pods.js';

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

/** `STATE/dev-up.json`: written by `dev up` while it runs, read by `dev down` and `dev approve-login`. */
interface DevUpRecord {
  pid: number;
  /** Every process `dev up` started (cluster, executor, mediator, broker). */
  pids: number[];
  brokerUrl: string;
  brokerCa: string;
  issuer: string;
  sshPort: number;
}

const RECORD_FILE = 'dev-up.json';

function readRecord(stateDir: string): DevUpRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, RECORD_FILE), 'utf8')) as DevUpRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError(
      'USAGE',
      `cannot read ${join(stateDir, RECORD_FILE)}: ${(error as Error).message}`,
    );
  }
}

/** A live process (zombies count as ended: only their reaping is left). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch (error) {
    // EPERM: it exists but is not ours; no /proc: trust kill(0).
    return (
      (error as NodeJS.ErrnoException).code === 'EPERM' || (error as NodeJS.ErrnoException).code === 'ENOENT'
    );
  }
}

/** A path as the reader should type it: relative to the working directory when below it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Single-quotes a shell word when it needs it. */
function sh(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The walkthrough `dev up` prints: every command works as printed from the
 * directory `dev up` ran in (`npx airlock` is this checkout's CLI). ID and
 * CODE are what the previous command printed.
 */
export function walkthrough(stack: DevGateway): string {
  const state = stack.stateDir;
  const ca = shown(stack.brokerCaPath);
  const key = (user: string) => shown(`${stack.users[user]!.keyPath}.pub`);
  const sshF = `ssh -F ${shown(stack.sshConfigPath)}`;
  // Each person's token cache (and remembered request keys) lives in the state dir, never in
  // the user's own ~/.config/airlock: dev down removes them with everything else.
  const configDir = (user: string) => `AIRLOCK_CONFIG_DIR=${shown(join(state, 'users', user, 'airlock'))}`;
  const oncall = configDir('oncall');
  const lead = configDir('lead');
  const login = `npx airlock login --broker ${stack.brokerUrl} --ca ${ca}`;
  const stateFlag =
    resolve(state) === resolve(repoRoot(), '.airlock', 'dev') ? '' : ` --state-dir ${shown(state)}`;
  const request = (reason: string) =>
    `${oncall} npx airlock request --profile oncall-debug --cluster ${DEV_CLUSTER} --namespace ${DEMO_NAMESPACE} ` +
    `--pod 'payments-*' --ttl 30m --reason ${sh(reason)} --key ${key('oncall')}`;
  const audit = ['broker', 'mediator', 'executor'].map((t) => shown(join(state, 'audit', `${t}.jsonl`)));
  // The Kubernetes audit log joins the timeline when dev up can read it (the hermetic cluster's).
  if (stack.kube.auditLogPath) audit.push(shown(stack.kube.auditLogPath));
  const kubectl = stack.kube.external ? stack.kube.kubectl : shown(stack.kube.kubectl);
  const bot = shown(join(state, 'users', INCIDENT_BOT_SA.name));
  const botConfig = `AIRLOCK_CONFIG_DIR=${bot}/airlock`;
  return [
    '',
    `airlock is up: broker ${stack.brokerUrl}, identity provider ${stack.oidc.issuer}, ssh 127.0.0.1:${stack.sshPort}.`,
    'Demo people: oncall (on-call engineer, group payments-oncall) and lead (approver, payments-leads).',
    'Walkthrough, in another terminal in this directory (ID and CODE: what the previous command printed).',
    `Each person's login stays in ${shown(join(state, 'users'))}/*/airlock (AIRLOCK_CONFIG_DIR), not in ~/.config/airlock:`,
    '',
    ' 1. Sign in as oncall (OAuth device flow). `login` waits for the code it prints:',
    `      ${oncall} ${login}`,
    '    approve that code as the demo user oncall, from a third terminal (or on the printed page):',
    `      npx airlock dev approve-login${stateFlag} --user oncall CODE`,
    '',
    ' 2. Ask for access; docs/policy.example.json auto-approves an INC- reason:',
    `      ${request('INC-1234 checkout errors')}`,
    '',
    ' 3. Fetch the certificate; it is written next to the key the request was made with:',
    `      ${oncall} npx airlock cert ID`,
    '',
    ` 4. Use it (${shown(stack.sshConfigPath)}: Host airlock, user oncall, that key and certificate):`,
    `      ${sshF} airlock pods`,
    `      ${sshF} airlock exec payments/payments-api-0 -- ps aux`,
    `      ${sshF} airlock logs -f payments-worker-0`,
    `      ${sshF} -N -L 8080:payments-api-0:8080 airlock      # then: curl localhost:8080`,
    '',
    ' 5. Without an incident reference, a lead approves (lead signs in with its own token cache):',
    `      ${request('look at the worker backlog')}`,
    `      ${lead} ${login}`,
    `      npx airlock dev approve-login${stateFlag} --user lead CODE`,
    `      ${lead} npx airlock status --pending`,
    `      ${lead} npx airlock approve ID`,
    `      ${oncall} npx airlock cert ID`,
    '',
    ' 6. Revoke (the mediator and executor cut its sessions within a second) and read the trail:',
    `      ${oncall} npx airlock revoke ID`,
    `      npx airlock audit timeline --request ID --output html ${audit.join(' ')} > timeline.html`,
    '',
    ` 7. A runbook, end to end: the ServiceAccount ${INCIDENT_BOT_SA.namespace}/${INCIDENT_BOT_SA.name} signs in with its token (TokenReview),`,
    '    asks for runbook payments-health (auto-approved) and runs one of its steps, the only commands it may run:',
    `      mkdir -p ${bot} && test -f ${bot}/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f ${bot}/id_ed25519`,
    `      ${kubectl} --kubeconfig ${shown(stack.kube.kubeconfigPath)} create token ${INCIDENT_BOT_SA.name} ` +
      `-n ${INCIDENT_BOT_SA.namespace} --audience ${BROKER_TOKEN_AUDIENCE} > ${bot}/token`,
    `      ${botConfig} ${login} --service-account-token ${bot}/token`,
    `      ${botConfig} npx airlock request --runbook payments-health --profile oncall-debug --cluster ${DEV_CLUSTER} ` +
      `--namespace ${DEMO_NAMESPACE} --pod 'payments-*' --ttl 10m --reason 'health snapshot' --key ${bot}/id_ed25519.pub`,
    `      ${botConfig} npx airlock cert ID`,
    `      ${sshF} airlock-runbook exec payments/payments-api-0 -- ps aux`,
    '',
    ` 8. An interactive shell, recorded: the demo profile ${DEMO_SHELL_PROFILE} (${shown(stack.policyPath)}; not in`,
    '    docs/policy.example.json) allows /bin/sh in a payments pod, approved by a lead (signed in at step 5);',
    '    its certificate permits a pty, and the mediator records what the terminal shows:',
    `      ${oncall} npx airlock request --profile ${DEMO_SHELL_PROFILE} --cluster ${DEV_CLUSTER} --namespace ${DEMO_NAMESPACE} ` +
      `--pod 'payments-*' --ttl 10m --reason 'look around in the api pod' --key ${key('oncall')}`,
    `      ${lead} npx airlock approve ID`,
    `      ${oncall} npx airlock cert ID`,
    `      ${sshF} -t airlock shell payments/payments-api-0      # type a command or two, then exit`,
    `      ${sshF} -t airlock      # the prompt: Tab completes commands and pod names; exit leaves`,
    `      npx airlock audit play "$(ls -t ${shown(stack.recordingsDir)}/*.cast | head -1)"      # the shell, replayed`,
    '',
    stack.kube.external
      ? `Logs: ${shown(state)}/*.log. Ctrl-C stops airlock (your cluster keeps running); then ` +
        `\`npx airlock dev down${stateFlag}\` deletes what dev up created in the cluster and removes ${shown(state)}.`
      : `Logs: ${shown(state)}/*.log. Ctrl-C stops everything; then \`npx airlock dev down${stateFlag}\` removes ${shown(state)}.`,
    '',
  ].join('\n');
}

/** `dev up` flags beyond the state dir. */
interface DevUpOptions {
  /** An existing cluster instead of the hermetic one. */
  kubeconfig?: string;
  /** Pin the demo pods to this node (an existing cluster without a scheduler). */
  node?: string;
}

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

/**
 * `dev down`: once nothing `dev up` started from the state dir runs, deletes
 * what it created in an existing cluster (never the cluster itself), then
 * removes the state dir. If the cluster cannot be reached the state dir
 * stays, so a later `dev down` can finish.
 */
async function runDevDown(stateDir: string): Promise<void> {
  if (!existsSync(stateDir)) {
    process.stderr.write(`${stateDir} does not exist; nothing to remove\n`);
    return;
  }
  const record = readRecord(stateDir);
  const alive = record ? [record.pid, ...record.pids].filter(running) : [];
  if (alive.length > 0) {
    throw new AirlockError(
      'USAGE',
      `airlock dev up is still running from ${stateDir} (pid ${record!.pid}; live: ${alive.join(', ')}); ` +
        `stop it with Ctrl-C or kill ${record!.pid}, then run dev down again`,
    );
  }
  const ledger = readLedger(stateDir);
  if (ledger) {
    const deleted = await deleteCreatedObjects(ledger);
    process.stderr.write(
      `deleted ${deleted} object(s) dev up created in ${ledger.server} (the cluster itself keeps running)\n`,
    );
  }
  rmSync(stateDir, { recursive: true, force: true });
  process.stderr.write(`removed ${stateDir}\n`);
}

/**
 * `dev approve-login`: what the demo login page does, from a terminal. It
 * posts the page's form to the running provider over HTTPS; the broker
 * still verifies the resulting ID token like any issuer's.
 */
async function runApproveLogin(stateDir: string, user: string, code: string): Promise<void> {
  const record = readRecord(stateDir);
  if (!record || !running(record.pid)) {
    throw new AirlockError('USAGE', `airlock dev up is not running from ${stateDir}`);
  }
  const answer = await httpsCall(`${record.issuer}/device`, {
    method: 'POST',
    ca: readFileSync(record.brokerCa, 'utf8'),
    form: { user_code: code, user },
  });
  if (answer.status !== 200) {
    const reason = (/<p>([^<]*)<\/p>/.exec(answer.text ?? '')?.[1] ?? `HTTP ${answer.status}`).replaceAll(
      '&quot;',
      '"',
    );
    // The command line was right; the code is spent (redeemed, denied or expired): a refusal, not USAGE.
    if (reason.startsWith('no pending device authorization')) {
      throw new AirlockError(
        'AUTH_INVALID',
        `${reason} (it was used, denied or has expired); run airlock login again for a new code`,
      );
    }
    throw new AirlockError('USAGE', reason);
  }
  process.stderr.write(`approved ${code} as ${user}; airlock login completes within a few seconds\n`);
}

export function registerDevCommands(program: Command): void {
  const dev = program
    .command('dev')
    .description('Run airlock locally: the hermetic cluster, or the whole gateway (dev up)');

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

  registerDevImagesCommand(dev);

  dev
    .command('down')
    .summary('Remove what dev up created')
    .description(
      'Remove the dev up state directory (CAs, keys, cluster data, audit trails). Refuses while the ' +
        '`dev up` that uses it, or any process it started, still runs. After `dev up --kubeconfig`, first ' +
        'deletes from that cluster every object dev up created there (never the cluster, never objects ' +
        'that existed before); if the cluster cannot be reached it stops and keeps the state dir.',
    )
    .option('--state-dir <dir>', 'state directory', join(repoRoot(), '.airlock', 'dev'))
    .action(async (opts: { stateDir: string }) => {
      await runDevDown(resolve(opts.stateDir));
    });

  dev
    .command('approve-login <code>')
    .summary('Dev only: approve a login as a demo user')
    .description(
      'Dev only: approve an `airlock login` device code as a demo user of the running `dev up` ' +
        'identity provider (what its demo login page does). Demo users: oncall, lead.',
    )
    .requiredOption('--user <name>', 'demo user to sign in as')
    .option('--state-dir <dir>', 'state directory', join(repoRoot(), '.airlock', 'dev'))
    .action(async (code: string, opts: { stateDir: string; user: string }) => {
      await runApproveLogin(resolve(opts.stateDir), opts.user, code);
    });

  dev.action(() => {
    throw new AirlockError(
      'USAGE',
      'choose a subcommand: airlock dev cluster | up | down | approve-login | images (see --help)',
    );
  });
}
