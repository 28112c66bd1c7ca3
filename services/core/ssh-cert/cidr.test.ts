import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidrList, parseIpAddress } from './cidr.js';

function matches(list: string, address: string): boolean {
  const blocks = parseCidrList(list);
  const parsed = parseIpAddress(address);
  if (!blocks || parsed === undefined) throw new Error(`bad test input ${list} / ${address}`);
  return blocks.some((block) => cidrContains(block, parsed));
}

/** Each case reads `list ∋ address` (the list matches the address) or `list ∌ address` (it does not). */
function expectMatching(...cases: string[]): void {
  for (const line of cases) {
    const [list, relation, address] = line.split(' ');
    if (relation !== '∋' && relation !== '∌') throw new Error(`bad test case ${line}`);
    expect(matches(list!, address!), line).toBe(relation === '∋');
  }
}

describe('CIDR lists for source-address', () => {
  it('matches IPv4 prefixes at their boundaries', () => {
    expectMatching(
      '192.0.2.0/24 ∋ 192.0.2.0',
      '192.0.2.0/24 ∋ 192.0.2.255',
      '192.0.2.0/24 ∌ 192.0.3.0',
      '192.0.2.7 ∋ 192.0.2.7',
      '192.0.2.7 ∌ 192.0.2.8',
      '0.0.0.0/0 ∋ 203.0.113.9',
    );
  });

  it('matches IPv6 prefixes, with :: compression and embedded IPv4', () => {
    expectMatching(
      '2001:db8::/32 ∋ 2001:db8:ffff::1',
      '2001:db8::/32 ∌ 2001:db9::',
      '::1 ∋ 0:0:0:0:0:0:0:1',
      'fe80::/10 ∋ febf::1',
      'fe80::/10 ∌ fec0::1',
      '64:ff9b::/96 ∋ 64:ff9b::192.0.2.33',
    );
  });

  it('treats IPv4-mapped IPv6 (RFC 4291 §2.5.5.2) as the IPv4 address, both ways', () => {
    expectMatching(
      '10.0.0.0/8 ∋ ::ffff:10.1.1.1',
      '10.0.0.0/8 ∋ ::ffff:a01:101',
      '::ffff:10.0.0.0/104 ∋ 10.200.0.1',
      '10.0.0.0/8 ∌ ::10.1.1.1',
      '::/0 ∋ 10.1.1.1',
    );
  });

  it('matches any entry of a comma-separated list', () => {
    expectMatching(
      '10.0.0.0/8,192.168.0.0/16,::1 ∋ 192.168.4.4',
      '10.0.0.0/8,192.168.0.0/16,::1 ∋ ::1',
      '10.0.0.0/8,192.168.0.0/16,::1 ∌ 172.16.0.1',
    );
  });

  it('rejects malformed lists and entries with host bits set, as OpenSSH addr_pton_cidr', () => {
    for (const bad of [
      '',
      ',',
      '10.0.0.1/8',
      '10.0.0.0/33',
      '10.0.0/8',
      '010.0.0.0/8',
      '256.0.0.0/8',
      '10.0.0.0/08',
      '::1/129',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      'fe80::1%eth0',
      '2001:db8::/32,',
      'host.example.com',
      '*',
    ]) {
      expect(parseCidrList(bad), bad).toBeUndefined();
    }
  });

  it('parses only literal addresses', () => {
    expect(parseIpAddress('1.2.3.4')).toBe((0xffffn << 32n) | 0x01020304n);
    expect(parseIpAddress('::')).toBe(0n);
    expect(parseIpAddress('1.2.3')).toBeUndefined();
    expect(parseIpAddress('::ffff:1.2.3.4.5')).toBeUndefined();
    expect(parseIpAddress('1.2.3.4::')).toBeUndefined();
  });
});
