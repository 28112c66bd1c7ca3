import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_CODE_GRANT } from '../cli/dev/dev-oidc-provider.js';
import { verifyAuditFiles } from '../core/audit/index.js';
import { httpsCall } from '../core/https/https-client.js';
import {
  AIRLOCK_SCOPE_EXTENSION,
  parseAirlockScope,
  parseCertificateLine,
  parseDenyList,
  parsePublicKeyList,
  sha256Fingerprint,
} from '../core/ssh-cert/index.js';
import { type BrokerTestEnv, INCIDENT_BOT, startBrokerTestEnv, TEST_CLIENT_ID } from './testing.js';

let env: BrokerTestEnv;
let userKeyLine: string;
let otherKeyLine: string;

function sshKey(name: string): string {
  const path = join(env.dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

const manualRequest = () => ({
  profile: 'oncall-debug',
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['payments-api-*'],
  reason: 'latency on checkout',
  ttlSeconds: 1200,
  sshPublicKey: userKeyLine,
});

const autoRequest = () => ({ ...manualRequest(), reason: 'INC-1234 checkout latency', ttlSeconds: 900 });

async function token(user: string): Promise<string> {
  return env.provider.mintIdToken(user);
}

beforeAll(async () => {
  env = await startBrokerTestEnv();
  userKeyLine = sshKey('id_alice');
  otherKeyLine = sshKey('id_other');
});

afterAll(async () => {
  await env?.stop();
});

describe('broker: a person logs in with the device flow and gets a manually approved certificate', () => {
  it('device code → request → needs-approval → approved by a second user → certificate readable by ssh-keygen -L', async () => {
    // RFC 8628 device flow against the in-process provider, over HTTPS.
    const discovery = await httpsCall(`${env.provider.issuer}/.well-known/openid-configuration`, {
      ca: env.caPem,
    });
    const endpoints = discovery.body as { device_authorization_endpoint: string; token_endpoint: string };
    const start = await httpsCall(endpoints.device_authorization_endpoint, {
      ca: env.caPem,
      form: { client_id: TEST_CLIENT_ID, scope: 'openid' },
    });
    const device = start.body as { device_code: string; user_code: string; verification_uri: string };
    expect(device.verification_uri).toBe(`${env.provider.issuer}/device`);
    const pending = await httpsCall(endpoints.token_endpoint, {
      ca: env.caPem,
      form: { grant_type: DEVICE_CODE_GRANT, device_code: device.device_code, client_id: TEST_CLIENT_ID },
    });
    expect(pending.body).toEqual({ error: 'authorization_pending' });
    // The demo user approves on the verification page (the HTML form's POST).
    const page = await httpsCall(`${env.provider.issuer}/device`, {
      ca: env.caPem,
      form: { user_code: device.user_code.toLowerCase(), user: 'alice' },
    });
    expect(page.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    const granted = await httpsCall(endpoints.token_endpoint, {
      ca: env.caPem,
      form: { grant_type: DEVICE_CODE_GRANT, device_code: device.device_code, client_id: TEST_CLIENT_ID },
    });
    const aliceToken = (granted.body as { id_token: string }).id_token;
    expect(typeof aliceToken).toBe('string');

    expect((await env.call('GET', '/v1/whoami', aliceToken)).body).toEqual({
      user: 'alice',
      groups: ['payments-oncall'],
      kind: 'human',
    });

    const created = await env.call('POST', '/v1/requests', aliceToken, manualRequest());
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('pending');
    expect(created.body.decision.decision).toBe('needs-approval');
    const id: string = created.body.id;

    // Certificate before approval.
    const early = await env.call('POST', `/v1/requests/${id}/certificate`, aliceToken);
    expect(early).toEqual({ status: 409, body: { code: 'REQUEST_STATE', message: expect.any(String) } });

    const bob = await token('bob');
    const pendingForBob = await env.call('GET', '/v1/requests?pending=1', bob);
    expect(pendingForBob.body.requests.map((r: { id: string }) => r.id)).toContain(id);
    const pendingForAlice = await env.call('GET', '/v1/requests?pending=1', aliceToken);
    expect(pendingForAlice.body.requests.map((r: { id: string }) => r.id)).not.toContain(id);

    // Self-approval and an approver outside the approver groups are refused.
    expect(await env.call('POST', `/v1/requests/${id}/approve`, aliceToken, {})).toEqual({
      status: 403,
      body: { code: 'APPROVAL_NOT_ALLOWED', message: expect.stringContaining('own request') },
    });
    expect(await env.call('POST', `/v1/requests/${id}/approve`, await token('carol'), {})).toEqual({
      status: 403,
      body: { code: 'APPROVAL_NOT_ALLOWED', message: expect.stringContaining('payments-leads') },
    });

    const approvedAt = env.now();
    const approved = await env.call('POST', `/v1/requests/${id}/approve`, bob, { comment: 'go ahead' });
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');
    expect(approved.body.approvals).toEqual([{ user: 'bob', at: expect.any(String), comment: 'go ahead' }]);

    // Approving twice.
    expect(await env.call('POST', `/v1/requests/${id}/approve`, bob, {})).toEqual({
      status: 409,
      body: { code: 'REQUEST_STATE', message: expect.stringContaining('approved') },
    });
    // Someone else's certificate.
    expect(await env.call('POST', `/v1/requests/${id}/certificate`, bob)).toEqual({
      status: 403,
      body: { code: 'ACCESS_FORBIDDEN', message: expect.any(String) },
    });

    const cert = await env.call('POST', `/v1/requests/${id}/certificate`, aliceToken);
    expect(cert.status).toBe(200);
    expect(cert.body.keyId).toBe(`airlock:${id}:alice`);
    const again = await env.call('POST', `/v1/requests/${id}/certificate`, aliceToken);
    expect(again.body.serial).toBe(cert.body.serial);

    // Parsed back with the ssh-cert library.
    const { certificate } = parseCertificateLine(cert.body.certificate);
    expect(certificate.type).toBe('user');
    expect(certificate.principals).toEqual(['alice']);
    expect(certificate.keyId).toBe(`airlock:${id}:alice`);
    expect(certificate.serial.toString()).toBe(cert.body.serial);
    expect(sha256Fingerprint(certificate.publicKey.blob)).toBe(created.body.keyFingerprint);
    const [caKey] = parsePublicKeyList(env.sshCaPublicLine);
    expect(certificate.signatureKey.blob).toEqual(caKey?.blob);
    const after = BigInt(Math.floor(approvedAt.getTime() / 1000));
    expect(Number(certificate.validAfter - after)).toBeGreaterThanOrEqual(0);
    expect(Number(certificate.validAfter - after)).toBeLessThanOrEqual(2);
    expect(certificate.validBefore - certificate.validAfter).toBe(1200n);
    expect(Object.keys(certificate.extensions).sort()).toEqual([
      AIRLOCK_SCOPE_EXTENSION,
      'permit-port-forwarding',
    ]);
    expect(parseAirlockScope(certificate.extensions[AIRLOCK_SCOPE_EXTENSION] ?? '')).toEqual({
      cluster: 'prod-eu',
      namespace: 'payments',
      podPatterns: ['payments-api-*'],
      profile: 'oncall-debug',
      requestId: id,
      groups: ['jit:oncall:payments'],
    });

    // The real OpenSSH tool reads it.
    const certFile = join(env.dir, 'id_alice-cert.pub');
    writeFileSync(certFile, `${cert.body.certificate}\n`);
    const listing = execFileSync('ssh-keygen', ['-L', '-f', certFile], { encoding: 'utf8' });
    expect(listing).toContain('Type: ssh-ed25519-cert-v01@openssh.com user certificate');
    expect(listing).toContain(`Key ID: "airlock:${id}:alice"`);
    expect(listing).toContain(`Serial: ${cert.body.serial}`);
    expect(listing).toMatch(/Principals: \n\s+alice\n/);
    expect(listing).toMatch(/Valid: from \S+ to \S+/);
    expect(listing).toContain('permit-port-forwarding');
    expect(listing).not.toContain('permit-pty');
    expect(listing).toContain(AIRLOCK_SCOPE_EXTENSION);

    // Revocation writes the serial and key id to the deny list the mediator reads.
    expect((await env.call('POST', `/v1/requests/${id}/revoke`, await token('carol'), {})).body.code).toBe(
      'ACCESS_FORBIDDEN',
    );
    const revoked = await env.call('POST', `/v1/requests/${id}/revoke`, aliceToken, { comment: 'done' });
    expect(revoked.body.status).toBe('revoked');
    const deny = parseDenyList(readFileSync(env.config.denyListFile, 'utf8'));
    expect(deny.revocationReason(certificate)).toBeDefined();
    expect(await env.call('POST', `/v1/requests/${id}/certificate`, aliceToken)).toEqual({
      status: 409,
      body: { code: 'REQUEST_STATE', message: expect.stringContaining('revoked') },
    });
    expect(await env.call('POST', `/v1/requests/${id}/revoke`, aliceToken, {})).toMatchObject({
      status: 409,
      body: { code: 'REQUEST_STATE' },
    });
  });
});

describe('broker: policy decisions', () => {
  it('auto-approves an incident request and issues the certificate at once', async () => {
    const alice = await token('alice');
    const created = await env.call('POST', '/v1/requests', alice, autoRequest());
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('approved');
    expect(created.body.decision.rule).toBe('profiles.oncall-debug.approval.autoApprove[0](incident)');
    const cert = await env.call('POST', `/v1/requests/${created.body.id}/certificate`, alice);
    expect(cert.status).toBe(200);
    const { certificate } = parseCertificateLine(cert.body.certificate);
    expect(certificate.validBefore - certificate.validAfter).toBe(900n);
  });

  it('refuses requests the policy denies, with the policy code', async () => {
    const alice = await token('alice');
    const tooLong = await env.call('POST', '/v1/requests', alice, { ...manualRequest(), ttlSeconds: 7200 });
    expect(tooLong).toMatchObject({ status: 403, body: { code: 'TTL_TOO_LONG' } });
    const outside = await env.call('POST', '/v1/requests', alice, {
      ...manualRequest(),
      namespace: 'billing',
    });
    expect(outside).toMatchObject({ status: 403, body: { code: 'SCOPE_NAMESPACE' } });
    const badKey = await env.call('POST', '/v1/requests', alice, {
      ...manualRequest(),
      sshPublicKey: 'ssh-ed25519 AAAA',
    });
    expect(badKey).toMatchObject({ status: 400, body: { code: 'USAGE' } });
    const unknownField = await env.call('POST', '/v1/requests', alice, { ...manualRequest(), admin: true });
    expect(unknownField).toMatchObject({ status: 400, body: { code: 'USAGE' } });
  });

  it('expires a pending request after pendingExpirySeconds and refuses to approve it', async () => {
    const alice = await token('alice');
    const created = await env.call('POST', '/v1/requests', alice, manualRequest());
    env.advance(3601);
    try {
      const bob = await token('bob');
      expect(await env.call('POST', `/v1/requests/${created.body.id}/approve`, bob, {})).toEqual({
        status: 409,
        body: { code: 'REQUEST_EXPIRED', message: expect.any(String) },
      });
      expect((await env.call('GET', `/v1/requests/${created.body.id}`, bob)).body.status).toBe('expired');
    } finally {
      env.advance(-3601);
    }
  });

  it('lets an approver deny, and a denied request yields no certificate', async () => {
    const alice = await token('alice');
    const created = await env.call('POST', '/v1/requests', alice, manualRequest());
    const denied = await env.call('POST', `/v1/requests/${created.body.id}/deny`, await token('bob'), {
      comment: 'no',
    });
    expect(denied.body.status).toBe('denied');
    expect(await env.call('POST', `/v1/requests/${created.body.id}/certificate`, alice)).toMatchObject({
      status: 409,
      body: { code: 'REQUEST_STATE' },
    });
  });

  it('hides a request from people who are neither requester, approver nor admin', async () => {
    const created = await env.call('POST', '/v1/requests', await token('alice'), manualRequest());
    expect(await env.call('GET', `/v1/requests/${created.body.id}`, await token('carol'))).toMatchObject({
      status: 403,
      body: { code: 'ACCESS_FORBIDDEN' },
    });
    expect((await env.call('GET', `/v1/requests/${created.body.id}`, await token('erin'))).status).toBe(200);
    expect(await env.call('GET', '/v1/requests/req-00000000000000000000', await token('erin'))).toMatchObject(
      {
        status: 404,
        body: { code: 'REQUEST_NOT_FOUND' },
      },
    );
  });

  it('uses a certificate key other than the request key only if it is the request key', async () => {
    const alice = await token('alice');
    const created = await env.call('POST', '/v1/requests', alice, {
      ...autoRequest(),
      sshPublicKey: otherKeyLine,
    });
    const cert = await env.call('POST', `/v1/requests/${created.body.id}/certificate`, alice);
    const { certificate } = parseCertificateLine(cert.body.certificate);
    expect(sha256Fingerprint(certificate.publicKey.blob)).toBe(created.body.keyFingerprint);
  });
});

describe('broker: authentication refusals', () => {
  const expectRefused = async (tokenValue: string | undefined, code: string) => {
    const response = await env.call('GET', '/v1/requests?mine=1', tokenValue);
    expect(response).toEqual({ status: 401, body: { code, message: expect.any(String) } });
  };

  it('refuses a call without a token', async () => {
    await expectRefused(undefined, 'AUTH_REQUIRED');
  });

  it('refuses an expired token', async () => {
    await expectRefused(await env.provider.mintIdToken('alice', { expiresInSeconds: -60 }), 'AUTH_EXPIRED');
  });

  it('refuses a token signed by another key with the issuer and audience of the real one', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ preferred_username: 'alice', groups: ['payments-leads'] })
      .setProtectedHeader({ alg: 'ES256', kid: env.provider.jwk.kid ?? '' })
      .setIssuer(env.provider.issuer)
      .setAudience(TEST_CLIENT_ID)
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await exportJWK(publicKey)).x).not.toBe(env.provider.jwk.x);
    await expectRefused(forged, 'AUTH_INVALID');
  });

  it('refuses a token with an unsigned (alg none) header', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const body = Buffer.from(
      JSON.stringify({
        iss: env.provider.issuer,
        aud: TEST_CLIENT_ID,
        sub: 'bob',
        preferred_username: 'bob',
        iat: now,
        exp: now + 300,
      }),
    ).toString('base64url');
    await expectRefused(`${header}.${body}.`, 'AUTH_INVALID');
  });

  it('refuses a token for another audience', async () => {
    await expectRefused(
      await env.provider.mintIdToken('alice', { audience: 'some-other-app' }),
      'AUTH_INVALID',
    );
  });

  it('refuses a token naming another issuer, even when signed by the trusted key', async () => {
    await expectRefused(
      await env.provider.mintIdToken('alice', { issuer: 'https://evil.example' }),
      'AUTH_INVALID',
    );
  });

  it('refuses a malformed bearer token', async () => {
    await expectRefused('not-a-jwt', 'AUTH_INVALID');
  });
});

describe('broker: machine identities by TokenReview', () => {
  const saToken = (name: string) => {
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iss: 'https://kubernetes.default.svc', sub: name }),
    ).toString('base64url');
    return `${header}.${payload}.c2ln`;
  };

  it('a configured ServiceAccount requests its runbook and is auto-approved', async () => {
    const bot = saToken('bot');
    env.reviewer.add(bot, INCIDENT_BOT, ['system:serviceaccounts'], ['airlock-broker']);
    expect((await env.call('GET', '/v1/whoami', bot)).body).toEqual({
      user: INCIDENT_BOT,
      groups: ['runbook-runners'],
      kind: 'machine',
    });
    const created = await env.call('POST', '/v1/requests', bot, {
      ...manualRequest(),
      reason: 'health snapshot',
      ttlSeconds: 600,
      runbook: 'payments-health',
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('approved');
    const cert = await env.call('POST', `/v1/requests/${created.body.id}/certificate`, bot);
    expect(parseCertificateLine(cert.body.certificate).certificate.principals).toEqual([INCIDENT_BOT]);
    // A machine never approves.
    const pending = await env.call('POST', '/v1/requests', await token('alice'), manualRequest());
    expect((await env.call('POST', `/v1/requests/${pending.body.id}/approve`, bot, {})).body.code).toBe(
      'APPROVAL_NOT_ALLOWED',
    );
  });

  it('refuses tokens the API server rejects, tokens for another audience, and unlisted ServiceAccounts', async () => {
    expect((await env.call('GET', '/v1/whoami', saToken('unknown'))).body.code).toBe('AUTH_INVALID');
    const wrongAudience = saToken('aud');
    env.reviewer.add(wrongAudience, INCIDENT_BOT, [], ['kubernetes']);
    expect((await env.call('GET', '/v1/whoami', wrongAudience)).body.code).toBe('AUTH_INVALID');
    const other = saToken('other');
    env.reviewer.add(other, 'system:serviceaccount:ops:other', [], ['airlock-broker']);
    expect((await env.call('GET', '/v1/whoami', other)).body.code).toBe('AUTH_INVALID');
  });
});

describe('broker: durability and audit', () => {
  it('keeps requests across a restart (its store) and the audit trail verifies', async () => {
    const alice = await token('alice');
    const created = await env.call('POST', '/v1/requests', alice, manualRequest());
    await env.stopBroker();
    await env.restartBroker();
    const bob = await token('bob');
    const fetched = await env.call('GET', `/v1/requests/${created.body.id}`, bob);
    expect(fetched.body).toEqual(created.body);
    expect((await env.call('POST', `/v1/requests/${created.body.id}/approve`, bob, {})).body.status).toBe(
      'approved',
    );

    await env.stopBroker();
    const lines = readFileSync(env.config.audit.path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.type === 'event' && l.request_id === created.body.id);
    expect(events.map((e) => [e.event, e.actor.user, e.decision])).toEqual([
      ['request.created', 'alice', undefined],
      ['request.approved', 'bob', 'allow'],
    ]);
    const denied = lines.filter((l) => l.event === 'request.approved' && l.decision === 'deny');
    expect(denied.map((e) => e.code)).toContain('APPROVAL_NOT_ALLOWED');
    const auditKey = createPublicKey(createPrivateKey(readFileSync(env.config.audit.signingKeyFile)));
    const result = await verifyAuditFiles([env.config.audit.path], {
      publicKeys: [auditKey],
      requireClosed: true,
    });
    expect(result.problems).toEqual([]);
    await env.restartBroker();
  });
});
