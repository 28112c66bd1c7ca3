import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../core/errors.js';
import { dialMediator } from './mediator-dial.js';
import { InMemoryMediatorResolver, type MediatorResolver } from './mediator-resolver.js';

describe('dialMediator', () => {
  let server: Server;
  let port: number;
  const options = (resolver: MediatorResolver) => ({
    resolver,
    readyTimeoutMs: 600,
    retryMs: 100,
    connectTimeoutMs: 500,
  });

  /** A server that answers each connection with `answer`, as request req-x's mediator. */
  async function mediatorThat(answer: (socket: Socket) => void) {
    const answering = createServer((socket) => {
      socket.on('error', () => undefined);
      answer(socket);
    });
    await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
    const resolver = new InMemoryMediatorResolver();
    resolver.set('req-x', { host: '127.0.0.1', port: (answering.address() as { port: number }).port });
    return { resolver, close: () => answering.close() };
  }

  beforeAll(async () => {
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('SSH-2.0-test\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => server.close());

  it('connects to the address the resolver gives for the request', async () => {
    const resolver = new InMemoryMediatorResolver();
    resolver.set('req-1', { host: '127.0.0.1', port });
    const socket = await dialMediator('req-1', options(resolver), new AbortController().signal);
    expect(socket.remotePort).toBe(port);
    // The identification the door read to know an SSH server answered is still there to forward.
    const forwarded: Buffer[] = [];
    for await (const chunk of socket) forwarded.push(chunk as Buffer);
    expect(Buffer.concat(forwarded).toString()).toBe('SSH-2.0-test\r\n');
  });

  it.each([
    ['accepts and stays silent', () => undefined, /connected, but no SSH identification within 500 ms/],
    [
      'answers with something else',
      (s: Socket) => s.write('HTTP/1.1 400\r\n'),
      /not with an SSH identification/,
    ],
    ['closes at once', (s: Socket) => s.end(), /closed before sending an SSH identification/],
  ])(
    'counts an address that %s as not ready (a connection alone proves no mediator)',
    async (_what, answer, detail) => {
      const mediator = await mediatorThat(answer);
      try {
        await expect(
          dialMediator('req-x', options(mediator.resolver), new AbortController().signal),
        ).rejects.toMatchObject({ code: 'MEDIATOR_NOT_READY', detail: expect.stringMatching(detail) });
      } finally {
        mediator.close();
      }
    },
  );

  it('waits for an identification that arrives in pieces', async () => {
    const mediator = await mediatorThat((socket) => {
      socket.write('SS');
      setTimeout(() => socket.end('H-2.0-slow\r\n'), 50);
    });
    try {
      const socket = await dialMediator('req-x', options(mediator.resolver), new AbortController().signal);
      const forwarded: Buffer[] = [];
      for await (const chunk of socket) forwarded.push(chunk as Buffer);
      expect(Buffer.concat(forwarded).toString()).toBe('SSH-2.0-slow\r\n');
    } finally {
      mediator.close();
    }
  });

  it('refuses with MEDIATOR_NOT_READY after the bound when the request has no mediator, having looked again', async () => {
    const resolver = new InMemoryMediatorResolver();
    const dialled = dialMediator('req-none', options(resolver), new AbortController().signal);
    await expect(dialled).rejects.toMatchObject({
      code: 'MEDIATOR_NOT_READY',
      message:
        'the mediator of request req-none is not ready after 0.6s: it has no Service (just approved: try again shortly; else see airlock status req-none: launch failed, revoked or expired)',
      detail: 'no mediator Service for the request',
    });
    expect(resolver.lookups.get('req-none')).toBeGreaterThan(1);
  });

  it('counts a mediator that refuses connections as not ready', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const resolver = new InMemoryMediatorResolver();
    resolver.set('req-down', { host: '127.0.0.1', port: closedPort });
    await expect(
      dialMediator('req-down', options(resolver), new AbortController().signal),
    ).rejects.toMatchObject({
      code: 'MEDIATOR_NOT_READY',
      detail: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it("retries a resolver's transient failure, and stops at once on its AirlockError", async () => {
    let calls = 0;
    const flaky: MediatorResolver = {
      resolve: () => {
        calls++;
        return calls === 1
          ? Promise.reject(new Error('apiserver hiccup'))
          : Promise.resolve({ host: '127.0.0.1', port });
      },
    };
    const socket = await dialMediator('req-1', options(flaky), new AbortController().signal);
    expect(calls).toBe(2);
    socket.destroy();
    let finalCalls = 0;
    const final: MediatorResolver = {
      resolve: () => {
        finalCalls++;
        return Promise.reject(new AirlockError('DOOR_DESTINATION_REFUSED', 'no'));
      },
    };
    await expect(dialMediator('req-1', options(final), new AbortController().signal)).rejects.toMatchObject({
      code: 'DOOR_DESTINATION_REFUSED',
    });
    expect(finalCalls).toBe(1);
  });

  it('stops waiting when the client goes away (CLIENT_CANCELLED)', async () => {
    const resolver = new InMemoryMediatorResolver();
    const gone = new AbortController();
    const dialled = dialMediator('req-none', { ...options(resolver), readyTimeoutMs: 60_000 }, gone.signal);
    gone.abort();
    await expect(dialled).rejects.toMatchObject({ code: 'CLIENT_CANCELLED' });
  });
});
