/**
 * `airlock policy check | explain`: validate and lint a policy file, and show
 * the decision the policy makes for one user, scope and intent.
 *
 * Exit statuses: 0 valid / allowed, 1 invalid / denied / needs approval,
 * 2 usage error (thrown as AirlockError USAGE and mapped by main.ts).
 */
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { admissionStaleness } from '../../core/policy/admission-render.js';
import {
  type AuthorizeResult,
  authorizeIntent,
  decideRequest,
  effectiveMaxTtl,
  type Intent,
  lintPolicy,
  loadPolicy,
  type Policy,
  type PolicyError,
  RESOURCES,
  type RequestDecision,
  type Requester,
  type Resource,
  runbookScope,
  validatePolicy,
} from '../../core/policy/index.js';
import { registerPolicyAdmissionCommand } from './policy-admission.js';
import type { PolicyCommandIo } from './policy-command-io.js';
import { registerPolicyRbacCommand } from './policy-rbac.js';

/** What the policy commands need from the outside world; tests pass fakes. */
export type { PolicyCommandIo } from './policy-command-io.js';

const defaultIo: PolicyCommandIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  readFile: (path) => readFileSync(path, 'utf8'),
  now: () => new Date(),
};

function readPolicyText(io: PolicyCommandIo, file: string): string {
  try {
    return io.readFile(file);
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read policy file ${file}`, {
      detail: error instanceof Error ? error.message : String(error),
      cause: error,
    });
  }
}

type OutputFormat = 'text' | 'json';

function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');
}

interface CheckResult {
  readonly valid: boolean;
  readonly errors: readonly PolicyError[];
  readonly warnings: readonly PolicyError[];
}

/** Validates and lints policy text. */
export function checkPolicyText(text: string): CheckResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      valid: false,
      errors: [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }],
      warnings: [],
    };
  }
  const errors = validatePolicy(json);
  if (errors.length > 0) return { valid: false, errors, warnings: [] };
  return { valid: true, errors: [], warnings: lintPolicy(loadPolicy(json)) };
}

function runCheck(io: PolicyCommandIo, file: string, format: OutputFormat, admission?: string): void {
  const text = readPolicyText(io, file);
  const checked = checkPolicyText(text);
  // Deployed admission objects older than the policy file (docs/admission.md).
  const result =
    admission === undefined || !checked.valid
      ? checked
      : {
          ...checked,
          warnings: [...checked.warnings, ...admissionStaleness(text, readPolicyText(io, admission))],
        };
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const e of result.errors) io.stderr.write(`${file}: error: ${e.path}: ${e.message}\n`);
    for (const w of result.warnings) io.stdout.write(`${file}: warning: ${w.path}: ${w.message}\n`);
    const summary = result.valid
      ? `${file}: valid, ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'}\n`
      : `${file}: invalid, ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}\n`;
    (result.valid ? io.stdout : io.stderr).write(summary);
  }
  if (!result.valid) process.exitCode = 1;
}

/** Parses the intent operands after `--`: `exec POD -- ARGV...`, `logs POD`, ... */
export function parseIntentOperands(operands: readonly string[], namespace: string): Intent {
  const [verb, ...rest] = operands;
  const need = (n: number, usage: string) => {
    if (rest.length < n) throw new AirlockError('USAGE', `usage: ${usage}`);
  };
  const exact = (n: number, usage: string) => {
    if (rest.length !== n) throw new AirlockError('USAGE', `usage: ${usage}`);
  };
  switch (verb) {
    case 'exec': {
      need(2, 'exec POD -- ARGV...');
      const argv = rest[1] === '--' ? rest.slice(2) : rest.slice(1);
      return { action: 'exec', namespace, pod: rest[0]!, argv };
    }
    case 'shell': {
      need(1, 'shell POD [-- ARGV...]');
      const argv = rest[1] === '--' ? rest.slice(2) : rest.slice(1);
      return argv.length > 0
        ? { action: 'shell', namespace, pod: rest[0]!, argv, tty: true }
        : { action: 'shell', namespace, pod: rest[0]!, tty: true };
    }
    case 'logs':
      exact(1, 'logs POD');
      return { action: 'logs', namespace, pod: rest[0]! };
    case 'port-forward': {
      exact(2, 'port-forward POD PORT');
      const raw = rest[1]!;
      const port = /^[0-9]+$/.test(raw) ? Number(raw) : raw;
      return { action: 'port-forward', namespace, pod: rest[0]!, port };
    }
    case 'debug':
      exact(2, 'debug POD IMAGE');
      return { action: 'debug', namespace, pod: rest[0]!, image: rest[1]! };
    case 'list':
    case 'get': {
      need(1, `${verb} RESOURCE${verb === 'get' ? ' [NAME]' : ''}`);
      const resource = rest[0]!;
      if (!(RESOURCES as readonly string[]).includes(resource)) {
        throw new AirlockError('USAGE', `unknown resource ${resource}; one of ${RESOURCES.join(', ')}`);
      }
      if (verb === 'list') exact(1, 'list RESOURCE');
      else if (rest.length > 2) throw new AirlockError('USAGE', 'usage: get RESOURCE [NAME]');
      const pod = verb === 'get' && resource === 'pods' ? rest[1] : undefined;
      const intent: Intent = { action: verb, namespace, resource: resource as Resource };
      return pod === undefined ? intent : { ...intent, pod };
    }
    default:
      throw new AirlockError(
        'USAGE',
        `unknown intent ${verb ?? '(none)'}; one of exec, shell, logs, port-forward, debug, list, get`,
      );
  }
}

export interface Explanation {
  readonly decision: 'allow' | 'deny' | 'needs-approval';
  readonly code: string | null;
  readonly rule: string | null;
  readonly reason: string;
  readonly approvers?: RequestDecision['approvers'];
  readonly request: RequestDecision;
  readonly intent?: AuthorizeResult;
}

export interface ExplainInput {
  readonly requester: Requester;
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly podPatterns?: readonly string[];
  readonly ttlSeconds?: number;
  readonly reason: string;
  readonly runbook?: string;
  readonly intent: Intent;
}

/** Runs both stages, request then intent, and summarises the decision. */
export function explain(policy: Policy, input: ExplainInput, now: Date): Explanation {
  const profile = Object.hasOwn(policy.profiles, input.profile) ? policy.profiles[input.profile] : undefined;
  const podPatterns =
    input.podPatterns ??
    (input.intent.pod !== undefined ? [input.intent.pod] : (profile?.scope.pods ?? ['*']));
  const ttlSeconds = input.ttlSeconds ?? (profile ? Math.min(900, effectiveMaxTtl(policy, profile)) : 900);
  const requested = {
    profile: input.profile,
    cluster: input.cluster,
    namespace: input.namespace,
    podPatterns,
    ttlSeconds,
    reason: input.reason,
    ...(input.runbook === undefined ? {} : { runbook: input.runbook }),
  };
  const request = decideRequest(policy, input.requester, requested, now);
  if (request.decision === 'denied') {
    return {
      decision: 'deny',
      code: request.code ?? 'REQUEST_DENIED',
      rule: request.rule ?? null,
      reason: `request denied: ${request.reasons.join('; ')}`,
      request,
    };
  }
  // The session a certificate issued now would have: the runbook as the broker signs it.
  const { runbook: runbookName, ...session } = requested;
  const runbook =
    runbookName === undefined
      ? undefined
      : (runbookScope(policy, runbookName) ?? { name: runbookName, stepsDigest: '' });
  const intent = authorizeIntent(policy, { ...session, ...(runbook ? { runbook } : {}) }, input.intent);
  if (!intent.allow) {
    return {
      decision: 'deny',
      code: intent.code,
      rule: intent.rule ?? null,
      reason: intent.reason,
      request,
      intent,
    };
  }
  if (request.decision === 'needs-approval') {
    const a = request.approvers!;
    return {
      decision: 'needs-approval',
      code: null,
      rule: intent.rule,
      reason: `allowed by ${intent.rule} once ${a.count} approver${a.count === 1 ? '' : 's'} from ${a.groups.join(', ')} approve (${request.rule})`,
      approvers: a,
      request,
      intent,
    };
  }
  return {
    decision: 'allow',
    code: null,
    rule: intent.rule,
    reason: `request auto-approved by ${request.rule}; intent allowed by ${intent.rule}`,
    request,
    intent,
  };
}

function parseGroups(value: string): string[] {
  return value
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
}

interface ExplainOptions {
  user: string;
  groups: string;
  profile: string;
  namespace: string;
  cluster: string;
  kind: 'human' | 'machine';
  pods?: string;
  ttl?: string;
  reason: string;
  runbook?: string;
  at?: string;
  output: OutputFormat;
}

function runExplain(io: PolicyCommandIo, file: string, operands: string[], opts: ExplainOptions): void {
  const text = readPolicyText(io, file);
  const policy = loadPolicy(text);
  const intent = parseIntentOperands(operands, opts.namespace);
  let ttlSeconds: number | undefined;
  if (opts.ttl !== undefined) {
    if (!/^[0-9]+$/.test(opts.ttl)) throw new AirlockError('USAGE', '--ttl takes a whole number of seconds');
    ttlSeconds = Number(opts.ttl);
  }
  let now = io.now();
  if (opts.at !== undefined) {
    now = new Date(opts.at);
    if (Number.isNaN(now.getTime())) throw new AirlockError('USAGE', '--at takes an ISO 8601 date and time');
  }
  const input: ExplainInput = {
    requester: { user: opts.user, groups: parseGroups(opts.groups), kind: opts.kind },
    profile: opts.profile,
    cluster: opts.cluster,
    namespace: opts.namespace,
    reason: opts.reason,
    intent,
    ...(opts.pods === undefined ? {} : { podPatterns: parseGroups(opts.pods) }),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    ...(opts.runbook === undefined ? {} : { runbook: opts.runbook }),
  };
  const result = explain(policy, input, now);
  if (opts.output === 'json') {
    const out: Record<string, unknown> = {
      decision: result.decision,
      code: result.code,
      rule: result.rule,
      reason: result.reason,
    };
    if (result.approvers) out.approvers = result.approvers;
    io.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    io.stdout.write(`decision: ${result.decision}\n`);
    if (result.code) io.stdout.write(`code:     ${result.code}\n`);
    if (result.rule) io.stdout.write(`rule:     ${result.rule}\n`);
    io.stdout.write(`reason:   ${result.reason}\n`);
    if (result.request.reasons.length > 0 && result.request.decision !== 'auto-approved') {
      for (const r of result.request.reasons) io.stdout.write(`  - ${r}\n`);
    }
  }
  if (result.decision !== 'allow') process.exitCode = 1;
}

/** Adds `airlock policy` with `check` and `explain`. */
export function registerPolicyCommands(program: Command, io: PolicyCommandIo = defaultIo): void {
  const policy = program
    .command('policy')
    .description('Validate, lint and explain an airlock policy file (see docs/policy.md)');

  policy
    .command('check')
    .description(
      'Validate a policy file against the JSON Schema and the semantic rules, then lint it.\n' +
        'Errors are named by path and printed on stderr (exit 1); warnings are printed on stdout (exit 0).\n' +
        'Warnings include binaries that can spawn a shell or write files, and file readers (cat, head, grep, ...)\n' +
        'whose wildcard paths reach the ServiceAccount token or /proc/*/environ.',
    )
    .argument('<file>', 'policy JSON file')
    .addOption(outputOption())
    .option(
      '--admission <file>',
      'also warn when these rendered admission policies (airlock policy admission) are older than the policy',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  airlock policy check docs/policy.example.json\n  airlock policy check policy.json --output json\n' +
        '  airlock policy check policy.json --admission deploy/components/admission-policies/admission-policies.yaml',
    )
    .action((file: string, opts: { output: OutputFormat; admission?: string }) =>
      runCheck(io, file, opts.output, opts.admission),
    );

  policy
    .command('explain')
    .description(
      'Show the decision the policy makes for a user, a requested scope and one intent:\n' +
        'first the access request (auto-approved, needs approval or denied), then the intent itself.\n' +
        'Exit 0 when allowed, 1 when denied or approval is needed.',
    )
    .argument('<file>', 'policy JSON file')
    .argument(
      '<intent...>',
      'after "--": exec POD -- ARGV... | shell POD [-- ARGV...] | logs POD | port-forward POD PORT |\n' +
        'debug POD IMAGE | list RESOURCE | get RESOURCE [NAME]',
    )
    .requiredOption('--user <user>', 'requesting user name')
    .requiredOption('--groups <groups>', 'comma-separated groups of the user')
    .requiredOption('--profile <profile>', 'profile to request')
    .requiredOption('--namespace <namespace>', 'namespace of the requested scope')
    .option('--cluster <cluster>', 'cluster of the requested scope', 'dev')
    .addOption(new Option('--kind <kind>', 'requester kind').choices(['human', 'machine']).default('human'))
    .option('--pods <patterns>', 'comma-separated pod patterns to request (default: the intent pod)')
    .option('--ttl <seconds>', 'requested TTL in seconds (default: 900 or the profile bound if lower)')
    .option('--reason <reason>', 'reason given with the request', '')
    .option('--runbook <name>', 'request this runbook (the session may then exec only its steps)')
    .option('--at <iso-time>', 'evaluate at this time instead of now (business hours)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  airlock policy explain policy.json --user alice --groups payments-oncall --profile oncall-debug \\\n' +
        '    --namespace payments --reason "INC-1234 latency" -- exec payments-api-0 -- ps aux\n' +
        '  airlock policy explain policy.json --user bob --groups engineering --profile cluster-read \\\n' +
        '    --namespace default --output json -- list nodes',
    )
    .action((file: string, operands: string[], opts: ExplainOptions) => runExplain(io, file, operands, opts));

  registerPolicyRbacCommand(policy, io, (file) => readPolicyText(io, file));
  registerPolicyAdmissionCommand(policy, io, (file) => readPolicyText(io, file));
}
