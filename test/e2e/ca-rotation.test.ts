/**
 * CA rotation under load, on the running dev stack, with no restart: while
 * real `ssh` sessions keep opening, `airlock ca rotate` adds, switches to
 * and retires a new SSH user CA (broker), mediator tier CA (session grants)
 * and executor tier CA (serving certificate). Every session opened before,
 * during and after each rotation succeeds; afterwards a credential from a
 * retired CA is refused: an SSH certificate with CERT_UNTRUSTED_CA, a
 * session grant at the executor's TLS handshake, an executor serving
 * certificate by the bundle the mediator trusts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import type { BrokerClientIo } from '../../services/cli/commands/broker-client-io.js';
import { type CaRotateOptions, runCaRotate } from '../../services/cli/commands/ca-rotate.js';
import { runCert } from '../../services/cli/commands/cert-command.js';
import { runRequest } from '../../services/cli/commands/request-commands.js';
import { type DevStack, startDevStack } from '../../services/cli/dev/dev-stack.js';
import { BUNDLE_FILE, type CaKind } from '../../services/core/ca-keyring/keyring.js';
import { readSshCaKeyring, readTierCaKeyring } from '../../services/core/ca-keyring/keyring-files.js';
import { parseCaBundle } from '../../services/core/ca-keyring/watch.js';
import { ExecutorClient } from '../../services/core/rpc/executor-client.js';
import { parseCertificateLine } from '../../services/core/ssh-cert/index.js';
import {
  issueServingCertificate,
  issueSessionGrant,
  loadTierCa,
  type TierCa,
  verifyPeerCertificate,
} from '../../services/core/x509/index.js';
import { waitFor } from '../support/wait.js';

/** The tiers re-read a changed file within a second. */
const RELOAD = () => sleep(1500);

/** An SSH identity in a directory of its own, so `ssh` offers exactly this certificate. */
interface Credential {
  keyPath: string;
  certPath: string;
}

/** One `ssh … pods` session: its exit code and, when it failed, what it said (the airlock code). */
function ssh(stack: DevStack, credential: Credential): Promise<{ code: number | null; said: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-p',
        String(stack.sshPort),
        '-i',
        credential.keyPath,
        '-o',
        `CertificateFile=${credential.certPath}`,
        '-o',
        `UserKnownHostsFile=${stack.knownHostsPath}`,
        'oncall@127.0.0.1',
        'pods',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let said = '';
    child.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString('utf8');
    });
    child.on('close', (code) => resolve({ code, said: code === 0 ? '' : said.trim() }));
  });
}

/**
 * Sessions opened back to back by `workers` loops, each with the current
 * credential and labelled with the current phase.
 */
function startLoad(stack: DevStack, first: Credential, workers = 2) {
  let credential = first;
  let phase = 'before';
  let stopped = false;
  const results: { phase: string; code: number | null; said: string }[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped) {
      const label = phase;
      const session = ssh(stack, credential);
      inFlight.add(session);
      const { code, said } = await session;
      inFlight.delete(session);
      results.push({ phase: label, code, said });
    }
  });
  return {
    results,
    /** Labels the sessions opened from now on; resolves once one of them has completed. */
    async enter(next: string) {
      phase = next;
      while (!results.some((r) => r.phase === next)) await sleep(100);
    },
    use(next: Credential) {
      credential = next;
    },
    /** Waits for every session open now to finish (new ones carry the new credentials). */
    async drain() {
      await Promise.all([...inFlight]);
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

describe('CA rotation under load on the running gateway', () => {
  it('rotates the SSH user, mediator and executor CAs while sessions open; retired CAs are refused', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-rotation-'));
    let tierNotes: string[] = [];
    const stack = await startDevStack(stateDir, () => {});
    const rotate = (ca: CaKind, step: string, options: Partial<CaRotateOptions> = {}) =>
      runCaRotate(ca, step, { dir: stack.caDirs[ca], ...options }, { out: () => {}, now: () => new Date() });
    const oncall = stack.users.oncall!;
    const credential = (name: string, certSource?: string): Credential => {
      const dir = join(stateDir, 'credentials', name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const keyPath = join(dir, 'id_ed25519');
      copyFileSync(oncall.keyPath, keyPath);
      copyFileSync(`${oncall.keyPath}.pub`, `${keyPath}.pub`);
      if (certSource) copyFileSync(certSource, `${keyPath}-cert.pub`);
      return { keyPath, certPath: `${keyPath}-cert.pub` };
    };
    const brokerIo: BrokerClientIo = {
      out: () => {},
      err: () => {},
      configDir: join(stateDir, 'users', 'oncall', 'dev-up-login'),
      homeDir: stateDir,
      now: () => new Date(),
      sleep: (ms) => sleep(ms),
    };
    const auditCodes = (code: string) =>
      readFileSync(join(stateDir, 'audit', 'mediator.jsonl'), 'utf8').split(`"code":"${code}"`).length - 1;

    const first = credential('first', oncall.certPath);
    const load = startLoad(stack, first);
    try {
      await load.enter('before');

      // 1. The SSH user CA (the broker signs; mediator and executor trust the bundle).
      const oldSshCa = readSshCaKeyring(stack.caDirs['ssh-user']).active;
      await load.enter('ssh-user: add');
      await rotate('ssh-user', 'add');
      await RELOAD();
      await load.enter('ssh-user: switch');
      await rotate('ssh-user', 'switch', { maxLifetime: '0s' });
      await RELOAD();
      const newSshCa = readSshCaKeyring(stack.caDirs['ssh-user']).active;
      expect(newSshCa.publicKey.blob).not.toEqual(oldSshCa.publicKey.blob);
      // A new certificate from the broker, signed by the new key without a broker restart.
      const next = credential('after-ssh-user');
      let created = '';
      await runRequest(
        {
          profile: 'oncall-debug',
          cluster: 'dev',
          namespace: 'payments',
          pod: ['payments-*'],
          ttl: '30m',
          reason: 'INC-4711 CA rotation under load',
          key: `${next.keyPath}.pub`,
          json: true,
        },
        {
          ...brokerIo,
          out: (text) => {
            created += text;
          },
        },
      );
      await runCert((JSON.parse(created) as { id: string }).id, { key: `${next.keyPath}.pub` }, brokerIo);
      const issued = parseCertificateLine(readFileSync(next.certPath, 'utf8'));
      expect(issued.certificate.signatureKey.blob).toEqual(newSshCa.publicKey.blob);
      load.use(next);
      await load.enter('ssh-user: new certificate');
      await load.drain();
      const untrustedBefore = auditCodes('CERT_UNTRUSTED_CA');
      await rotate('ssh-user', 'retire');
      await RELOAD();
      await load.enter('ssh-user: retired');
      expect((await ssh(stack, first)).code).toBe(255);
      await sleep(200);
      expect(auditCodes('CERT_UNTRUSTED_CA')).toBeGreaterThan(untrustedBefore);

      const executorBundle = () => readFileSync(join(stack.caDirs.executor, BUNDLE_FILE.executor), 'utf8');
      /** Opens a session at the executor with a grant from `ca`: 'OK' or the refusal's code. */
      const openWithGrant = async (ca: TierCa) => {
        const sessionId = randomBytes(8).toString('hex');
        const grant = await issueSessionGrant(ca, {
          sessionId,
          user: 'oncall',
          scopeDigest: '0'.repeat(64),
          notAfter: new Date(Date.now() + 600_000),
          now: new Date(),
        });
        const client = new ExecutorClient({
          address: `127.0.0.1:${stack.executorPort}`,
          executorCaPem: executorBundle(),
          grantCertPem: grant.certPem,
          grantKeyPem: grant.privateKeyPem!,
          sessionId,
        });
        try {
          await client.openSession(
            {
              ssh_certificate: Buffer.alloc(0),
              auth_signature: Buffer.alloc(0),
              auth_signed_data: Buffer.alloc(0),
              client_address: '127.0.0.1',
              session_id: sessionId,
              principal: 'oncall',
            },
            { deadline: new Date(Date.now() + 10_000) },
          );
          return { code: 'OK', grant: grant.certPem };
        } catch (error) {
          return { code: (error as { code?: string }).code, grant: grant.certPem };
        } finally {
          client.close();
        }
      };

      // 2. The mediator tier CA (the mediator issues session grants; the executor trusts the bundle).
      const oldMediator = readTierCaKeyring(stack.caDirs.mediator, 'mediator').active;
      const oldMediatorCa = await loadTierCa(oldMediator.certPem, oldMediator.keyPem);
      await load.enter('mediator: add');
      await rotate('mediator', 'add');
      // Switch only once the executor takes the added CA's grants: its serving side re-reads the
      // bundle on a 1 s timer through a getter that checks the file at most once a second, so
      // up to about 2 s, longer on a loaded machine. Taken, a grant gets through to the session
      // checks (CERT_MALFORMED: the test sends no SSH certificate), not refused at the handshake.
      const added = readTierCaKeyring(stack.caDirs.mediator, 'mediator').manifest.keys.at(-1)!;
      const addedCa = await loadTierCa(
        readFileSync(join(stack.caDirs.mediator, `${added.name}.crt`), 'utf8'),
        readFileSync(join(stack.caDirs.mediator, `${added.name}.key`), 'utf8'),
      );
      let taken: string | undefined;
      await waitFor(
        async () => {
          taken = (await openWithGrant(addedCa)).code;
          return taken === 'CERT_MALFORMED';
        },
        15_000,
        200,
      );
      expect(taken).toBe('CERT_MALFORMED');
      await load.enter('mediator: switch');
      await rotate('mediator', 'switch', { maxLifetime: '0s' });
      await RELOAD();
      await load.enter('mediator: switched');
      await load.drain();
      await rotate('mediator', 'retire');
      await RELOAD();
      await load.enter('mediator: retired');
      const newMediator = readTierCaKeyring(stack.caDirs.mediator, 'mediator').active;
      const newMediatorCa = await loadTierCa(newMediator.certPem, newMediator.keyPem);
      // The executor refuses the retired CA's grant: at the TLS handshake once its serving side
      // has reloaded the bundle (checked every second: nothing reaches the service,
      // EXECUTOR_UNAVAILABLE), and before that by OpenSession's own check of the grant against
      // the current bundle (GRANT_INVALID). The new CA's grant gets through to the session checks.
      const retiredGrant = await openWithGrant(oldMediatorCa);
      expect(['EXECUTOR_UNAVAILABLE', 'GRANT_INVALID']).toContain(retiredGrant.code);
      const currentGrant = await openWithGrant(newMediatorCa);
      expect(currentGrant.code).toBe('CERT_MALFORMED');
      const mediatorBundle = parseCaBundle(
        readFileSync(join(stack.caDirs.mediator, BUNDLE_FILE.mediator), 'utf8'),
      ).certPems;
      await expect(
        verifyPeerCertificate(retiredGrant.grant, {
          trustedCas: mediatorBundle,
          usage: 'client',
          now: new Date(),
          expectedTier: 'mediator',
        }),
      ).rejects.toMatchObject({ code: 'X509_UNTRUSTED' });

      // 3. The executor tier CA (the executor's serving certificate; the mediator trusts the bundle).
      const oldExecutor = readTierCaKeyring(stack.caDirs.executor, 'executor').active;
      const oldExecutorCa = await loadTierCa(oldExecutor.certPem, oldExecutor.keyPem);
      await load.enter('executor: add');
      await rotate('executor', 'add');
      await RELOAD();
      await load.enter('executor: switch');
      await rotate('executor', 'switch', { maxLifetime: '0s' });
      await RELOAD();
      await load.enter('executor: switched');
      // The executor now serves a certificate from the new CA alone.
      const newExecutor = readTierCaKeyring(stack.caDirs.executor, 'executor').active;
      // The client side of the executor's mTLS, with a grant from the current mediator CA.
      const grant = await issueSessionGrant(newMediatorCa, {
        sessionId: 'handshake',
        user: 'oncall',
        scopeDigest: '0'.repeat(64),
        notAfter: new Date(Date.now() + 600_000),
        now: new Date(),
      });
      const handshake = (port: number, ca: string) =>
        new Promise<string>((resolve) => {
          const socket = connect({
            host: '127.0.0.1',
            port,
            ca,
            cert: grant.certPem,
            key: grant.privateKeyPem!,
            servername: 'localhost',
            ALPNProtocols: ['h2'],
          });
          socket.once('secureConnect', () => {
            socket.destroy();
            resolve('ok');
          });
          socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        });
      // The executor reloads its serving certificate within about a second: wait for it, not a fixed time.
      let served = '';
      await waitFor(
        async () => {
          served = await handshake(stack.executorPort, newExecutor.certPem);
          return served === 'ok';
        },
        15_000,
        200,
      );
      expect(served).toBe('ok');
      await load.drain();
      await rotate('executor', 'retire');
      await RELOAD();
      await load.enter('executor: retired');
      // A server still presenting the retired CA's certificate fails the mediator's trust bundle.
      const stale = await issueServingCertificate(oldExecutorCa, {
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
        now: new Date(),
      });
      const staleServer = createServer({ key: stale.privateKeyPem!, cert: stale.certPem }, (s) => s.end());
      await new Promise<void>((resolve) => staleServer.listen(0, '127.0.0.1', resolve));
      try {
        const port = (staleServer.address() as { port: number }).port;
        expect(await handshake(port, executorBundle())).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      } finally {
        staleServer.close();
      }
      await expect(
        verifyPeerCertificate(stale.certPem, {
          trustedCas: parseCaBundle(executorBundle()).certPems,
          usage: 'server',
          now: new Date(),
          expectedTier: 'executor',
        }),
      ).rejects.toMatchObject({ code: 'X509_UNTRUSTED' });
      // Each tier audited the CA changes it took, as `ca.changed`.
      const caChanges = (tier: string) =>
        readFileSync(join(stateDir, 'audit', `${tier}.jsonl`), 'utf8')
          .split('\n')
          .filter((line) => line.includes('"event":"ca.changed"'))
          .map((line) => (JSON.parse(line) as { reason: string }).reason);
      expect(new Set(caChanges('broker'))).toEqual(new Set(['SSH user CA keyring reloaded']));
      expect(new Set(caChanges('mediator'))).toEqual(
        new Set([
          'trusted SSH user CA keys reloaded',
          'mediator CA keyring reloaded',
          'executor CA bundle reloaded',
        ]),
      );
      expect(new Set(caChanges('executor'))).toEqual(
        new Set([
          'trusted SSH user CA keys reloaded',
          'mediator CA bundle reloaded',
          'executor CA keyring reloaded',
        ]),
      );
      await load.enter('after');
    } finally {
      await load.stop();
      await stack.stop();
      // What the tiers said of any failed session, for the failure message below.
      const lines = (file: string, keep: (line: string) => boolean) =>
        existsSync(join(stateDir, file))
          ? readFileSync(join(stateDir, file), 'utf8').split('\n').filter(keep).slice(-20)
          : [];
      tierNotes = [
        ...lines('audit/mediator.jsonl', (line) => line.includes('EXECUTOR_UNAVAILABLE')),
        ...lines('mediator.log', (line) => /refused|"level":(40|50)/.test(line)),
        ...lines('executor.log', (line) => /"level":(40|50)/.test(line)),
      ];
      rmSync(stateDir, { recursive: true, force: true });
    }

    // Every session of every phase succeeded, and every phase had sessions.
    expect([...new Set(load.results.map((r) => r.phase))]).toEqual([
      'before',
      ...['add', 'switch', 'new certificate', 'retired'].map((step) => `ssh-user: ${step}`),
      ...['add', 'switch', 'switched', 'retired'].map((step) => `mediator: ${step}`),
      ...['add', 'switch', 'switched', 'retired'].map((step) => `executor: ${step}`),
      'after',
    ]);
    expect(
      load.results.filter((r) => r.code !== 0),
      tierNotes.join('\n'),
    ).toEqual([]);
  }, 600_000);
});
