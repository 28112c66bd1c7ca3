import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTierSecrets, TLS_FILES } from '../../services/broker/launcher/tier-credentials.js';
import {
  doorHostCas,
  doorKnownHosts,
  doorKnownHostsPath,
  doorSshConfig,
  writeDoorSshConfig,
} from '../../services/cli/commands/door-ssh-config.js';
import {
  type HostKey,
  loadHostCertificate,
  loadOrCreateHostKey,
} from '../../services/core/ssh-cert/host-key.js';
import { formatPublicKeyLine, generateCaKey } from '../../services/core/ssh-cert/index.js';
import { InMemoryMediatorResolver } from '../../services/mediator/door/mediator-resolver.js';
import { type RunningDoor, sshWithConfig, startDoor } from '../support/door-harness.js';
import type { Gateway } from '../support/executor-harness.js';
import {
  debugTarget,
  type Mediator,
  sshUser,
  startDebugGateway,
  startMediator,
} from '../support/mediator-harness.js';

// Ephemeral mediators verified by the airlock host CA, end to end with the stock ssh client: the
// launcher's own credentials (createTierSecrets: host key + host certificate for the request id)
// loaded as the mediator loads them (hostKeyFile, hostCertificateFile), reached through the jump
// door with exactly the ssh_config entry and known_hosts `airlock cert --door` writes from the
// host CA key the broker sends. Nothing is pinned; StrictHostKeyChecking yes never adds a key.

const requestA = 'req-aaaaaaaaaaaaaaaaaaaa';
const requestB = 'req-bbbbbbbbbbbbbbbbbbbb';
const requestC = 'req-cccccccccccccccccccc';

/** The mediator host key and certificate the launcher puts into request `requestId`'s Secret. */
async function launchedHostKey(
  requestId: string,
  hostCa: ReturnType<typeof generateCaKey>,
): Promise<HostKey> {
  const secrets = await createTierSecrets(requestId, new Date(), 600, hostCa);
  const dir = mkdtempSync(join(tmpdir(), 'airlock-eph-tls-'));
  for (const file of [TLS_FILES.hostKey, TLS_FILES.hostCertificate])
    writeFileSync(join(dir, file), secrets.mediator[file] ?? '', { mode: 0o600 });
  const hostKey = loadOrCreateHostKey(join(dir, TLS_FILES.hostKey));
  return loadHostCertificate(join(dir, TLS_FILES.hostCertificate), hostKey, new Date());
}

describe('door + host CA: ssh verifies the ephemeral mediator by @cert-authority for its request id', () => {
  const target = debugTarget('doorhc', requestA);
  const hostCa = generateCaKey('ed25519', 'airlock-host-ca');
  let gateway: Gateway;
  const mediators: Mediator[] = [];
  const resolver = new InMemoryMediatorResolver();
  let door: RunningDoor;

  beforeAll(async () => {
    let plain: Mediator;
    ({ gateway, mediator: plain } = await startDebugGateway(target));
    mediators.push(plain);
    const start = async (hostKey?: HostKey) => {
      const mediator = await startMediator(gateway, target.policy, {}, undefined, {}, hostKey);
      mediators.push(mediator);
      return { host: '127.0.0.1', port: mediator.port };
    };
    // A's own mediator; B's request routed to a mediator certified for A (a mix-up, or an impostor
    // holding another request's pod credentials); C's to a mediator with a plain, uncertified key.
    resolver.set(requestA, await start(await launchedHostKey(requestA, hostCa)));
    resolver.set(requestB, await start(await launchedHostKey(requestA, hostCa)));
    resolver.set(requestC, await start());
    door = await startDoor(gateway, target.policy, resolver);
  });

  afterAll(async () => {
    await door?.stop();
    for (const mediator of mediators.reverse()) await mediator.stop();
    await gateway?.stop();
  });

  /** The entry and known_hosts `airlock cert <id> --door 127.0.0.1:<port>` writes; a wrapper config pins the door. */
  async function certDoorEntry(requestId: string): Promise<string> {
    const user = sshUser(gateway.sshCa, { scope: { ...target.scope, requestId } });
    const dir = mkdtempSync(join(tmpdir(), 'airlock-door-hc-'));
    const entry = join(dir, 'ssh', `${requestId}.conf`);
    const knownHostsFile = doorKnownHostsPath(entry);
    // What the broker's certificate answer carries in ephemeral mode.
    const cas = doorHostCas([formatPublicKeyLine(hostCa.publicKey, 'airlock-host-ca')], undefined);
    const text = doorSshConfig({
      requestId,
      principal: 'alice',
      privateKey: user.keyPath,
      certificatePath: user.certPath,
      door: `127.0.0.1:${door.port}`,
      validBefore: '2026-12-31T00:00:00Z',
      knownHostsFile,
    });
    await writeDoorSshConfig(entry, text, { path: knownHostsFile, text: doorKnownHosts(requestId, cas) });
    // The door is an ordinary host, pinned in the user's own known_hosts (out of this test's scope).
    const doorKnownHostsFile = join(dir, 'door_known_hosts');
    writeFileSync(doorKnownHostsFile, `${door.knownHostsLine}\n`);
    const config = join(dir, 'config');
    writeFileSync(
      config,
      `Include ${entry}\nHost *\n  UserKnownHostsFile ${doorKnownHostsFile}\n  StrictHostKeyChecking yes\n  BatchMode yes\n`,
    );
    return config;
  }

  it('connects to the mediator whose host certificate names the request, with StrictHostKeyChecking yes', async () => {
    const result = await sshWithConfig(await certDoorEntry(requestA), requestA, ['whoami']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`request:    ${requestA}`);
  });

  it.each([
    ['a host certificate for another request id', requestB],
    ['no host certificate at all', requestC],
  ])('refuses a mediator with %s: exit 255, host key verification failed', async (_, requestId) => {
    const result = await sshWithConfig(await certDoorEntry(requestId), requestId, ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Host key verification failed');
    // The door let the jump through: the refusal is the client's, at the mediator's host key.
    expect(
      door.audit
        .events()
        .some((e) => e.event === 'door.connect' && e.request_id === requestId && e.decision === 'allow'),
    ).toBe(true);
  });
});
