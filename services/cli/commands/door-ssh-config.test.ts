import { describe, expect, it } from 'vitest';
import { formatPublicKeyLine, generateCaKey } from '../../core/ssh-cert/index.js';
import {
  defaultDoorSshConfigPath,
  doorHostCas,
  doorKnownHosts,
  doorKnownHostsPath,
  doorSshConfig,
  parseDoorAddress,
} from './door-ssh-config.js';

const input = {
  requestId: 'req-a1',
  principal: 'alice',
  privateKey: '/home/alice/.ssh/id_ed25519',
  certificatePath: '/home/alice/.ssh/id_ed25519-cert.pub',
  door: 'door.example.com:2222',
  validBefore: '2026-12-06T21:00:00Z',
  knownHostsFile: '/cfg/ssh/req-a1.known_hosts',
};

describe('doorSshConfig', () => {
  it('writes a per-request door alias and Host <request-id> jumping through it', () => {
    expect(doorSshConfig(input)).toBe(
      [
        '# airlock request req-a1, valid until 2026-12-06T21:00:00Z (written by airlock cert)',
        'Host airlock-door-req-a1',
        '  HostName door.example.com',
        '  Port 2222',
        '  User alice',
        '  IdentityFile /home/alice/.ssh/id_ed25519',
        '  CertificateFile /home/alice/.ssh/id_ed25519-cert.pub',
        '  IdentitiesOnly yes',
        'Host req-a1',
        '  ProxyJump airlock-door-req-a1',
        '  User alice',
        '  IdentityFile /home/alice/.ssh/id_ed25519',
        '  CertificateFile /home/alice/.ssh/id_ed25519-cert.pub',
        '  IdentitiesOnly yes',
        '  HostKeyAlias req-a1',
        '  UserKnownHostsFile /cfg/ssh/req-a1.known_hosts',
        '  StrictHostKeyChecking yes',
        '',
      ].join('\n'),
    );
  });

  it('quotes a path with spaces and refuses one that would break the file', () => {
    expect(doorSshConfig({ ...input, privateKey: '/home/a b/key' })).toContain(
      'IdentityFile "/home/a b/key"',
    );
    for (const privateKey of ['/k\nHost *', '/k"', ''])
      expect(() => doorSshConfig({ ...input, privateKey })).toThrow(
        expect.objectContaining({ code: 'USAGE' }),
      );
  });

  it('reads host, host:port and [v6]:port, 22 by default, and refuses anything else', () => {
    expect(parseDoorAddress('door')).toEqual({ host: 'door', port: 22 });
    expect(parseDoorAddress('door:2222')).toEqual({ host: 'door', port: 2222 });
    expect(parseDoorAddress('[fd00::1]:22')).toEqual({ host: 'fd00::1', port: 22 });
    for (const bad of ['door:0', 'door:70000', 'a b', 'door:x', ''])
      expect(() => parseDoorAddress(bad)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('names the default file after the request, refusing an id that is no file name', () => {
    expect(defaultDoorSshConfigPath('/cfg', 'req-a1')).toBe('/cfg/ssh/req-a1.conf');
    expect(() => defaultDoorSshConfigPath('/cfg', '../x')).toThrow(
      expect.objectContaining({ code: 'USAGE' }),
    );
  });

  it('trusts the host CA for the request id alone, from --host-ca or else the broker, never from nothing', () => {
    const [oldCa, newCa] = [generateCaKey('ed25519').publicKey, generateCaKey('ed25519').publicKey];
    expect(doorKnownHostsPath('/cfg/ssh/req-a1.conf')).toBe('/cfg/ssh/req-a1.known_hosts');
    expect(doorKnownHosts('req-a1', [oldCa, newCa])).toBe(
      `@cert-authority req-a1 ${formatPublicKeyLine(oldCa, 'airlock-host-ca')}\n` +
        `@cert-authority req-a1 ${formatPublicKeyLine(newCa, 'airlock-host-ca')}\n`,
    );
    const sent = [formatPublicKeyLine(newCa, 'airlock-host-ca')];
    expect(doorHostCas(sent, undefined).map((k) => k.blob)).toEqual([newCa.blob]);
    expect(doorHostCas(sent, [oldCa])).toEqual([oldCa]);
    for (const fromBroker of [undefined, [], ['not a key'], 'ssh-ed25519 AAAA'])
      expect(() => doorHostCas(fromBroker, undefined)).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => doorKnownHosts('req-a1', [])).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => doorKnownHosts('req-*', [oldCa])).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
