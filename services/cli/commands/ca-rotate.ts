/**
 * `airlock ca rotate <ssh-user|mediator|executor> <add|switch|retire|status>`:
 * the three steps of a CA rotation with overlap, on a keyring directory
 * (services/core/ca-keyring). The procedure and its waits are in
 * docs/operations.md and in `--help`.
 */

import {
  BUNDLE_FILE,
  type CaKind,
  DEFAULT_MAX_LIFETIME_SECONDS,
  formatDuration,
  isCaKind,
  type KeyringManifest,
} from '../../core/ca-keyring/keyring.js';
import {
  addKeyToKeyring,
  generateCaKeyFor,
  importCaKey,
  readKeyring,
  retireKeyringKeys,
  switchKeyringSigner,
} from '../../core/ca-keyring/keyring-files.js';
import { AirlockError } from '../../core/errors.js';
import type { CaKeyKind } from '../../core/ssh-cert/index.js';

export const ROTATE_STEPS = ['add', 'switch', 'retire', 'status'] as const;
export type RotateStep = (typeof ROTATE_STEPS)[number];

/** Options of `airlock ca rotate`; each step refuses the options of the others. */
export interface CaRotateOptions {
  readonly dir: string;
  readonly output?: 'text' | 'json';
  /** add: name of the new key; retire: the key to retire (default: every key but the signer). */
  readonly name?: string;
  /** add (ssh-user): key type of the new key. */
  readonly type?: CaKeyKind;
  /** add (mediator, executor): validity of the new CA certificate. */
  readonly validityDays?: string;
  /** add: bring in an existing key instead of generating one. */
  readonly importKey?: string;
  readonly importCert?: string;
  /** switch: the key to sign with (default: the newest key that never signed). */
  readonly to?: string;
  /** switch: the longest life of a credential the outgoing key signed. */
  readonly maxLifetime?: string;
  /** retire: even before the wait is over (key compromise). */
  readonly force?: boolean;
}

/** What the CLI writes to and reads the time from. */
export interface CaRotateIo {
  out(text: string): void;
  now(): Date;
}

/** Who uses each CA's signer and who must trust its bundle. */
const WHERE: Record<CaKind, { signer: string; trustedBy: string }> = {
  'ssh-user': {
    signer: 'the broker (sshCaDir)',
    trustedBy: 'the mediator and the executor (sshUserCaKeysFile)',
  },
  mediator: { signer: 'the mediator (mediatorCa.dir)', trustedBy: 'the executor (mediatorCaBundleFile)' },
  executor: { signer: 'the executor (executorCa.dir)', trustedBy: 'the mediator (executor.caBundleFile)' },
};

/** Options each step accepts besides --dir and --output. */
const STEP_OPTIONS: Record<RotateStep, readonly (keyof CaRotateOptions)[]> = {
  add: ['name', 'type', 'validityDays', 'importKey', 'importCert'],
  switch: ['to', 'maxLifetime'],
  retire: ['name', 'force'],
  status: [],
};

const OPTION_FLAGS: Partial<Record<keyof CaRotateOptions, string>> = {
  name: '--name',
  type: '--type',
  validityDays: '--validity-days',
  importKey: '--import-key',
  importCert: '--import-cert',
  to: '--to',
  maxLifetime: '--max-lifetime',
  force: '--force',
};

function usage(message: string): never {
  throw new AirlockError('USAGE', message);
}

/** `24h`, `12h`, `30d`, `90m`, `1d12h`, or plain seconds; 0 allowed. */
export function parseLifetime(text: string): number {
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!match || text.trim() === '') usage(`--max-lifetime ${text} is not a duration like 24h, 12h or 3600`);
  return (
    Number(match[1] ?? 0) * 86_400 +
    Number(match[2] ?? 0) * 3600 +
    Number(match[3] ?? 0) * 60 +
    Number(match[4] ?? 0)
  );
}

function describeKeys(manifest: KeyringManifest): string {
  return manifest.keys
    .map((k) => {
      const role =
        k.name === manifest.active
          ? 'signing'
          : k.retireAfter !== undefined
            ? `retired from signing; may be retired after ${k.retireAfter}`
            : 'trusted, not signing yet';
      return `  ${k.name}  ${k.fingerprint}  ${role}\n`;
    })
    .join('');
}

/** Checks the CA name, the step and that every option given applies to that step. */
function checkRotateArguments(
  ca: string,
  step: string,
  options: CaRotateOptions,
): { kind: CaKind; rotateStep: RotateStep } {
  if (!isCaKind(ca)) usage(`the CA must be ssh-user, mediator or executor, not ${JSON.stringify(ca)}`);
  if (!(ROTATE_STEPS as readonly string[]).includes(step)) {
    usage(`the step must be one of ${ROTATE_STEPS.join(', ')}, not ${JSON.stringify(step)}`);
  }
  const rotateStep = step as RotateStep;
  for (const [key, flag] of Object.entries(OPTION_FLAGS)) {
    const value = options[key as keyof CaRotateOptions];
    if (
      value !== undefined &&
      value !== false &&
      !STEP_OPTIONS[rotateStep].includes(key as keyof CaRotateOptions)
    ) {
      usage(`${flag} does not apply to ${step}`);
    }
  }
  return { kind: ca, rotateStep };
}

/** What every step works with. */
interface RotateContext {
  readonly ca: CaKind;
  /** The keyring directory and its trust bundle file. */
  readonly dir: string;
  readonly bundle: string;
  readonly options: CaRotateOptions;
  readonly json: boolean;
  readonly now: Date;
  readonly out: (text: string) => void;
}

function rotateStatus({ ca, dir, bundle, json, out }: RotateContext): number {
  const manifest = readKeyring(dir, ca);
  if (json) out(`${JSON.stringify({ ca, dir, bundle, keyring: manifest })}\n`);
  else out(`${ca} CA keyring ${dir}\n${describeKeys(manifest)}`);
  return 0;
}

/** Checks the options of `add` that depend on the CA; returns --validity-days as a number. */
function addValidityDays(ca: CaKind, options: CaRotateOptions): number | undefined {
  if (ca === 'ssh-user' && (options.validityDays !== undefined || options.importCert !== undefined)) {
    usage('--validity-days and --import-cert apply to the mediator and executor CAs');
  }
  if (ca !== 'ssh-user' && options.type !== undefined) usage('--type applies to the ssh-user CA');
  if (options.importCert !== undefined && options.importKey === undefined)
    usage('--import-cert needs --import-key');
  let validityDays: number | undefined;
  if (options.validityDays !== undefined) {
    validityDays = Number(options.validityDays);
    if (!Number.isInteger(validityDays))
      usage(`--validity-days ${options.validityDays} is not a whole number`);
  }
  return validityDays;
}

async function rotateAdd({ ca, dir, bundle, options, json, now, out }: RotateContext): Promise<number> {
  const validityDays = addValidityDays(ca, options);
  const where = WHERE[ca];
  const key =
    options.importKey !== undefined
      ? await importCaKey(ca, {
          keyFile: options.importKey,
          ...(options.importCert === undefined ? {} : { certFile: options.importCert }),
        })
      : await generateCaKeyFor(ca, {
          now,
          ...(options.type === undefined ? {} : { sshKeyType: options.type }),
          ...(validityDays === undefined ? {} : { validityDays }),
        });
  const { manifest, entry } = addKeyToKeyring(dir, ca, key, {
    now,
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  const first = manifest.keys.length === 1;
  if (json) out(`${JSON.stringify({ ca, dir, bundle, added: entry, keyring: manifest })}\n`);
  else if (first) {
    out(
      `created the ${ca} CA keyring ${dir}; its first key ${entry.name} (${entry.fingerprint}) signs now.\n` +
        `Give ${dir} to ${where.signer} and ${bundle} to ${where.trustedBy}.\n`,
    );
  } else {
    out(
      `added ${entry.name} (${entry.fingerprint}) to ${dir}: trusted, not signing yet.\n` +
        `Next: publish ${bundle} to ${where.trustedBy} and ${dir} to ${where.signer}; wait until every\n` +
        'replica has it (a tier re-reads a changed file within a second; a mounted Kubernetes\n' +
        'ConfigMap or Secret changes in the pod within about two minutes), then:\n' +
        `  airlock ca rotate ${ca} switch --dir ${dir}\n`,
    );
  }
  return 0;
}

function rotateSwitch({ ca, dir, bundle, options, json, now, out }: RotateContext): number {
  const maxLifetimeSeconds =
    options.maxLifetime === undefined ? DEFAULT_MAX_LIFETIME_SECONDS[ca] : parseLifetime(options.maxLifetime);
  const { manifest, from, to } = switchKeyringSigner(dir, {
    ca,
    now,
    maxLifetimeSeconds,
    ...(options.to === undefined ? {} : { to: options.to }),
  });
  if (json) out(`${JSON.stringify({ ca, dir, bundle, from, to, keyring: manifest })}\n`);
  else {
    out(
      `${to.name} signs now; ${from.name} stays trusted until ${from.retireAfter} ` +
        `(${formatDuration(maxLifetimeSeconds * 1000)}: the longest life of what it signed).\n` +
        `Next: publish ${dir} to ${WHERE[ca].signer}; after ${from.retireAfter}:\n` +
        `  airlock ca rotate ${ca} retire --dir ${dir}\n`,
    );
  }
  return 0;
}

function rotateRetire({ ca, dir, bundle, options, json, now, out }: RotateContext): number {
  const where = WHERE[ca];
  const { manifest, retired } = retireKeyringKeys(dir, {
    ca,
    now,
    ...(options.name === undefined ? {} : { names: [options.name] }),
    ...(options.force === true ? { force: true } : {}),
  });
  if (json) out(`${JSON.stringify({ ca, dir, bundle, retired, keyring: manifest })}\n`);
  else {
    out(
      `retired ${retired.map((k) => k.name).join(', ')}: its files are deleted and ${bundle} no longer lists it.\n` +
        `Next: publish ${bundle} to ${where.trustedBy} and ${dir} to ${where.signer}.\n`,
    );
  }
  return 0;
}

/** One handler per step; each returns the exit status. */
const ROTATE_STEP_HANDLERS: Record<RotateStep, (context: RotateContext) => number | Promise<number>> = {
  add: rotateAdd,
  switch: rotateSwitch,
  retire: rotateRetire,
  status: rotateStatus,
};

/** Runs one step; returns the exit status (0). Refusals throw AirlockErrors with stable codes. */
export async function runCaRotate(
  ca: string,
  step: string,
  options: CaRotateOptions,
  io: CaRotateIo,
): Promise<number> {
  const { kind, rotateStep } = checkRotateArguments(ca, step, options);
  const context: RotateContext = {
    ca: kind,
    dir: options.dir,
    bundle: `${options.dir}/${BUNDLE_FILE[kind]}`,
    options,
    json: options.output === 'json',
    now: io.now(),
    out: (text) => io.out(text),
  };
  return await ROTATE_STEP_HANDLERS[rotateStep](context);
}

export const CA_ROTATE_HELP = `
A CA rotates with overlap, in three steps, each on the CA's keyring directory
(keyring.json, one <name>.key per key, <name>.crt for tier CAs, and the trust
bundle ${BUNDLE_FILE['ssh-user']} or ${BUNDLE_FILE.mediator}):

  add     generate a key (or --import-key an existing one) and add it to the
          trust bundle; it does not sign yet. The first add creates the keyring
          and its key signs at once.
          Then publish the bundle to every verifier and wait until each has it.
  switch  the new key signs. The running signer picks it up within a second of
          the file changing (the broker for ssh-user, the mediator for
          session grants, the executor re-issues its serving certificate).
          The old key stays trusted until now + --max-lifetime.
  retire  remove the old key from the keyring and the bundle. Refused with
          CA_RETIRE_TOO_EARLY until --max-lifetime has passed since switch
          (the command states how long to wait); --force skips the wait, for a
          leaked key: everything it signed stops verifying at once.
  status  list the keys, the signer and when each old key may be retired.

Who signs and who trusts:
  ssh-user  signer: broker sshCaDir;       bundle: mediator and executor sshUserCaKeysFile
  mediator  signer: mediator mediatorCa.dir; bundle: executor mediatorCaBundleFile
  executor  signer: executor executorCa.dir; bundle: mediator executor.caBundleFile

Default --max-lifetime (the longest credential each CA signs): ssh-user 24h
(the policy's TTL ceiling), mediator 12h (session grants), executor 24h
(serving.lifetimeSeconds default; set yours if you changed it).

Example (quarterly, see docs/operations.md):
  airlock ca rotate mediator add --dir ./mediator-ca
  # publish ./mediator-ca/ca-bundle.pem to the executor, wait for it
  airlock ca rotate mediator switch --dir ./mediator-ca
  # 12 hours later
  airlock ca rotate mediator retire --dir ./mediator-ca
`;
