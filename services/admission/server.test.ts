import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../core/repo/repo-root.js';
import { createCsr } from '../core/x509/index.js';
import { clientCsrSpec } from './admission-review-test-support.js';
import { loadAdmissionConfig } from './config.js';
import { type RunningAdmission, startAdmission } from './main.js';
import { writeAdmissionTestFiles } from './testing.js';

const BROKER = 'system:serviceaccount:airlock-system:airlock-broker';

async function reviewBody(commonName: string, organizations: string[]): Promise<string> {
  const { csrPem } = await createCsr({ commonName, organizations, keyType: 'ecdsa-p256' });
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'uid-7',
      resource: { group: 'certificates.k8s.io', version: 'v1', resource: 'certificatesigningrequests' },
      subResource: 'approval',
      operation: 'UPDATE',
      userInfo: { username: BROKER },
      object: {
        metadata: { name: 'airlock-req-1-abcd' },
        spec: clientCsrSpec(csrPem, BROKER),
        status: { conditions: [{ type: 'Approved', status: 'True' }] },
      },
    },
  });
}

describe('the CSR approval webhook over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-admission-'));
  let admission: RunningAdmission;
  let ca: string;

  function call(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${admission.url}${path}`, {
        method,
        ca,
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  beforeAll(async () => {
    const files = await writeAdmissionTestFiles(dir, {
      policyFile: join(repoRoot(), 'docs', 'policy.example.json'),
      cluster: 'dev',
      namespaces: ['payments'],
    });
    ca = files.caPem;
    admission = await startAdmission(loadAdmissionConfig(files.configPath));
  });

  afterAll(async () => {
    await admission?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('allows a person with the example policy’s groups', async () => {
    // As the API server calls it: with the webhook's timeout as a query parameter.
    const answer = await call(
      'POST',
      '/csr-approval?timeout=10s',
      await reviewBody('alice', ['jit:oncall:payments']),
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'uid-7', allowed: true },
    });
  });

  it('refuses system:kube-controller-manager with its code, for the API server to show', async () => {
    const answer = await call(
      'POST',
      '/csr-approval',
      await reviewBody('system:kube-controller-manager', []),
    );
    expect(answer.status).toBe(200);
    const { response } = JSON.parse(answer.text);
    expect(response).toMatchObject({ uid: 'uid-7', allowed: false, status: { code: 403 } });
    expect(response.status.message).toMatch(
      /^CSR_SUBJECT_MISMATCH: subject CN "system:kube-controller-manager"/,
    );
    expect(response.auditAnnotations.code).toBe('CSR_SUBJECT_MISMATCH');
  });

  it('answers no verdict (HTTP 400, the API server then fails closed) to what is not a review', async () => {
    expect(await call('POST', '/csr-approval', 'not json')).toEqual({
      status: 400,
      text: 'ADMISSION_REVIEW_INVALID: body is not JSON\n',
    });
    const other = await call('POST', '/csr-approval', JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }));
    expect(other.status).toBe(400);
    expect(other.text).toMatch(/^ADMISSION_REVIEW_INVALID: /);
    expect((await call('GET', '/csr-approval')).status).toBe(404);
  });
});

describe('loadAdmissionConfig', () => {
  it('refuses a namespace or cluster name the group renderer would skip', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-admission-config-'));
    try {
      const { configPath } = await writeAdmissionTestFiles(dir, {
        policyFile: 'policy.json',
        cluster: 'prod:x',
        namespaces: ['Payments'],
      });
      expect(() => loadAdmissionConfig(configPath)).toThrow(/configuration .* is invalid/);
      try {
        loadAdmissionConfig(configPath);
      } catch (error) {
        expect((error as { detail: string }).detail).toMatch(/cluster: must match pattern/);
        expect((error as { detail: string }).detail).toMatch(/namespaces\.0: must match pattern/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
