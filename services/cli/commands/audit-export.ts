/**
 * `airlock audit export`: one reviewer bundle (a ustar archive) holding the
 * trails as they are, the public keys, every witnessed checkpoint head, the
 * relevant slice of the Kubernetes audit log, and the verify report (each
 * trail verified, the witnessed heads cross-checked, the reconcile result).
 * The reviewer re-runs `airlock audit verify` on the extracted files; the
 * report records what this run found.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import {
  type AuditTrailSource,
  checkWitnessedHeads,
  parseAirlockPodActions,
  parseKubeAuditSlice,
  reconcile,
  verifyAuditTrail,
  WITNESS_EVENT,
} from '../../core/audit/index.js';
import { type TarFile, writeTar } from '../../core/audit/tar-writer.js';
import { AirlockError } from '../../core/errors.js';
import { IMPERSONATION_EXTRA } from '../../core/policy/kube-impersonation.js';
import { loadAuditPublicKey, withTrailFiles } from './audit-verify-witness.js';
import { collect } from './repeatable.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

export interface AuditExportCliOptions {
  readonly out: string;
  /** One trail per value: its files comma-separated, oldest first. */
  readonly trail: readonly string[];
  readonly publicKey: readonly string[];
  readonly kubeAudit?: readonly string[];
  readonly namespace?: readonly string[];
}

export interface AuditExportIo extends CliIo {
  writeFile(path: string, data: Uint8Array): Promise<void>;
}

async function read(io: CliIo, path: string, what: string): Promise<Buffer> {
  try {
    return Buffer.from(await io.readFile(path));
  } catch (cause) {
    throw new AirlockError('USAGE', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

const processExportIo: AuditExportIo = {
  ...processCliIo,
  // wx: never overwrite an earlier bundle.
  writeFile: (path, data) => writeFile(path, data, { flag: 'wx', mode: 0o600 }),
};

/** Lines of the Kubernetes audit log a reviewer needs: airlock's own requests and every request into a pod. */
function kubeSlice(content: string, namespaces: readonly string[]): string {
  const sessionKey = JSON.stringify(IMPERSONATION_EXTRA.sessionId);
  const podAccess = /"subresource":"(exec|attach|portforward|ephemeralcontainers)"/;
  return content
    .split('\n')
    .filter((line) => {
      if (line.includes(sessionKey)) return true;
      if (!podAccess.test(line)) return false;
      try {
        const ns = (JSON.parse(line) as { objectRef?: { namespace?: string } }).objectRef?.namespace ?? '';
        return namespaces.length === 0 || namespaces.includes(ns);
      } catch {
        return false;
      }
    })
    .map((line) => `${line}\n`)
    .join('');
}

/** Writes the bundle; returns 0 when every check in the report passed, 1 when not (the bundle is written either way). */
export async function runAuditExport(
  options: AuditExportCliOptions,
  io: AuditExportIo = processExportIo,
): Promise<number> {
  const trails = withTrailFiles(options.trail);
  if (trails.length === 0) throw new AirlockError('USAGE', 'name at least one --trail');
  if (options.publicKey.length === 0) throw new AirlockError('USAGE', '--public-key is required');
  const files: TarFile[] = [];
  const keys: KeyObject[] = [];
  for (const path of options.publicKey) {
    const bytes = await read(io, path, '--public-key');
    keys.push(loadAuditPublicKey(path, bytes));
    files.push({ name: `keys/${basename(path)}`, content: bytes });
  }
  const trailSources: AuditTrailSource[][] = [];
  for (const trail of trails) {
    const sources: AuditTrailSource[] = [];
    for (const path of trail) {
      const content = await read(io, path, 'trail');
      sources.push({ name: path, content });
      files.push({ name: `trails/${basename(path)}`, content });
    }
    trailSources.push(sources);
  }
  const verified = trailSources.map((sources) => ({
    files: sources.map((s) => s.name),
    ...verifyAuditTrail(sources, { publicKeys: keys }),
  }));
  const witness = checkWitnessedHeads(
    trailSources.map((sources) => ({ name: sources.map((s) => s.name).join(','), sources })),
    keys,
  );
  const heads = trailSources.flatMap((sources) =>
    sources.flatMap((s) =>
      Buffer.from(s.content)
        .toString('utf8')
        .split('\n')
        .flatMap((line, i) =>
          line.includes(`"event":"${WITNESS_EVENT}"`)
            ? [{ file: s.name, line: i + 1, record: JSON.parse(line) }]
            : [],
        ),
    ),
  );
  files.push({ name: 'witnessed-heads.json', content: `${JSON.stringify(heads, null, 2)}\n` });
  let reconciled: ReturnType<typeof reconcile> | undefined;
  const kubeParts: string[] = [];
  const slices = [];
  for (const path of options.kubeAudit ?? []) {
    const content = (await read(io, path, '--kube-audit')).toString('utf8');
    slices.push(parseKubeAuditSlice(path, content));
    kubeParts.push(kubeSlice(content, options.namespace ?? []));
  }
  if (slices.length > 0) {
    const actions = trailSources
      .flat()
      .flatMap((s) => parseAirlockPodActions(s.name, Buffer.from(s.content).toString('utf8')));
    reconciled = reconcile(slices, actions, options.namespace ?? []);
    files.push({ name: 'kube-audit-slice.jsonl', content: kubeParts.join('') });
  }
  const ok = verified.every((v) => v.ok) && witness.problems.length === 0 && (reconciled?.ok ?? true);
  const report = {
    ok,
    createdAt: io.now().toISOString(),
    trails: verified,
    witness,
    reconcile: reconciled ?? null,
  };
  files.push({ name: 'verify-report.json', content: `${JSON.stringify(report, null, 2)}\n` });
  const sums = files
    .map((f) => `${createHash('sha256').update(f.content).digest('hex')}  ${f.name}\n`)
    .join('');
  files.unshift({ name: 'SHA256SUMS', content: sums });
  await io.writeFile(options.out, writeTar(files, Math.floor(io.now().getTime() / 1000)));
  io.out(
    `${ok ? 'OK' : 'FAILED'}: wrote ${options.out} (${files.length} files); report: verify-report.json\n`,
  );
  if (!ok) io.err("airlock: AUDIT_TAMPERED: the bundle's verify report lists problems\n");
  return ok ? 0 : 1;
}

export function registerAuditExportCommand(audit: Command): void {
  audit
    .command('export')
    .description(
      'Write one reviewer bundle (a tar archive): the trails as they are, the public keys, every witnessed ' +
        'checkpoint head, the Kubernetes audit log lines about airlock sessions and pod access, and the verify ' +
        'report (each trail, witnessed heads, reconcile), with SHA256SUMS. Never overwrites OUT. Exit 0 when ' +
        'the report is clean, 1 when it lists problems (the bundle is still written), 2 on usage errors.',
    )
    .requiredOption('--out <file>', 'the archive to create (.tar)')
    .option('--trail <files>', 'one trail: its files comma-separated, oldest first (repeatable)', collect, [])
    .option('--public-key <file>', 'PEM Ed25519 public key trusted for checkpoints (repeatable)', collect, [])
    .option('--kube-audit <file>', 'Kubernetes audit log, JSON lines (repeatable)', collect, [])
    .option('--namespace <ns>', 'a namespace airlock governs (repeatable)', collect, [])
    .addHelpText(
      'after',
      '\nExample:\n  airlock audit export --out review-2026-11.tar --trail executor.jsonl --trail mediator.jsonl \\\n' +
        '      --trail broker.jsonl --public-key executor.pub --public-key mediator.pub --public-key broker.pub \\\n' +
        '      --kube-audit /var/log/kubernetes/audit.log --namespace payments',
    )
    .action(async (options: AuditExportCliOptions) => {
      process.exitCode = await runAuditExport(options);
    });
}
