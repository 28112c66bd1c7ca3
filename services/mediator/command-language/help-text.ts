/**
 * Help for the mediator's commands, built from the command catalogue so the
 * help cannot list a flag the parser does not know.
 */

import {
  COMMAND_NAMES,
  COMMAND_SPECS,
  type CommandName,
  resolveCommandName,
  suggestCommandName,
} from '../../core/command-language/commands.js';
import { sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import { AirlockError } from '../../core/errors.js';

/**
 * Port-forwarding is an SSH channel (RFC 4254 section 7.2, `direct-tcpip`),
 * not a command: `ssh -L` names the pod as the destination host.
 */
export const FORWARD_EXPLANATION = [
  'Port-forwarding is not a command: ask ssh for it with -L, naming the pod as POD.NAMESPACE:',
  '',
  '  ssh -N -L 8080:api-0.payments:8080 gw',
  '',
  'then connect to localhost:8080. -N runs no command; the forward lasts until you press Ctrl-C',
  'or the session expires. The port must be one your profile allows (port-forward).',
].join('\n');

const GLOBAL_FLAGS = [
  '  -o, --output json|text   machine-readable output (any command, before any --)',
  '                           over ssh after the command: ssh gw pods -o json',
  '                           (ssh reads a -o before the command as its own option)',
].join('\n');

function commandHelp(name: CommandName): string {
  const spec = COMMAND_SPECS[name];
  const lines = [`usage: ${spec.usage}`, '', spec.summary];
  if (name === 'forward') lines.push('', FORWARD_EXPLANATION);
  if (spec.examples.length > 0 && name !== 'forward') {
    lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  }
  if (name !== 'help' && name !== 'exit' && name !== 'forward') {
    lines.push(
      '',
      `-o json|text after the command (before any --) prints JSON instead of text: ssh gw ${name} -o json`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function overview(): string {
  const width = Math.max(...COMMAND_NAMES.map((n) => COMMAND_SPECS[n].usage.length));
  const lines = [
    'airlock: just-in-time, audited access to Kubernetes. Commands (ssh gw COMMAND, or type them here):',
    '',
    ...COMMAND_NAMES.map((n) => `  ${COMMAND_SPECS[n].usage.padEnd(width)}`.trimEnd()),
    '',
    'flags:',
    GLOBAL_FLAGS,
    '',
    'A pod is POD (in your session namespace) or NAMESPACE/POD. Words are split like a shell does',
    '(\'quotes\', "quotes", \\escapes) but nothing is expanded and there are no pipes or redirections.',
    'ssh joins its arguments with spaces, so quote the whole command once more for your local shell:',
    `  ssh gw "exec api-0 -- grep 'a|b' /etc/app.conf"`,
    '',
    'examples:',
    '  ssh gw pods',
    '  ssh gw logs payments/api-0 -f --since 5m',
    '  ssh gw exec payments/api-0 -- ps aux',
    '  ssh -t gw shell payments/api-0',
    '  ssh -N -L 8080:api-0.payments:8080 gw      (port-forwarding; see help forward)',
    '',
    'Four-eyes sessions, with a moderator certificate (airlock request --moderate;',
    '--observe to only watch):',
    '  ssh gw sessions                            (live sessions you may moderate or watch)',
    '  ssh -t gw join SESSION_ID                  (y | n | terminate REASON | leave; observers: leave)',
    '',
    "'help COMMAND' shows one command in detail.",
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The help for all commands, or for one (aliases such as `quit` accepted).
 * Throws AirlockError('USAGE') for a name that is not a command.
 */
export function helpText(command?: string): string {
  if (command === undefined) return overview();
  const name = resolveCommandName(command);
  if (name === undefined) {
    const meant = suggestCommandName(command);
    throw new AirlockError(
      'USAGE',
      `help: unknown command '${sanitizeForTerminal(command)}'${meant ? `; did you mean '${meant}'?` : ''}\n` +
        'usage: help [COMMAND]',
    );
  }
  return commandHelp(name);
}
