/**
 * CIDR address lists for the `source-address` critical option
 * (PROTOCOL.certkeys: "Comma-separated list of source addresses from which
 * this certificate is accepted for authentication. Addresses are specified in
 * CIDR format (nn.nn.nn.nn/nn or hhhh::hhhh/nn)").
 *
 * Every address is held as a 128-bit integer; IPv4 addresses are mapped into
 * `::ffff:0:0/96` (RFC 4291 §2.5.5.2), so an IPv4 client written as
 * `::ffff:192.0.2.1` (as a dual-stack socket reports it) matches an IPv4
 * entry and vice versa. As in OpenSSH's `addr_pton_cidr`, an entry with host
 * bits set beyond its prefix (`10.0.0.1/8`) is invalid.
 */

/** One parsed CIDR block in the 128-bit space. */
export interface CidrBlock {
  readonly network: bigint;
  /** Prefix length in the 128-bit space (IPv4 /n is stored as /96+n). */
  readonly prefix: number;
  /** The entry as written. */
  readonly text: string;
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;
const ALL_ONES_128 = (1n << 128n) - 1n;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // Decimal only, no leading zeros: "010" is octal to some resolvers, so refuse ambiguity.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  if (text.includes('%')) return undefined; // zone ids are not meaningful in a certificate
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === '') return [];
    const pieces = part.split(':');
    const groups: number[] = [];
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece);
        if (v4 === undefined) return undefined;
        groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
        groups.push(Number.parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 tail is only allowed at the very end.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

/**
 * Parses one IPv4 or IPv6 address into the 128-bit space, or returns
 * `undefined` if it is not a literal address.
 */
export function parseIpAddress(text: string): bigint | undefined {
  if (!text.includes(':')) {
    const v4 = parseIpv4(text);
    return v4 === undefined ? undefined : V4_MAPPED_PREFIX | v4;
  }
  return parseIpv6(text);
}

function parseCidrEntry(entry: string): CidrBlock | undefined {
  const match = /^([^/]+)(?:\/([0-9]{1,3}))?$/.exec(entry);
  if (!match) return undefined;
  const [, addressText, prefixText] = match;
  const isV4 = !addressText!.includes(':');
  const address = parseIpAddress(addressText!);
  if (address === undefined) return undefined;
  const maxPrefix = isV4 ? 32 : 128;
  if (prefixText !== undefined && prefixText.length > 1 && prefixText.startsWith('0')) return undefined;
  const written = prefixText === undefined ? maxPrefix : Number(prefixText);
  if (written > maxPrefix) return undefined;
  const prefix = isV4 ? 96 + written : written;
  const hostMask = ALL_ONES_128 >> BigInt(prefix);
  if ((address & hostMask) !== 0n) return undefined;
  return { network: address, prefix, text: entry };
}

/**
 * Parses a comma-separated CIDR list as it appears in `source-address`.
 * Returns `undefined` if any entry is invalid or the list is empty.
 */
export function parseCidrList(list: string): CidrBlock[] | undefined {
  const entries = list.split(',');
  const blocks: CidrBlock[] = [];
  for (const entry of entries) {
    const block = parseCidrEntry(entry.trim());
    if (!block) return undefined;
    blocks.push(block);
  }
  return blocks.length > 0 ? blocks : undefined;
}

/** True when `address` (a parsed client address) lies inside `block`. */
export function cidrContains(block: CidrBlock, address: bigint): boolean {
  const hostMask = ALL_ONES_128 >> BigInt(block.prefix);
  return (address & ~hostMask & ALL_ONES_128) === block.network;
}
