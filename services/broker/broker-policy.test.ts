import { describe, expect, it } from 'vitest';
import { parseCertificateLine, sha256Fingerprint } from '../core/ssh-cert/index.js';
import { autoRequest, env, manualRequest, otherKeyLine, token, useBrokerEnv } from './broker-test-support.js';

useBrokerEnv();

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
