/**
 * The walkthrough `airlock dev up` prints once the gateway is up: every step
 * of the demo as commands to paste (test/support/walkthrough.ts runs them).
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import { repoRoot } from '../../core/repo/repo-root.js';
import { DEMO_SHELL_PROFILE } from '../dev/demo-policy.js';
import {
  BROKER_TOKEN_AUDIENCE,
  DEMO_NAMESPACE,
  DEV_CLUSTER,
  type DevGateway,
  INCIDENT_BOT_SA,
} from '../dev/dev-stack.js';

/** A path as the reader should type it: relative to the working directory when below it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Single-quotes a shell word when it needs it. */
function sh(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The pieces of command lines the steps share, as the reader types them. */
interface WalkthroughWords {
  readonly state: string;
  /** `ssh -F` with the dev ssh_config. */
  readonly sshF: string;
  /** `AIRLOCK_CONFIG_DIR=…` of the demo people oncall and lead. */
  readonly oncall: string;
  readonly lead: string;
  /** `npx airlock login` against the dev broker. */
  readonly login: string;
  /** ` --state-dir DIR` unless the state dir is the default one, else empty. */
  readonly stateFlag: string;
  /** oncall's public key. */
  readonly oncallKey: string;
  /** oncall's `airlock request` for the demo pods with this reason. */
  readonly request: (reason: string) => string;
  /** The tiers' trails (and the Kubernetes audit log when readable). */
  readonly audit: readonly string[];
  readonly kubectl: string;
  /** The incident bot's directory and its `AIRLOCK_CONFIG_DIR=…`. */
  readonly bot: string;
  readonly botConfig: string;
}

function walkthroughWords(stack: DevGateway): WalkthroughWords {
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
  return {
    state,
    sshF,
    oncall,
    lead,
    login,
    stateFlag,
    oncallKey: key('oncall'),
    request,
    audit,
    kubectl,
    bot,
    botConfig,
  };
}

/** The header and steps 1–6: sign in, request, certificate, use, approval by a lead, revocation. */
function requestSteps(stack: DevGateway, w: WalkthroughWords): string[] {
  const { state, sshF, oncall, lead, login, stateFlag, request } = w;
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
    `      npx airlock audit timeline --request ID --output html ${w.audit.join(' ')} > timeline.html`,
    '',
  ];
}

/** Step 7: the incident bot's ServiceAccount runs a runbook step. */
function runbookStep(stack: DevGateway, w: WalkthroughWords): string[] {
  const { sshF, login, kubectl, bot, botConfig } = w;
  return [
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
  ];
}

/** Step 8, a recorded interactive shell, and how to stop and clean up. */
function shellStepAndStop(stack: DevGateway, w: WalkthroughWords): string[] {
  const { state, sshF, oncall, lead, stateFlag } = w;
  return [
    ` 8. An interactive shell, recorded: the demo profile ${DEMO_SHELL_PROFILE} (${shown(stack.policyPath)}; not in`,
    '    docs/policy.example.json) allows /bin/sh in a payments pod, approved by a lead (signed in at step 5);',
    '    its certificate permits a pty, and the mediator records what the terminal shows:',
    `      ${oncall} npx airlock request --profile ${DEMO_SHELL_PROFILE} --cluster ${DEV_CLUSTER} --namespace ${DEMO_NAMESPACE} ` +
      `--pod 'payments-*' --ttl 10m --reason 'look around in the api pod' --key ${w.oncallKey}`,
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
  ];
}

/**
 * The walkthrough `dev up` prints: every command works as printed from the
 * directory `dev up` ran in (`npx airlock` is this checkout's CLI). ID and
 * CODE are what the previous command printed.
 */
export function walkthrough(stack: DevGateway): string {
  const words = walkthroughWords(stack);
  return [
    ...requestSteps(stack, words),
    ...runbookStep(stack, words),
    ...shellStepAndStop(stack, words),
  ].join('\n');
}
