/**
 * `airlock audit` and its subcommands, each in its own file: `verify` checks
 * one tier's hash-chained, checkpoint-signed audit trail (services/core/audit,
 * docs/audit.md); `keygen` creates the Ed25519 key pair a tier signs its
 * checkpoints with; `timeline` merges the tiers' trails and the Kubernetes
 * audit log into one story; `play` replays a session recording; `collect`,
 * `reconcile` and `export` gather, cross-check and package the trails.
 */
import type { Command } from 'commander';
import { registerAuditCollect } from './audit-collect.js';
import { registerAuditExportCommand } from './audit-export.js';
import { registerAuditKeygenCommand } from './audit-keygen.js';
import { registerAuditPlayCommand } from './audit-play.js';
import { registerAuditReconcileCommand } from './audit-reconcile.js';
import { registerAuditTimelineCommand } from './audit-timeline.js';
import { registerAuditVerifyCommand } from './audit-verify.js';

/** Registers `airlock audit` and its subcommands, in the order `airlock audit --help` lists them. */
export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description(
      'Verify tier audit trails, create their checkpoint-signing keys, show a session timeline across tiers ' +
        'and replay session recordings (docs/audit.md)',
    );
  registerAuditVerifyCommand(audit);
  registerAuditCollect(audit);
  registerAuditKeygenCommand(audit);
  registerAuditTimelineCommand(audit);
  registerAuditReconcileCommand(audit);
  registerAuditExportCommand(audit);
  registerAuditPlayCommand(audit);
}
