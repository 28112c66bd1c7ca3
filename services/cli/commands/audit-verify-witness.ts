/**
 * `airlock audit verify --with-trail`: the other tiers' trails, verified too,
 * and every witnessed checkpoint head in any of the trails held against the
 * trail it names (services/core/audit/witness.ts, docs/audit.md
 * "Witnessed checkpoints").
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  type AuditProblem,
  type AuditTrailSource,
  checkWitnessedHeads,
  type UncheckedWitness,
  verifyAuditTrail,
  type WitnessTrailInput,
} from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';

/** What the cross-check adds to one `audit verify` run. */
export interface WitnessVerifyReport {
  /** Problems of the `--with-trail` trails themselves, then witness problems. */
  readonly problems: readonly AuditProblem[];
  readonly confirmed: number;
  readonly unchecked: readonly UncheckedWitness[];
  /** The trails taken part, each as its files. */
  readonly trails: readonly (readonly string[])[];
}

/** Splits `--with-trail` values: each one trail, its files comma-separated in chain order. */
export function withTrailFiles(values: readonly string[]): string[][] {
  return values.map((value) => value.split(',').filter((file) => file !== ''));
}

/**
 * Verifies each other trail on its own (a trail still being written is fine:
 * an unsigned tail is not a problem here) and then all witnessed heads.
 */
export function verifyWitnessedTrails(
  main: { readonly files: readonly string[]; readonly sources: readonly AuditTrailSource[] },
  others: readonly (readonly AuditTrailSource[])[],
  publicKeys: readonly KeyObject[],
): WitnessVerifyReport {
  const problems: AuditProblem[] = [];
  for (const sources of others) problems.push(...verifyAuditTrail(sources, { publicKeys }).problems);
  const inputs: WitnessTrailInput[] = [
    { name: main.files.join(','), sources: main.sources },
    ...others.map((sources) => ({ name: sources.map((s) => s.name).join(','), sources })),
  ];
  const witnessed = checkWitnessedHeads(inputs, publicKeys);
  problems.push(...witnessed.problems);
  return {
    problems,
    confirmed: witnessed.confirmed,
    unchecked: witnessed.unchecked,
    trails: [main.files, ...others.map((sources) => sources.map((s) => s.name))],
  };
}

/** The text summary line, or '' when no trail holds a witnessed head. */
export function witnessSummary(report: WitnessVerifyReport): string {
  const { confirmed, unchecked, problems } = report;
  const mismatched = problems.filter((p) => p.kind === 'witness').length;
  if (confirmed + unchecked.length + mismatched === 0) return '';
  const cannotTell =
    unchecked.length === 0
      ? ''
      : `, ${unchecked.length} of trails not given (cannot tell whether those were cut: pass them with --with-trail)`;
  return `witnessed heads: ${confirmed} confirmed, ${mismatched} not found${cannotTell}\n`;
}

/** Parses a `--public-key` file: an Ed25519 SPKI PEM key; USAGE otherwise. */
export function loadAuditPublicKey(path: string, bytes: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new AirlockError('USAGE', `--public-key ${path} is not a PEM public key`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AirlockError('USAGE', `--public-key ${path} is a ${key.asymmetricKeyType} key, not Ed25519`);
  return key;
}
