/**
 * Webhook notifications: delivered off the request path to a real local
 * HTTPS server, retried with backoff, logged on final failure, never failing
 * the request.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTierCa, issueServingCertificate } from '../core/x509/index.js';
import type { AccessRequest } from './request-store.js';
import { type BrokerTestEnv, startBrokerTestEnv } from './testing.js';
import { createWebhookNotifier, notificationText } from './webhook-notifier.js';

/** A local HTTPS webhook that answers each POST with the next status of `script` (then 200). */
interface FakeWebhook {
  readonly url: string;
  readonly bodies: unknown[];
  /** Statuses still to answer with, in order; empty: 200. `hold` keeps the response open until release(). */
  script: (number | 'hold')[];
  release(): void;
  stop(): Promise<void>;
}

let dir: string;
let caFile: string;
let serving: { key: string; cert: string };

async function startWebhook(script: (number | 'hold')[] = []): Promise<FakeWebhook> {
  const bodies: unknown[] = [];
  const held: (() => void)[] = [];
  const hook: FakeWebhook = {
    url: '',
    bodies,
    script,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer(serving, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      const next = hook.script.shift() ?? 200;
      const answer = (status: number) => res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      if (next === 'hold') held.push(() => answer(200));
      else answer(next);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  (hook as { url: string }).url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/airlock`;
  return hook;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-webhook-'));
  const ca = await createTierCa({ tier: 'broker', now: new Date(Date.now() - 60_000) });
  caFile = join(dir, 'webhook-ca.pem');
  writeFileSync(caFile, ca.certPem);
  const cert = await issueServingCertificate(ca, { ipAddresses: ['127.0.0.1'], now: new Date() });
  serving = { key: cert.privateKeyPem ?? '', cert: cert.certPem };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('broker webhook notifications', () => {
  let env: BrokerTestEnv;
  let hook: FakeWebhook;
  let keyLine: string;

  beforeAll(async () => {
    hook = await startWebhook();
    env = await startBrokerTestEnv({
      kubeCertificatesCluster: false,
      webhook: { url: hook.url, caFile, maxAttempts: 4, initialBackoffMs: 20 },
    });
    const keyPath = join(env.dir, 'id_hook');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hook', '-f', keyPath]);
    keyLine = readFileSync(`${keyPath}.pub`, 'utf8').trim();
  });
  afterAll(async () => {
    await env?.stop();
    await hook?.stop();
  });

  const pendingRequest = async () =>
    env.call('POST', '/v1/requests', await env.provider.mintIdToken('alice'), {
      profile: 'oncall-debug',
      cluster: 'prod-eu',
      namespace: 'payments',
      podPatterns: ['payments-api-*'],
      reason: 'checkout is slow <!channel>',
      ttlSeconds: 1200,
      sshPublicKey: keyLine,
    });

  it('answers the request while the webhook is still busy; delivers a decision after two failures', async () => {
    hook.script = ['hold'];
    // The webhook holds its answer: the request must not wait for it.
    const created = await pendingRequest();
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('pending');
    await until(() => hook.bodies.length === 1, 'the first delivery');
    const text = (hook.bodies[0] as { text: string }).text;
    expect(text).toContain(`Request ${created.body.id}`);
    expect(text).toContain('needs 1 approval(s) from payments-leads');
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toContain('<!channel>');
    // The held answer is a success: that notice is done (the next bodies are all the approval's).
    hook.script = [500, 503];
    hook.release();

    // A decision, with the webhook failing twice first: three attempts, the same body each time.
    await until(() => hook.script.length === 2, 'nothing else consumed the script');
    hook.bodies.length = 0;
    const approved = await env.call(
      'POST',
      `/v1/requests/${created.body.id}/approve`,
      await env.provider.mintIdToken('bob'),
      {},
    );
    expect(approved.body.status).toBe('approved');
    await until(() => hook.bodies.length === 3, 'three attempts');
    expect(hook.bodies[0]).toEqual({
      text: `airlock: request ${created.body.id} (alice, oncall-debug on prod-eu/payments) was approved by bob.`,
    });
    expect(hook.bodies[1]).toEqual(hook.bodies[0]);
    expect(hook.bodies[2]).toEqual(hook.bodies[0]);
    expect(env.logs.filter((l) => String(l.message).startsWith('webhook'))).toEqual([]);
  });

  it('does not notify auto-approved requests, which need no one', async () => {
    hook.bodies.length = 0;
    const created = await env.call('POST', '/v1/requests', await env.provider.mintIdToken('alice'), {
      profile: 'oncall-debug',
      cluster: 'prod-eu',
      namespace: 'payments',
      podPatterns: ['payments-api-*'],
      reason: 'INC-4711',
      ttlSeconds: 900,
      sshPublicKey: keyLine,
    });
    expect(created.body.status).toBe('approved');
    // Revocation is a decision: that one is sent.
    await env.call(
      'POST',
      `/v1/requests/${created.body.id}/revoke`,
      await env.provider.mintIdToken('alice'),
      {},
    );
    await until(() => hook.bodies.length === 1, 'the revocation notice');
    expect((hook.bodies[0] as { text: string }).text).toContain('was revoked by alice');
  });
});

describe('createWebhookNotifier', () => {
  const request = {
    id: 'req-1',
    requester: { user: 'alice', groups: [], kind: 'human' },
    scope: {
      profile: 'p',
      cluster: 'c',
      namespace: 'n',
      podPatterns: ['a-*'],
      ttlSeconds: 600,
      reason: 'r',
    },
    decision: { decision: 'needs-approval', reasons: [], approvers: { groups: ['leads'], count: 1 } },
    approvals: [],
  } as unknown as AccessRequest;

  /** A notifier to `hook` that logs into `logs`; it trusts the test CA unless `ca` is given, and backs off 10 ms. */
  function notifierTo(
    hook: FakeWebhook,
    options: { maxAttempts: number; initialBackoffMs?: number; ca?: undefined },
  ) {
    const logs: Record<string, unknown>[] = [];
    const notifier = createWebhookNotifier({
      url: hook.url,
      ca: 'ca' in options ? options.ca : readFileSync(caFile, 'utf8'),
      maxAttempts: options.maxAttempts,
      initialBackoffMs: options.initialBackoffMs ?? 10,
      log: (e) => logs.push(e),
    });
    return { notifier, logs };
  }

  it('gives up after maxAttempts and logs the failure with the request id', async () => {
    const hook = await startWebhook([500, 500, 500, 500]);
    const { notifier, logs } = notifierTo(hook, { maxAttempts: 3 });
    notifier.notify({ kind: 'pending', request, actor: 'alice' });
    await notifier.idle();
    expect(hook.bodies).toHaveLength(3);
    expect(logs).toEqual([
      {
        level: 'error',
        message: 'webhook notification failed: HTTP 500',
        request_id: 'req-1',
        notification: 'pending',
        attempts_max: 3,
      },
    ]);
    await hook.stop();
  });

  it('does not retry a refusal (4xx other than 408/429)', async () => {
    const hook = await startWebhook([404]);
    const { notifier, logs } = notifierTo(hook, { maxAttempts: 5 });
    notifier.notify({ kind: 'denied', request, actor: 'bob' });
    await notifier.idle();
    expect(hook.bodies).toHaveLength(1);
    expect(logs[0]?.message).toBe('webhook notification failed: HTTP 404');
    await hook.stop();
  });

  it('retries an unreachable or untrusted webhook and logs, never throwing from notify', async () => {
    const hook = await startWebhook();
    // No CA given: the self-made serving certificate is not trusted.
    const { notifier, logs } = notifierTo(hook, { maxAttempts: 2, ca: undefined });
    expect(() => notifier.notify({ kind: 'revoked', request, actor: 'erin' })).not.toThrow();
    await notifier.idle();
    expect(hook.bodies).toHaveLength(0);
    expect(logs).toHaveLength(1);
    expect(String(logs[0]?.message)).toMatch(/^webhook notification failed: cannot reach/);
    await hook.stop();
  });

  it('stops retrying at close and says so', async () => {
    const hook = await startWebhook([500, 500]);
    const { notifier, logs } = notifierTo(hook, { maxAttempts: 5, initialBackoffMs: 60_000 });
    notifier.notify({ kind: 'approved', request, actor: 'bob' });
    await until(() => hook.bodies.length === 1, 'the first attempt');
    await notifier.close();
    expect(logs.map((l) => l.message)).toEqual(['webhook notification dropped at shutdown']);
    await hook.stop();
  });

  it('formats Slack text and escapes what users typed', () => {
    const text = notificationText({
      kind: 'denied',
      request: { ...request, denial: { user: 'bob', at: '', comment: 'no <@U123> & no' } } as AccessRequest,
      actor: 'bob',
    });
    expect(text).toBe(
      'airlock: request req-1 (alice, p on c/n) was denied by bob: no &lt;@U123&gt; &amp; no',
    );
    expect(notificationText({ kind: 'denied', request, actor: 'alice' })).toBe(
      'airlock: request req-1 (alice, p on c/n) was withdrawn.',
    );
  });
});
