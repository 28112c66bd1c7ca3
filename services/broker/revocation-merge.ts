/**
 * The union of published and local revocation lists (pure): what the
 * ConfigMap publisher (revocation-config-map.ts) writes so that nothing once
 * published is ever removed, whoever publishes.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import {
  type DenyListDocument,
  encodeKrl,
  type Krl,
  type KrlCertificateSection,
  type KrlDocument,
  parseDenyList,
  parseKrl,
} from '../core/ssh-cert/index.js';

/** The ConfigMap key of the JSON deny list (`data`). */
export const DENY_LIST_KEY = 'revoked.json';
/** The ConfigMap key of the KRL (`binaryData`: mounted as the raw bytes). */
export const KRL_KEY = 'revoked.krl';
/** The broker's local revocation lists, as on disk. */
export interface LocalRevocationLists {
  /** The JSON deny list's text (`parseDenyList` format). */
  readonly denyList: string;
  /** The KRL's bytes; absent when the broker writes no KRL. */
  readonly krl?: Uint8Array;
}

/** Union of two deny lists (serials as decimal strings); `added` when `extra` had something `base` lacks. */
export function mergeDenyLists(
  base: DenyListDocument,
  extra: DenyListDocument,
): { document: DenyListDocument; added: boolean } {
  let added = false;
  const union = (a: readonly string[], b: readonly string[]) => {
    const out = [...new Set(a)];
    for (const item of b) {
      if (out.includes(item)) continue;
      out.push(item);
      added = true;
    }
    return out;
  };
  const serials = union((base.serials ?? []).map(String), (extra.serials ?? []).map(String));
  const keyIds = union(base.keyIds ?? [], extra.keyIds ?? []);
  const fingerprints = union(base.fingerprints ?? [], extra.fingerprints ?? []);
  return { document: { serials, keyIds, ...(fingerprints.length > 0 ? { fingerprints } : {}) }, added };
}

const hex = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? '' : Buffer.from(bytes).toString('hex');

function serialCovered(section: KrlCertificateSection, serial: bigint): boolean {
  return (
    section.serials.includes(serial) ||
    section.serialRanges.some((r) => serial >= r.min && serial <= r.max) ||
    section.serialBitmaps.some((b) => serial >= b.offset && ((b.bitmap >> (serial - b.offset)) & 1n) === 1n)
  );
}

/**
 * Everything `extra` revokes added to `base` (per CA section: serials, ranges,
 * bitmaps, key ids; explicit keys and fingerprints). When something was
 * added, the version is past both inputs' and `generatedAt` is `now`;
 * otherwise `base` comes back unchanged with `added: false`. The result is
 * unsigned (airlock writes no KRL signatures; a signed base keeps its entries).
 */
export function mergeKrls(base: Krl, extra: Krl, now: Date): { krl: KrlDocument; added: boolean } {
  let added = false;
  const sections = base.certificateSections.map((s) => ({ ...s }));
  for (const section of extra.certificateSections) {
    let target = sections.find(
      (s) => (s.caKey === undefined) === (section.caKey === undefined) && hex(s.caKey) === hex(section.caKey),
    );
    if (target === undefined) {
      target = { caKey: section.caKey, serials: [], serialRanges: [], serialBitmaps: [], keyIds: [] };
      sections.push(target);
    }
    const serials = section.serials.filter((serial) => !serialCovered(target, serial));
    const ranges = section.serialRanges.filter(
      (r) => !target.serialRanges.some((t) => t.min === r.min && t.max === r.max),
    );
    const bitmaps = section.serialBitmaps.filter(
      (b) => !target.serialBitmaps.some((t) => t.offset === b.offset && t.bitmap === b.bitmap),
    );
    const keyIds = section.keyIds.filter((id) => !target.keyIds.includes(id));
    if (serials.length + ranges.length + bitmaps.length + keyIds.length === 0) continue;
    added = true;
    Object.assign(target, {
      serials: [...target.serials, ...serials].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      serialRanges: [...target.serialRanges, ...ranges],
      serialBitmaps: [...target.serialBitmaps, ...bitmaps],
      keyIds: [...target.keyIds, ...keyIds],
    });
  }
  const unionBlobs = (a: readonly Uint8Array[], b: readonly Uint8Array[]) => {
    const fresh = b.filter((x) => !a.some((y) => hex(y) === hex(x)));
    if (fresh.length > 0) added = true;
    return [...a, ...fresh];
  };
  const explicitKeys = unionBlobs(base.explicitKeys, extra.explicitKeys);
  const sha1Fingerprints = unionBlobs(base.sha1Fingerprints, extra.sha1Fingerprints);
  const sha256Fingerprints = unionBlobs(base.sha256Fingerprints, extra.sha256Fingerprints);
  const { signed: _signed, ...unsigned } = base;
  if (!added) return { krl: { ...unsigned, signed: false }, added };
  return {
    krl: {
      ...unsigned,
      signed: false,
      // biome-ignore lint/complexity/useMathMinMax: versions are bigints, which Math.max does not take
      version: (base.version > extra.version ? base.version : extra.version) + 1n,
      generatedAt: BigInt(Math.floor(now.getTime() / 1000)),
      certificateSections: sections,
      explicitKeys,
      sha1Fingerprints,
      sha256Fingerprints,
    },
    added,
  };
}

/** Parsed published content, or `undefined` (logged) when readers could not use it either. */
function publishedOrNothing<T>(
  raw: string | undefined,
  parse: (raw: string) => T,
  key: string,
  warn: (message: string) => void,
): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (error) {
    warn(`the published ${key} is invalid and is replaced by the broker's list: ${String(error)}`);
    return undefined;
  }
}

function parseDenyListDocument(text: string): DenyListDocument {
  parseDenyList(text); // throws CERT_MALFORMED on anything the tiers would refuse
  return JSON.parse(text) as DenyListDocument;
}

/** Deletes `key` from `map`; whether it was there. */
function removeKey(map: Record<string, string>, key: string): boolean {
  if (!(key in map)) return false;
  delete map[key];
  return true;
}

/**
 * The ConfigMap's `data` and `binaryData` with every local revocation added
 * (pure). `changed` is false when the ConfigMap already holds them all.
 * Throws when the local lists themselves are invalid.
 */
export function mergeIntoConfigMap(
  current: Pick<V1ConfigMap, 'data' | 'binaryData'> | undefined,
  local: LocalRevocationLists,
  now: Date,
  warn: (message: string) => void,
): { data: Record<string, string>; binaryData: Record<string, string>; changed: boolean } {
  const data = { ...(current?.data ?? {}) };
  const binaryData = { ...(current?.binaryData ?? {}) };
  // A key may live in data or binaryData, not both (ConfigMap validation).
  let changed = removeKey(binaryData, DENY_LIST_KEY);
  const localDenyList = parseDenyListDocument(local.denyList);
  const publishedDenyList = publishedOrNothing(
    data[DENY_LIST_KEY],
    parseDenyListDocument,
    DENY_LIST_KEY,
    warn,
  );
  const denyList = publishedDenyList
    ? mergeDenyLists(publishedDenyList, localDenyList)
    : { document: mergeDenyLists({}, localDenyList).document, added: true };
  if (denyList.added) {
    data[DENY_LIST_KEY] = `${JSON.stringify(denyList.document, null, 1)}\n`;
    changed = true;
  }
  if (local.krl !== undefined) {
    if (removeKey(data, KRL_KEY)) changed = true;
    const localKrl = parseKrl(local.krl);
    const publishedKrl = publishedOrNothing(
      binaryData[KRL_KEY],
      (base64) => parseKrl(Buffer.from(base64, 'base64')),
      KRL_KEY,
      warn,
    );
    if (publishedKrl === undefined) {
      binaryData[KRL_KEY] = Buffer.from(local.krl).toString('base64');
      changed = true;
    } else {
      const merged = mergeKrls(publishedKrl, localKrl, now);
      if (merged.added) {
        binaryData[KRL_KEY] = Buffer.from(encodeKrl(merged.krl)).toString('base64');
        changed = true;
      }
    }
  }
  return { data, binaryData, changed };
}
