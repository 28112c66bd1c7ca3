/**
 * `airlock audit reconcile`: the Kubernetes audit log against the airlock
 * trails (services/core/audit/reconcile.ts). Exit 0 when every pod exec,
 * attach, port-forward and ephemeral-container request in the governed
 * namespaces belongs to an airlock action and every action reached the API
 * server; 1 with each orphan listed (AUDIT_ORPHAN); 2 on usage errors.
 */
import { type Command, Option } from 'commander';
import {
  type AirlockPodAction,
  type KubeAuditSlice,
  type KubePodAccess,
  parseAirlockPodActions,
  parseKubeAuditSlice,
  type ReconcileResult,
  reconcile,
  terminalSafe,
} from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { collect } from './repeatable.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

export interface AuditReconcileCliOptions {
  readonly kubeAudit: readonly string[];
  readonly trails: readonly string[];
  readonly namespace?: readonly string[];
  readonly output?: 'text' | 'json';
}

async function readText(io: CliIo, path: string, what: string): Promise<string> {
  try {
    return Buffer.from(await io.readFile(path)).toString('utf8');
  } catch (cause) {
    throw new AirlockError('USAGE', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Reads the inputs and reconciles them (also used by `audit export`). */
export async function reconcileFiles(
  options: AuditReconcileCliOptions,
  io: CliIo,
): Promise<{ result: ReconcileResult; slices: KubeAuditSlice[] }> {
  if (options.kubeAudit.length === 0)
    throw new AirlockError('USAGE', 'name the Kubernetes audit log: --kube-audit FILE');
  if (options.trails.length === 0)
    throw new AirlockError('USAGE', 'name the airlock trails: --trails FILE...');
  const slices: KubeAuditSlice[] = [];
  for (const path of options.kubeAudit)
    slices.push(parseKubeAuditSlice(path, await readText(io, path, '--kube-audit')));
  const actions: AirlockPodAction[] = [];
  for (const path of options.trails)
    actions.push(...parseAirlockPodActions(path, await readText(io, path, 'trail')));
  return { result: reconcile(slices, actions, options.namespace ?? []), slices };
}

function kubeLine(a: KubePodAccess): string {
  const who = a.impersonated === undefined ? a.user : `${a.user} as ${a.impersonated}`;
  const session = a.sessionId === undefined ? 'no airlock session' : `session ${a.sessionId}`;
  return terminalSafe(
    `${a.source.file}:${a.source.line}: kubernetes orphan: ${a.time} ${a.verb} pods/${a.subresource} ` +
      `${a.namespace}/${a.pod} by ${who} (${session}, auditID ${a.auditId}, status ${a.status ?? '-'}) ` +
      'has no authorized airlock action [AUDIT_ORPHAN]',
  );
}

function airlockLine(a: AirlockPodAction): string {
  return terminalSafe(
    `${a.source.file}:${a.source.line}: airlock orphan: ${a.time} ${a.event} ${a.namespace}/${a.pod} ` +
      `(session ${a.sessionId}, user ${a.user ?? '-'}) was never seen by the API server [AUDIT_ORPHAN]`,
  );
}

export async function runAuditReconcile(
  options: AuditReconcileCliOptions,
  io: CliIo = processCliIo,
): Promise<number> {
  const output = options.output ?? 'text';
  if (output !== 'text' && output !== 'json')
    throw new AirlockError('USAGE', `--output must be text or json, not ${String(output)}`);
  const { result } = await reconcileFiles(options, io);
  if (output === 'json') io.out(`${JSON.stringify(result)}\n`);
  else {
    for (const a of result.kubeOrphans) io.out(`${kubeLine(a)}\n`);
    for (const a of result.airlockOrphans) io.out(`${airlockLine(a)}\n`);
    io.out(
      `${result.ok ? 'OK' : 'FAILED'}: ${result.matched} Kubernetes pod accesses matched, ` +
        `${result.kubeOrphans.length} without airlock, ${result.airlockOrphans.length} airlock actions unseen ` +
        `(namespaces: ${result.namespaces.join(', ') || 'none'})\n`,
    );
  }
  if (result.ok) return 0;
  const count = result.kubeOrphans.length + result.airlockOrphans.length;
  io.err(`airlock: AUDIT_ORPHAN: ${count} orphan${count === 1 ? '' : 's'}\n`);
  return 1;
}

export function registerAuditReconcileCommand(audit: Command): void {
  audit
    .command('reconcile')
    .description(
      'Hold the Kubernetes API server audit log against the airlock trails: list every pods/exec, ' +
        'pods/attach, pods/portforward and pods/ephemeralcontainers request in the governed namespaces without ' +
        'an authorized airlock action (matched by the airlock.dev/session-id and trace-id impersonation extras, ' +
        'pod and kind), and every airlock action the API server never recorded. Exit 0, 1 on any orphan ' +
        '(AUDIT_ORPHAN), 2 on usage errors. Verify the trails first (airlock audit verify).',
    )
    .option('--kube-audit <file>', 'Kubernetes audit log, JSON lines (repeatable)', collect, [])
    .option('--trails <files...>', 'airlock trail files (the executor trail holds the actions)')
    .option(
      '--namespace <ns>',
      'a namespace airlock governs (repeatable); default: every namespace an airlock action names',
      collect,
      [],
    )
    .addOption(new Option('--output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExample:\n  airlock audit reconcile --kube-audit /var/log/kubernetes/audit.log \\\n' +
        '      --trails executor.jsonl.* executor.jsonl --namespace payments',
    )
    .action(async (options: AuditReconcileCliOptions & { trails?: string[] }) => {
      process.exitCode = await runAuditReconcile({ ...options, trails: options.trails ?? [] });
    });
}
