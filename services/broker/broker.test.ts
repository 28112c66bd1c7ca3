import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
import { env, manualRequest, token, useBrokerEnv } from './broker-test-support.js';
import { TEST_CLIENT_ID } from './testing.js';

useBrokerEnv();

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
