import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ImpersonatingKubeConfig, sharedAgent } from './kube-impersonation.js';

describe('sharedAgent', () => {
  const tls = { ca: Buffer.from('ca-a'), cert: Buffer.from('cert-a'), key: Buffer.from('key-a') };

  it('gives requests with the same TLS settings one keep-alive agent', () => {
    const first = sharedAgent(new Agent(tls));
    const second = sharedAgent(new Agent({ ...tls, ca: Buffer.from('ca-a') }));
    expect(first).toBeInstanceOf(Agent);
    expect(second).toBe(first);
    expect((first as Agent).options).toMatchObject({ ...tls, keepAlive: true });
  });

  it('never shares an agent across different trust or client identities', () => {
    const base = sharedAgent(new Agent(tls));
    expect(sharedAgent(new Agent({ ...tls, cert: Buffer.from('cert-b') }))).not.toBe(base);
    expect(sharedAgent(new Agent({ ...tls, key: Buffer.from('key-b') }))).not.toBe(base);
    expect(sharedAgent(new Agent({ ...tls, ca: Buffer.from('ca-b') }))).not.toBe(base);
    expect(sharedAgent(new Agent({ ...tls, rejectUnauthorized: false }))).not.toBe(base);
    expect(sharedAgent(new Agent({ ...tls, servername: 'other' }))).not.toBe(base);
  });

  it('leaves anything that is not a plain https.Agent alone (proxies, http, none)', () => {
    class ProxyAgent extends Agent {}
    const proxy = new ProxyAgent(tls);
    const http = new HttpAgent();
    expect(sharedAgent(proxy)).toBe(proxy);
    expect(sharedAgent(http)).toBe(http);
    expect(sharedAgent(undefined)).toBeUndefined();
  });
});

describe('ImpersonatingKubeConfig', () => {
  it('refuses the fetch path (client-node 2 Log, API clients), which would send the request unimpersonated', async () => {
    const base = new KubeConfig();
    base.loadFromClusterAndUser(
      { name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false },
      { name: 'u', token: 'executor-token' },
    );
    const config = new ImpersonatingKubeConfig(base, { user: 'alice', groups: ['a', 'b'], extra: {} });
    const context = new RequestContext('https://127.0.0.1:1/api/v1/pods', HttpMethod.GET);
    await expect(config.applySecurityAuthentication(context)).rejects.toThrow(/impersonatingConfiguration/);
    expect(context.getHeaders()).toEqual({});
  });
});
