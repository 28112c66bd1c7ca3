/**
 * A CA keyring: several keys of one certificate authority, exactly one of
 * which signs, so a CA rotates with overlap (docs/operations.md):
 *
 *   add     a new key is generated and put into the trust bundle, not yet signing;
 *   switch  the new key signs; the old one is marked with `retireAfter`, the
 *           instant after which nothing it signed can still be valid;
 *   retire  the old key leaves the keyring and the trust bundle.
 *
 * This file is the pure part: the manifest (`keyring.json`) and the three
 * steps as functions of (manifest, now) → manifest. No I/O, no clock.
 * `keyring-files.ts` reads and writes the directory.
 */
import { AirlockError } from '../errors.js';

/** The three CAs airlock rotates: the broker's SSH user CA and the two tier CAs of the gRPC link. */
export type CaKind = 'ssh-user' | 'mediator' | 'executor';
export const CA_KINDS: readonly CaKind[] = ['ssh-user', 'mediator', 'executor'];

/**
 * The longest life of a credential each CA signs, the default wait between
 * `switch` and `retire`: SSH user certificates end with their request, whose
 * TTL the policy schema caps at 24 h; session grants are capped at 12 h
 * (`MAX_SESSION_GRANT_SECONDS`); executor serving certificates live
 * `serving.lifetimeSeconds`, 24 h by default (and are re-issued from the new
 * key as soon as the executor sees the switch).
 */
export const DEFAULT_MAX_LIFETIME_SECONDS: Readonly<Record<CaKind, number>> = {
  'ssh-user': 86_400,
  mediator: 12 * 3600,
  executor: 86_400,
};

/** One key of the keyring. Times are ISO 8601 strings (UTC). */
export interface KeyringEntry {
  /** File name stem: `<name>.key` (and `<name>.crt` for tier CAs). */
  readonly name: string;
  /** `SHA256:…` of the SSH public key, or the hex SHA-256 of the CA certificate. */
  readonly fingerprint: string;
  readonly addedAt: string;
  /** When it last became the signer. */
  readonly activatedAt?: string;
  /** When another key became the signer; with `retireAfter`. */
  readonly deactivatedAt?: string;
  /** After this instant nothing it signed is still valid: it may be retired. */
  readonly retireAfter?: string;
}

/** `keyring.json`. */
export interface KeyringManifest {
  readonly version: 1;
  readonly ca: CaKind;
  /** Name of the signing key. */
  readonly active: string;
  readonly keys: readonly KeyringEntry[];
}

export const MANIFEST_FILE = 'keyring.json';
/** The trust bundle each keyring publishes: every key's public half. */
export const BUNDLE_FILE: Readonly<Record<CaKind, string>> = {
  'ssh-user': 'trusted-user-ca-keys.pub',
  mediator: 'ca-bundle.pem',
  executor: 'ca-bundle.pem',
};

/** Key names are file names (and Kubernetes Secret keys): no paths, no dot files. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isCaKind(value: unknown): value is CaKind {
  return typeof value === 'string' && (CA_KINDS as readonly string[]).includes(value);
}

function invalid(detail: string): never {
  throw new AirlockError('CONFIG_INVALID', `${MANIFEST_FILE} is invalid`, { detail });
}

function state(message: string, detail?: string): never {
  throw new AirlockError('CA_ROTATION_STATE', message, detail === undefined ? {} : { detail });
}

function isoTime(value: unknown, field: string): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) invalid(`${field} is not a time`);
  return value;
}

/** Parses and checks `keyring.json`; throws CONFIG_INVALID naming the bad field. */
export function parseKeyringManifest(text: string): KeyringManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    invalid(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const m = raw as Record<string, unknown>;
  if (typeof m !== 'object' || m === null) invalid('not an object');
  if (m.version !== 1) invalid('version must be 1');
  if (!isCaKind(m.ca)) invalid(`ca must be one of ${CA_KINDS.join(', ')}`);
  if (!Array.isArray(m.keys) || m.keys.length === 0) invalid('keys must list at least one key');
  const names = new Set<string>();
  const keys = m.keys.map((value: unknown, i: number): KeyringEntry => {
    const k = value as Record<string, unknown>;
    if (typeof k !== 'object' || k === null) invalid(`keys[${i}] is not an object`);
    if (typeof k.name !== 'string' || !KEY_NAME.test(k.name)) invalid(`keys[${i}].name is not a key name`);
    if (names.has(k.name)) invalid(`keys[${i}].name ${k.name} is listed twice`);
    names.add(k.name);
    if (typeof k.fingerprint !== 'string' || k.fingerprint === '') invalid(`keys[${i}].fingerprint missing`);
    const entry: KeyringEntry = {
      name: k.name,
      fingerprint: k.fingerprint,
      addedAt: isoTime(k.addedAt, `keys[${i}].addedAt`),
      ...(k.activatedAt === undefined
        ? {}
        : { activatedAt: isoTime(k.activatedAt, `keys[${i}].activatedAt`) }),
      ...(k.deactivatedAt === undefined
        ? {}
        : { deactivatedAt: isoTime(k.deactivatedAt, `keys[${i}].deactivatedAt`) }),
      ...(k.retireAfter === undefined
        ? {}
        : { retireAfter: isoTime(k.retireAfter, `keys[${i}].retireAfter`) }),
    };
    return entry;
  });
  if (typeof m.active !== 'string' || !names.has(m.active)) invalid('active must name one of keys');
  return { version: 1, ca: m.ca, active: m.active, keys };
}

export function formatKeyringManifest(manifest: KeyringManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Checks a key name for `add --name`; USAGE otherwise. */
export function checkKeyName(name: string): string {
  if (!KEY_NAME.test(name)) {
    throw new AirlockError('USAGE', `key name ${JSON.stringify(name)} must match ${KEY_NAME.source}`);
  }
  return name;
}

/** The default name of a new key: `<ca>-<YYYYMMDD>-<suffix>`. */
export function defaultKeyName(ca: CaKind, now: Date, suffix: string): string {
  return `${ca}-${now.toISOString().slice(0, 10).replaceAll('-', '')}-${suffix}`;
}

/**
 * `add`: one more key, trusted but not signing. The first key of a new
 * keyring signs at once (there is nothing to overlap with).
 */
export function addKey(
  manifest: KeyringManifest | undefined,
  key: { ca: CaKind; name: string; fingerprint: string },
  now: Date,
): KeyringManifest {
  const at = now.toISOString();
  if (manifest === undefined) {
    return {
      version: 1,
      ca: key.ca,
      active: key.name,
      keys: [{ name: key.name, fingerprint: key.fingerprint, addedAt: at, activatedAt: at }],
    };
  }
  if (manifest.ca !== key.ca) state(`this keyring holds the ${manifest.ca} CA, not ${key.ca}`);
  if (manifest.keys.some((k) => k.name === key.name)) {
    throw new AirlockError('CA_KEY_EXISTS', `the keyring already has a key named ${key.name}`);
  }
  if (manifest.keys.some((k) => k.fingerprint === key.fingerprint)) {
    throw new AirlockError('CA_KEY_EXISTS', `the keyring already has this key (${key.fingerprint})`);
  }
  return {
    ...manifest,
    keys: [...manifest.keys, { name: key.name, fingerprint: key.fingerprint, addedAt: at }],
  };
}

/**
 * `switch`: `to` (default: the newest key that never signed) becomes the
 * signer. The previous signer keeps being trusted until
 * `now + maxLifetimeSeconds`, recorded as its `retireAfter`.
 */
export function switchKey(
  manifest: KeyringManifest,
  options: { to?: string; now: Date; maxLifetimeSeconds: number },
): KeyringManifest {
  const { now, maxLifetimeSeconds } = options;
  if (!Number.isInteger(maxLifetimeSeconds) || maxLifetimeSeconds < 0) {
    throw new AirlockError(
      'USAGE',
      'the maximum credential lifetime must be a non-negative whole number of seconds',
    );
  }
  let to = options.to;
  if (to === undefined) {
    const fresh = manifest.keys.filter((k) => k.activatedAt === undefined);
    if (fresh.length === 0) {
      state(
        `no new ${manifest.ca} CA key to switch to`,
        `run \`airlock ca rotate ${manifest.ca} add\` first, or name a key with --to`,
      );
    }
    to = fresh[fresh.length - 1]!.name;
  }
  if (!manifest.keys.some((k) => k.name === to)) state(`no key named ${to} in the ${manifest.ca} keyring`);
  if (to === manifest.active) state(`${to} is already the signing key`);
  const at = now.toISOString();
  const retireAfter = new Date(now.getTime() + maxLifetimeSeconds * 1000).toISOString();
  return {
    ...manifest,
    active: to,
    keys: manifest.keys.map((k): KeyringEntry => {
      if (k.name === to)
        return { name: k.name, fingerprint: k.fingerprint, addedAt: k.addedAt, activatedAt: at };
      if (k.name === manifest.active) return { ...k, deactivatedAt: at, retireAfter };
      return k;
    }),
  };
}

/** A human duration: `3h 12m`, `45s`. */
export function formatDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  const parts = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ] as const;
  const shown = parts.filter(([n]) => n > 0).map(([n, unit]) => `${n}${unit}`);
  return shown.length === 0 ? '0s' : shown.slice(0, 2).join(' ');
}

/**
 * `retire`: removes `names` (default: every key but the signer). Refuses
 * the signer, and — unless `force` (the key leaked: everything it signed
 * must stop verifying now) — a key whose `retireAfter` has not passed,
 * stating how long to wait (CA_RETIRE_TOO_EARLY). A key that never signed
 * can go at once.
 */
export function retireKeys(
  manifest: KeyringManifest,
  options: { names?: readonly string[]; now: Date; force?: boolean },
): { manifest: KeyringManifest; retired: readonly KeyringEntry[] } {
  const names = options.names?.length
    ? options.names
    : manifest.keys.map((k) => k.name).filter((n) => n !== manifest.active);
  if (names.length === 0) state(`the ${manifest.ca} keyring has only its signing key; nothing to retire`);
  const retired = names.map((name) => {
    const entry = manifest.keys.find((k) => k.name === name);
    if (entry === undefined) state(`no key named ${name} in the ${manifest.ca} keyring`);
    if (name === manifest.active) {
      state(
        `${name} is the signing key`,
        `switch to another key first: airlock ca rotate ${manifest.ca} switch`,
      );
    }
    return entry;
  });
  for (const entry of retired) {
    const until = entry.retireAfter === undefined ? undefined : Date.parse(entry.retireAfter);
    if (options.force !== true && until !== undefined && options.now.getTime() < until) {
      throw new AirlockError(
        'CA_RETIRE_TOO_EARLY',
        `${entry.name} may still have live credentials until ${entry.retireAfter}; wait ${formatDuration(until - options.now.getTime())}`,
        {
          detail:
            'Retiring it now makes every credential it signed fail verification at once. ' +
            'Use --force only when the key is compromised.',
        },
      );
    }
  }
  const drop = new Set(names);
  return {
    manifest: { ...manifest, keys: manifest.keys.filter((k) => !drop.has(k.name)) },
    retired,
  };
}
