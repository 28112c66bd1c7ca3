/**
 * The broker's client commands: `airlock login | request | approve | deny |
 * cert | status | revoke`. This file registers them with commander and runs
 * each with its `--output`; the work is in files by concern:
 *
 * - broker-client-io.ts: what the commands touch (output, files, time), the
 *   connection options and the `--output` format;
 * - token-cache.ts: the cached login at ~/.config/airlock/token.json (0600);
 * - broker-api.ts: the broker's HTTPS JSON API with the cached token;
 * - login.ts and device-flow-login.ts: `login` by the OAuth 2.0 Device
 *   Authorization Grant (RFC 8628), the authorization code flow with PKCE
 *   (oidc-auth-code.ts) or a ServiceAccount token; the ID token's signature,
 *   issuer and audience are verified before it is cached;
 * - request-commands.ts: `request`, `approve | deny | revoke`, `status`;
 * - cert-command.ts: `cert`, which writes the certificate next to the key;
 * - request-view.ts: how requests and ssh commands are rendered.
 *
 * The private SSH key never leaves this machine: requests carry the public
 * key, `cert` writes the certificate next to it.
 */

import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import {
  type BrokerClientIo,
  type OutputFormat,
  parseOutputFormat,
  processBrokerClientIo,
} from './broker-client-io.js';
import { type CertOptions, runCert } from './cert-command.js';
import { type LoginOptions, runLogin } from './login.js';
import { collect } from './repeatable.js';
import {
  type DecisionOptions,
  type RequestOptions,
  runDecision,
  runRequest,
  runStatus,
  type StatusOptions,
} from './request-commands.js';
import { SSH_HOST_PLACEHOLDER } from './request-view.js';

/** Exit statuses of services/cli/main.ts (`EXIT`): a USAGE error exits 2, any other refusal 1. */
const EXIT_REFUSED = 1;
const EXIT_USAGE = 2;

/**
 * Runs one command's action with its `--output`. An invalid value is a USAGE
 * error in the text form (the format is unknown); main.ts prints it and
 * exits 2. With `json`, an error is one `{"code","message"}` line on stderr
 * and the exit status text mode would give; the stack never reaches the user.
 */
async function runWithOutput(
  io: BrokerClientIo,
  output: string | undefined,
  action: (output: OutputFormat) => Promise<number>,
): Promise<number> {
  const format = parseOutputFormat(output);
  try {
    return await action(format);
  } catch (error) {
    if (format !== 'json') throw error;
    const e =
      error instanceof AirlockError
        ? error
        : new AirlockError('INTERNAL', error instanceof Error ? error.message : String(error));
    io.err(`${JSON.stringify({ code: e.code, message: e.message })}\n`);
    return e.code === 'USAGE' ? EXIT_USAGE : EXIT_REFUSED;
  }
}

function connection(command: Command): Command {
  return command
    .option('--broker <url>', 'broker URL (default: from the last airlock login)')
    .option('--ca <file>', 'PEM CA bundle trusted for the broker (default: from the last airlock login)')
    .option(
      '-o, --output <text|json>',
      'text, or one JSON document on stdout (errors: {code, message} on stderr)',
      'text',
    );
}

/** What commander hands an action: `--output` is not checked yet. */
type Raw<T> = Omit<T, 'output'> & { output?: string };

/** Runs one command's action with a fresh io and the checked `--output`, and sets the exit status. */
type Act = (
  output: string | undefined,
  action: (client: BrokerClientIo, output: OutputFormat) => Promise<number>,
) => Promise<void>;

/** Registers the broker client commands. */
export function registerBrokerClientCommands(
  program: Command,
  io: () => BrokerClientIo = processBrokerClientIo,
): void {
  const set = (status: number) => {
    process.exitCode = status;
  };
  const act: Act = async (output, action) => {
    const current = io();
    set(await runWithOutput(current, output, (format) => action(current, format)));
  };
  registerLogin(program, act);
  registerRequest(program, act);
  registerDecisions(program, act);
  registerCert(program, act);
  registerStatus(program, act);
}

/** Registers `airlock login`. */
function registerLogin(program: Command, act: Act): void {
  connection(
    program
      .command('login')
      .description(
        'Sign in with your identity provider (OAuth device flow, or auth code + PKCE on 127.0.0.1) and cache the ID token at ~/.config/airlock/token.json (mode 0600)',
      ),
  )
    .option('--issuer-ca <file>', 'PEM CA bundle trusted for the identity provider (default: --ca)')
    .option(
      '--flow <device|auth-code>',
      'device code, or authorization code + PKCE with a redirect to 127.0.0.1 (default: device when the provider offers it)',
    )
    .option('--open-browser', 'auth-code flow: open the sign-in URL in a browser (default: only print it)')
    .option('--timeout <seconds>', 'auth-code flow: how long to wait for the browser', '300')
    .option(
      '--service-account-token <file>',
      'sign in as a machine (a runbook): the Kubernetes ServiceAccount token in FILE (projected, or from kubectl create token --audience airlock-broker), checked by the broker with a TokenReview; each command reads FILE again',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  airlock login --broker https://airlock.example.com --ca broker-ca.pem\n' +
        '  airlock login --flow auth-code --open-browser\n' +
        '  airlock login --broker https://airlock.example.com --ca broker-ca.pem \\\n' +
        '    --service-account-token /var/run/secrets/airlock/token',
    )
    .action((options: Raw<LoginOptions> & { timeout?: string }) =>
      act(options.output, (client, output) => {
        const timeoutSeconds = Number(options.timeout ?? '300');
        if (!Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0) {
          throw new AirlockError('USAGE', `--timeout ${options.timeout} is not a positive number of seconds`);
        }
        return runLogin({ ...options, output, timeoutSeconds }, client);
      }),
    );
}

/** Registers `airlock request`. */
function registerRequest(program: Command, act: Act): void {
  connection(
    program
      .command('request')
      .description('Ask for temporary, scoped access; prints the request and its decision'),
  )
    .requiredOption('--profile <name>', 'policy profile')
    .requiredOption('--cluster <name>', 'cluster')
    .requiredOption('--namespace <name>', 'namespace')
    .requiredOption('--pod <pattern>', 'pod name pattern (repeatable)', collect, [])
    .requiredOption('--ttl <duration>', 'how long, e.g. 30m, 1h, 900')
    .requiredOption('--reason <text>', 'why (an incident reference may allow auto-approval)')
    .option('--key <file>', 'your SSH public key', '~/.ssh/id_ed25519.pub')
    .option(
      '--container <pattern>',
      'container name pattern for -c (repeatable; default: every container)',
      collect,
      [],
    )
    .option('--runbook <name>', 'request a pre-approved runbook (the session may then exec only its steps)')
    .option(
      '--moderate',
      "ask for the profile's moderator role: join and moderate its sessions (ssh gw sessions, ssh -t gw join ID)",
    )
    .option('--observe', "ask for the profile's observer role: join and watch its sessions, read-only")
    .option('--json', 'same as --output json')
    .addHelpText(
      'after',
      '\nExample:\n  airlock request --profile oncall-debug --cluster prod-eu --namespace payments \\\n' +
        '    --pod "payments-api-*" --ttl 30m --reason "INC-1234 checkout latency"',
    )
    .action((options: Raw<RequestOptions>) =>
      act(options.json ? 'json' : options.output, (client, output) =>
        runRequest({ ...options, output }, client),
      ),
    );
}

/** Registers `airlock approve | deny | revoke`. */
function registerDecisions(program: Command, act: Act): void {
  for (const action of ['approve', 'deny'] as const) {
    connection(
      program
        .command(`${action} <id>`)
        .description(
          action === 'approve'
            ? "Approve someone else's pending request"
            : 'Deny a pending request (or withdraw your own)',
        ),
    )
      .option('--comment <text>', 'recorded in the audit trail')
      .action((id: string, options: Raw<DecisionOptions>) =>
        act(options.output, (client, output) => runDecision(action, id, { ...options, output }, client)),
      );
  }
  connection(
    program
      .command('revoke <id>')
      .description('Revoke granted access: its certificate goes on the deny list at once'),
  )
    .option('--comment <text>', 'recorded in the audit trail')
    .action((id: string, options: Raw<DecisionOptions>) =>
      act(options.output, (client, output) => runDecision('revoke', id, { ...options, output }, client)),
    );
}

/** Registers `airlock cert`. */
function registerCert(program: Command, act: Act): void {
  connection(
    program
      .command('cert <id>')
      .description('Fetch the SSH certificate of an approved request and write it next to your key'),
  )
    .option(
      '--key <file>',
      'the public key the request was made with (default: the one `airlock request` used, else ~/.ssh/id_ed25519.pub); refused unless the certificate certifies it',
    )
    .option('--out <file>', 'where to write the certificate (default: <key>-cert.pub)')
    .option(
      '--ssh-host <host>',
      `the airlock SSH gateway's host, for the printed ssh command (default: ${SSH_HOST_PLACEHOLDER})`,
    )
    .option(
      '--host-ca <file>',
      'the airlock host CA public key (old and new during a rotation): write "@cert-authority" into the airlock known_hosts and an ' +
        'ssh_config entry using it (in the airlock config directory, never ~/.ssh); needs --ssh-host or --door',
    )
    .option(
      '--host-alias <name>',
      "the name the mediator's host certificate lists (ssh HostKeyAlias; default: --ssh-host)",
    )
    .option(
      '--door <host[:port]>',
      'the airlock jump door: write an ssh_config entry (Host <request-id>, ProxyJump through the door) for stock ssh, ' +
        'and a known_hosts that accepts only a mediator certified by the airlock host CA for this request ' +
        '(the key the broker sends, or --host-ca)',
    )
    .option(
      '--ssh-config <file>',
      'where --door writes the entry (default: <config dir>/ssh/<request-id>.conf)',
    )
    .action((id: string, options: Raw<CertOptions>) =>
      act(options.output, (client, output) => runCert(id, { ...options, output }, client)),
    );
}

/** Registers `airlock status`. */
function registerStatus(program: Command, act: Act): void {
  connection(
    program
      .command('status [id]')
      .description('Show one request, your requests, or (--pending) those waiting for you'),
  )
    .option('--pending', 'requests you may approve')
    .option('--json', 'same as --output json')
    .action((id: string | undefined, options: Raw<StatusOptions>) =>
      act(options.json ? 'json' : options.output, (client, output) =>
        runStatus(id, { ...options, output }, client),
      ),
    );
}
