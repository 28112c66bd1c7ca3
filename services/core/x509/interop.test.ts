/**
 * Interop with the real OpenSSL CLI and Node's TLS stack: what airlock
 * issues must be accepted by the tools and libraries that will consume it.
 * Times are real (`new Date()`), since openssl and tls use the wall clock.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaBundle } from './ca-bundle.js';
import { issueServingCertificate, issueSessionGrant } from './leaf-issuer.js';
import { verifyPeerCertificate } from './peer-verifier.js';
import { parseSessionGrant } from './session-grant.js';
import { createTierCa, loadTierCa, type TierCa } from './tier-ca.js';

const HOUR = 3_600_000;
const SCOPE = 'ef'.repeat(32);
const dir = mkdtempSync(join(tmpdir(), 'airlock-x509-'));

let mediatorCa: TierCa;
let executorCa: TierCa;
let rogueMediatorCa: TierCa;
let serving: { certPem: string; privateKeyPem: string };
let grant: { certPem: string; privateKeyPem: string };
let rogueGrant: { certPem: string; privateKeyPem: string };

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

function openssl(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

beforeAll(async () => {
  const now = new Date();
  [mediatorCa, executorCa, rogueMediatorCa] = await Promise.all([
    createTierCa({ tier: 'mediator', now }),
    createTierCa({ tier: 'executor', now }),
    createTierCa({ tier: 'mediator', now }),
  ]);
  const issuedServing = await issueServingCertificate(executorCa, {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    now,
  });
  const grantRequest = {
    sessionId: 'tls-1',
    user: 'alice',
    scopeDigest: SCOPE,
    notAfter: new Date(now.getTime() + HOUR),
    now,
  };
  const issuedGrant = await issueSessionGrant(mediatorCa, grantRequest);
  const issuedRogue = await issueSessionGrant(rogueMediatorCa, grantRequest);
  serving = { certPem: issuedServing.certPem, privateKeyPem: issuedServing.privateKeyPem! };
  grant = { certPem: issuedGrant.certPem, privateKeyPem: issuedGrant.privateKeyPem! };
  rogueGrant = { certPem: issuedRogue.certPem, privateKeyPem: issuedRogue.privateKeyPem! };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openssl', () => {
  it('verifies a session grant for client use and refuses it for server use', () => {
    const ca = file('mediator-ca.pem', mediatorCa.certPem);
    const leaf = file('grant.pem', grant.certPem);
    const ok = openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', ca, leaf]);
    expect(ok.output).toContain(`${leaf}: OK`);
    expect(ok.status).toBe(0);
    const wrongPurpose = openssl(['verify', '-purpose', 'sslserver', '-CAfile', ca, leaf]);
    expect(wrongPurpose.status).not.toBe(0);
    expect(wrongPurpose.output).toContain('unsuitable certificate purpose');
  });

  it('verifies a serving certificate for server use', () => {
    const ca = file('executor-ca.pem', executorCa.certPem);
    const leaf = file('serving.pem', serving.certPem);
    const ok = openssl([
      'verify',
      '-x509_strict',
      '-purpose',
      'sslserver',
      '-verify_ip',
      '127.0.0.1',
      '-CAfile',
      ca,
      leaf,
    ]);
    expect(ok.status).toBe(0);
  });

  it('refuses a grant under another CA', () => {
    const ca = file('rogue-ca.pem', rogueMediatorCa.certPem);
    const result = openssl(['verify', '-CAfile', ca, file('grant2.pem', grant.certPem)]);
    expect(result.status).not.toBe(0);
  });

  it('shows the profile in x509 -text', () => {
    const grantText = execFileSync(
      'openssl',
      ['x509', '-noout', '-text', '-in', file('g.pem', grant.certPem)],
      {
        encoding: 'utf8',
      },
    );
    expect(grantText).toMatch(/X509v3 Extended Key Usage: *\n *TLS Web Client Authentication\n/);
    expect(grantText).toContain(`URI:airlock://session/tls-1?user=alice&scope=${SCOPE}`);
    expect(grantText).toMatch(/X509v3 Basic Constraints: critical\n *CA:FALSE/);
    expect(grantText).toMatch(/Subject: CN ?= ?session:tls-1, O ?= ?airlock-mediator/);
    expect(grantText).toContain('ecdsa-with-SHA256');

    const servingText = execFileSync(
      'openssl',
      ['x509', '-noout', '-text', '-in', file('s.pem', serving.certPem)],
      {
        encoding: 'utf8',
      },
    );
    expect(servingText).toMatch(/X509v3 Extended Key Usage: *\n *TLS Web Server Authentication\n/);
    expect(servingText).toContain('DNS:localhost, IP Address:127.0.0.1');

    const caText = execFileSync(
      'openssl',
      ['x509', '-noout', '-text', '-in', file('c.pem', mediatorCa.certPem)],
      {
        encoding: 'utf8',
      },
    );
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\n *CA:TRUE, pathlen:0/);
    expect(caText).toMatch(/X509v3 Key Usage: critical\n *Certificate Sign, CRL Sign/);
  });
});

describe('Node tls mTLS handshake', () => {
  interface Outcome {
    serverAuthorized: boolean;
    serverError: string | undefined;
    clientError: string | undefined;
    /** What the server wrote after accepting the client ('ok'). */
    clientReceived: string;
    peerDer: Buffer | undefined;
  }

  async function handshake(
    client: { certPem: string; privateKeyPem: string },
    trustedClientCas: string = mediatorCa.certPem,
  ): Promise<Outcome> {
    const outcome: Outcome = {
      serverAuthorized: false,
      serverError: undefined,
      clientError: undefined,
      clientReceived: '',
      peerDer: undefined,
    };
    const server = tls.createServer({
      cert: serving.certPem,
      key: serving.privateKeyPem,
      ca: trustedClientCas,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    const serverDone = new Promise<void>((resolve) => {
      server.on('secureConnection', (socket) => {
        outcome.serverAuthorized = socket.authorized;
        outcome.peerDer = socket.getPeerCertificate().raw;
        socket.end('ok');
        resolve();
      });
      server.on('tlsClientError', (error) => {
        outcome.serverError = (error as NodeJS.ErrnoException).code ?? error.message;
        resolve();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: executorCa.certPem,
      cert: client.certPem,
      key: client.privateKeyPem,
    });
    const clientDone = new Promise<void>((resolve) => {
      socket.on('error', (error: NodeJS.ErrnoException) => {
        outcome.clientError = error.code ?? error.message;
        resolve();
      });
      socket.on('close', () => resolve());
      socket.resume();
      socket.on('data', (chunk: Buffer) => {
        outcome.clientReceived += chunk.toString('utf8');
      });
    });
    await serverDone;
    await clientDone;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return outcome;
  }

  it('succeeds with the serving certificate and a session grant of the trusted CA', async () => {
    const outcome = await handshake(grant);
    expect(outcome.serverError).toBeUndefined();
    expect(outcome.clientError).toBeUndefined();
    expect(outcome.serverAuthorized).toBe(true);
    expect(outcome.clientReceived).toBe('ok');
    // What the executor does next: re-check the grant with airlock's own rules and read its identity.
    const verified = await verifyPeerCertificate(outcome.peerDer!, {
      trustedCas: [mediatorCa.certPem],
      usage: 'client',
      now: new Date(),
      expectedTier: 'mediator',
    });
    expect(verified.fingerprint).toBe(parseSessionGrant(grant.certPem).fingerprint);
    expect(parseSessionGrant(outcome.peerDer!)).toMatchObject({ sessionId: 'tls-1', user: 'alice' });
  });

  it('fails with a session grant from another CA', async () => {
    const outcome = await handshake(rogueGrant);
    expect(outcome.serverAuthorized).toBe(false);
    expect(outcome.peerDer).toBeUndefined();
    // TLS 1.3 authenticates the client after the client's Finished (RFC 8446 §4.4), so the
    // client sees its handshake complete; the server then aborts without serving anything.
    expect(outcome.serverError).toBeDefined();
    expect(outcome.clientReceived).toBe('');
  });

  it('accepts grants of both CAs of a same-day rotation bundle, and neither after pruning the old', async () => {
    const now = new Date();
    const next = await createTierCa({ tier: 'mediator', now });
    const bundle = CaBundle.of(mediatorCa).rotate(next, { now, maxLeafLifetimeSeconds: 3600 });
    const nextGrant = await issueSessionGrant(next, {
      sessionId: 'tls-2',
      user: 'bob',
      scopeDigest: SCOPE,
      notAfter: new Date(now.getTime() + HOUR),
      now,
    });
    const nextClient = { certPem: nextGrant.certPem, privateKeyPem: nextGrant.privateKeyPem! };
    expect((await handshake(grant, bundle.pemBundle())).clientReceived).toBe('ok');
    expect((await handshake(nextClient, bundle.pemBundle())).clientReceived).toBe('ok');
    const pruned = bundle.remove(mediatorCa.fingerprint, { now, force: true });
    expect((await handshake(grant, pruned.pemBundle())).clientReceived).toBe('');
  });
});

describe('a tier CA made by openssl', () => {
  it('loads with loadTierCa and issues leaves openssl verifies', async () => {
    const key = join(dir, 'openssl-ca.key');
    const cert = join(dir, 'openssl-ca.pem');
    const made = openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      '/CN=airlock executor CA manual/O=airlock',
      '-days',
      '2',
      '-out',
      cert,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    expect(made.status).toBe(0);
    const { readFileSync } = await import('node:fs');
    const ca = await loadTierCa(readFileSync(cert, 'utf8'), readFileSync(key, 'utf8'));
    expect(ca.tier).toBe('executor');
    const leaf = await issueServingCertificate(ca, { dnsNames: ['localhost'], now: new Date() });
    const verified = openssl([
      'verify',
      '-x509_strict',
      '-purpose',
      'sslserver',
      '-CAfile',
      cert,
      file('o.pem', leaf.certPem),
    ]);
    expect(verified.status).toBe(0);
  });
});
