/**
 * `airlock login --flow auth-code` against the real dev OpenID provider and
 * broker: the test plays the browser (the provider's login form over HTTPS,
 * then the redirect to the CLI's loopback listener).
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerTestEnv, startBrokerTestEnv, TEST_CLIENT_ID } from '../../broker/testing.js';
import { httpsCall } from '../../core/https/https-client.js';
import { registerBrokerClientCommands } from './broker-client.js';
import type { BrokerClientIo } from './broker-client-io.js';
import { capturedOutput } from './cli-test-support.js';
import { runLogin } from './login.js';
import { verifyLoginIdToken } from './oidc-auth-code.js';

let env: BrokerTestEnv;
let noDevice: BrokerTestEnv;

beforeAll(async () => {
  [env, noDevice] = await Promise.all([
    startBrokerTestEnv({ kubeCertificatesCluster: false }),
    startBrokerTestEnv({ kubeCertificatesCluster: false, deviceFlow: false }),
  ]);
});
afterAll(async () => {
  await Promise.all([env?.stop(), noDevice?.stop()]);
});

type TestIo = BrokerClientIo & { stdout: string[]; stderr: string[]; opened: string[] };

let counter = 0;
function personIo(on: BrokerTestEnv): TestIo {
  const home = join(on.dir, `home-${++counter}`);
  mkdirSync(home, { recursive: true });
  const opened: string[] = [];
  return {
    ...capturedOutput(),
    opened,
    configDir: join(home, '.config', 'airlock'),
    homeDir: home,
    now: () => on.now(),
    sleep: () => Promise.reject(new Error('the auth-code flow does not poll')),
    openBrowser: (url) => opened.push(url),
  };
}

/** Waits for the sign-in URL the CLI prints on stderr. */
async function printedUrl(io: TestIo): Promise<URL> {
  for (let i = 0; i < 200; i++) {
    const match = /open (https:\/\/\S+\/authorize\?\S+)/.exec(io.stderr.join(''));
    if (match) return new URL(match[1]!);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no sign-in URL printed: ${io.stderr.join('')}`);
}

/** The browser: the provider's login page, the demo user's button; returns the redirect URL. */
async function signInAt(on: BrokerTestEnv, authorize: URL, user: string): Promise<URL> {
  const page = await httpsCall(authorize.toString(), { ca: on.caPem });
  expect(page.status).toBe(200);
  const requestId = /name="request" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  const back = await httpsCall(`${on.provider.issuer}/authorize`, {
    ca: on.caPem,
    form: { request: requestId, user },
  });
  expect(back.status).toBe(302);
  return new URL(String(back.headers.location));
}

/** The browser follows the redirect to the CLI's listener. */
async function follow(redirect: URL): Promise<number> {
  expect(redirect.hostname).toBe('127.0.0.1');
  return (await fetch(redirect)).status;
}

function login(on: BrokerTestEnv, io: TestIo, extra: Record<string, unknown> = {}) {
  return runLogin({ broker: on.url, ca: on.caFile, output: 'json', ...extra }, io);
}

describe('airlock login --flow auth-code', () => {
  it('signs in through the browser redirect to 127.0.0.1 with PKCE; token cached 0600', async () => {
    const io = personIo(env);
    const running = login(env, io, { flow: 'auth-code', openBrowser: true });
    const url = await printedUrl(io);
    expect(io.opened).toEqual([url.toString()]);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await follow(await signInAt(env, url, 'alice'))).toBe(200);
    expect(await running).toBe(0);
    expect(JSON.parse(io.stdout.join(''))).toMatchObject({ user: 'alice', groups: ['payments-oncall'] });
    const tokenFile = join(io.configDir, 'token.json');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const cache = JSON.parse(readFileSync(tokenFile, 'utf8'));
    expect(cache.user).toBe('alice');
    // The broker accepts the cached token.
    expect((await env.call('GET', '/v1/whoami', cache.idToken)).body.user).toBe('alice');
  });

  it('prints the URL without opening a browser unless asked', async () => {
    const io = personIo(env);
    const running = login(env, io, { flow: 'auth-code' });
    const url = await printedUrl(io);
    expect(io.opened).toEqual([]);
    await follow(await signInAt(env, url, 'bob'));
    expect(await running).toBe(0);
  });

  it('is chosen automatically when the provider offers no device grant', async () => {
    const io = personIo(noDevice);
    const running = login(noDevice, io);
    const url = await printedUrl(io);
    expect(url.pathname).toBe('/authorize');
    await follow(await signInAt(noDevice, url, 'carol'));
    expect(await running).toBe(0);
    expect(JSON.parse(io.stdout.join('')).user).toBe('carol');
  });

  it('refuses a redirect with the wrong state, and caches nothing', async () => {
    const io = personIo(env);
    const running = login(env, io, { flow: 'auth-code' });
    running.catch(() => {});
    const redirect = await signInAt(env, await printedUrl(io), 'alice');
    redirect.searchParams.set('state', 'forged-state');
    expect(await follow(redirect)).toBe(400);
    await expect(running).rejects.toMatchObject({ code: 'AUTH_INVALID', message: /wrong state/ });
    expect(() => statSync(join(io.configDir, 'token.json'))).toThrow();
  });

  it('refuses an ID token whose nonce is not this login’s (a code from another authorization request)', async () => {
    const io = personIo(env);
    const running = login(env, io, { flow: 'auth-code' });
    running.catch(() => {});
    const url = await printedUrl(io);
    // Another authorization request, the same PKCE challenge and redirect, another nonce.
    const injected = new URL(url);
    injected.searchParams.set('nonce', 'someone-elses-nonce');
    const redirect = await signInAt(env, injected, 'alice');
    expect(redirect.searchParams.get('state')).toBe(url.searchParams.get('state'));
    expect(await follow(redirect)).toBe(400);
    await expect(running).rejects.toMatchObject({ code: 'AUTH_INVALID', message: /nonce/ });
    expect(() => statSync(join(io.configDir, 'token.json'))).toThrow();
  });

  it('reports a denial at the provider as AUTH_INVALID', async () => {
    const io = personIo(env);
    const running = login(env, io, { flow: 'auth-code' });
    running.catch(() => {});
    const page = await httpsCall((await printedUrl(io)).toString(), { ca: env.caPem });
    const requestId = /name="request" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const back = await httpsCall(`${env.provider.issuer}/authorize`, {
      ca: env.caPem,
      form: { request: requestId, action: 'deny' },
    });
    await follow(new URL(String(back.headers.location)));
    await expect(running).rejects.toMatchObject({ code: 'AUTH_INVALID', message: /access_denied/ });
  });

  it('gives up with AUTH_EXPIRED when the browser never comes back', async () => {
    const io = personIo(env);
    await expect(login(env, io, { flow: 'auth-code', timeoutSeconds: 1 })).rejects.toMatchObject({
      code: 'AUTH_EXPIRED',
    });
  });

  it('refuses an unknown --flow with USAGE, and documents the flags in --help', async () => {
    const io = personIo(env);
    await expect(login(env, io, { flow: 'implicit' })).rejects.toMatchObject({ code: 'USAGE' });
    const program = new Command('airlock').exitOverride();
    const help: string[] = [];
    program.configureOutput({ writeOut: (t) => help.push(t) });
    registerBrokerClientCommands(program, () => io);
    await expect(program.parseAsync(['node', 'airlock', 'login', '--help'])).rejects.toThrow();
    expect(help.join('')).toContain('--flow <device|auth-code>');
    expect(help.join('')).toContain('--open-browser');
  });
});

describe('verifyLoginIdToken', () => {
  const jwks = () => ({ keys: [env.provider.jwk] }) as never;
  const expected = () => ({
    issuer: env.provider.issuer,
    clientId: TEST_CLIENT_ID,
    jwks: jwks(),
    now: env.now(),
  });

  it('accepts the provider’s token with the expected nonce', async () => {
    const token = await env.provider.mintIdToken('alice', { nonce: 'n1' });
    expect((await verifyLoginIdToken(token, { ...expected(), nonce: 'n1' })).sub).toBe('alice');
  });

  it('refuses a wrong or missing nonce, a wrong audience or issuer, an expired token and a foreign key', async () => {
    const refuse = async (token: string, nonce: string | undefined, code: string) =>
      expect(
        verifyLoginIdToken(token, { ...expected(), ...(nonce === undefined ? {} : { nonce }) }),
      ).rejects.toMatchObject({ code });
    await refuse(await env.provider.mintIdToken('alice', { nonce: 'other' }), 'n1', 'AUTH_INVALID');
    await refuse(await env.provider.mintIdToken('alice'), 'n1', 'AUTH_INVALID');
    await refuse(
      await env.provider.mintIdToken('alice', { audience: 'someone-else' }),
      undefined,
      'AUTH_INVALID',
    );
    await refuse(
      await env.provider.mintIdToken('alice', { issuer: 'https://evil.example' }),
      undefined,
      'AUTH_INVALID',
    );
    await refuse(
      await env.provider.mintIdToken('alice', { expiresInSeconds: -120 }),
      undefined,
      'AUTH_EXPIRED',
    );
    // Signed by the other environment's provider: a key not in this JWKS.
    await refuse(
      await noDevice.provider.mintIdToken('alice', { issuer: env.provider.issuer }),
      undefined,
      'AUTH_INVALID',
    );
  });
});
