import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.js';
import { createImpersonationCredentials } from './kube-credentials.js';
import { isConnectionFailure } from './kube-errors.js';
import { createKubeGateway, type KubeCaller } from './kube-gateway.js';

const target = { namespace: 'payments', pod: 'api-0', container: 'main' };

/**
 * An API server address that accepts TCP connections and never says a
 * word (as a stopped or wedged kube-apiserver whose kernel still completes
 * handshakes): without a timeout every call would hang.
 */
let blackHole: Server;
const sockets: Socket[] = [];
let kubeConfig: KubeConfig;

beforeAll(async () => {
  blackHole = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  const { port } = blackHole.address() as { port: number };
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'not-a-real-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => blackHole.close(resolve));
});

async function codeAndTime(call: Promise<unknown>): Promise<{ code: string; ms: number }> {
  const started = Date.now();
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { code: error instanceof AirlockError ? error.code : String(error), ms: Date.now() - started };
}

/** alice (group jit:test) calling through impersonation credentials on `config`, in session s-`n` of request r-`n`. */
async function aliceThrough(config: KubeConfig, n: number): Promise<KubeCaller> {
  const session = await createImpersonationCredentials(config, 300).open({
    sessionId: `s-${n}`,
    user: 'alice',
    groups: ['jit:test'],
    requestId: `r-${n}`,
    expiresAt: new Date(Date.now() + 600_000),
  });
  return { user: 'alice', groups: ['jit:test'], clients: session.clients({}) };
}

describe('kube gateway: an API server that does not answer', () => {
  const gateway = () => createKubeGateway({ requestTimeoutMs: 300 });
  let as: KubeCaller;
  beforeAll(async () => {
    as = await aliceThrough(kubeConfig, 1);
  });
  const sink = () => new Writable({ write: (_c, _e, done) => done() });

  it.each([
    ['list', () => gateway().list('pods', 'payments', as)],
    ['get', () => gateway().get('pods', 'payments', 'api-0', as)],
    [
      'logs -f',
      () =>
        gateway().logs(target, { follow: true, timestamps: false }, sink(), as, new AbortController().signal),
    ],
    [
      'exec (WebSocket upgrade)',
      () =>
        gateway().exec(
          target,
          ['ps'],
          false,
          { stdin: new PassThrough(), stdout: sink(), stderr: sink() },
          as,
          new AbortController().signal,
        ),
    ],
  ])('%s fails with KUBERNETES_UNAVAILABLE after the request timeout, not never', async (_name, call) => {
    const { code, ms } = await codeAndTime(call());
    expect(code).toBe('KUBERNETES_UNAVAILABLE');
    // Generous upper bound: the point is that it ends.
    expect(ms).toBeLessThan(10_000);
  });
});

describe('isConnectionFailure', () => {
  it('recognises refused, reset and timed-out connections, also wrapped, and not API answers', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    expect(isConnectionFailure(refused)).toBe(true);
    expect(isConnectionFailure(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(
      isConnectionFailure({ type: 'error', error: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }),
    ).toBe(true);
    expect(isConnectionFailure(new Error('Opening handshake has timed out'))).toBe(true);
    expect(isConnectionFailure(new Error('Unexpected server response: 403'))).toBe(false);
    expect(isConnectionFailure(Object.assign(new Error('HTTP 500'), { statusCode: 500 }))).toBe(false);
  });
});

/** An unmasked server-to-client WebSocket frame (RFC 6455 section 5.2), payload under 126 bytes. */
function wsFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

/**
 * A stand-in API server for pods/portforward: it accepts the WebSocket
 * upgrade (v4.channel.k8s.io), sends the port header and `hello` on the
 * data channel as the kubelet would, then ends the way `ending` says.
 */
async function portForwardServer(ending: 'close-frame' | 'connection-lost'): Promise<HttpServer> {
  const server = createHttpServer();
  server.on('upgrade', (req, socket) => {
    socket.resume(); // what the client sends (its close frame) is read and ignored
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`,
    );
    socket.write(wsFrame(0x2, Buffer.from([0, 0x90, 0x1f]))); // channel 0, port 8080
    socket.write(wsFrame(0x2, Buffer.concat([Buffer.from([0]), Buffer.from('hello')])));
    if (ending === 'close-frame')
      socket.end(wsFrame(0x8, Buffer.from([0x03, 0xe8]))); // 1000
    else setTimeout(() => socket.destroy(), 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('kube gateway: a port-forward whose connection ends', () => {
  async function forward(ending: 'close-frame' | 'connection-lost') {
    const server = await portForwardServer(ending);
    try {
      const { port } = server.address() as { port: number };
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'not-a-real-token' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const as = await aliceThrough(config, 2);
      const received: Buffer[] = [];
      const output = new Writable({
        write(chunk: Buffer, _e, done) {
          received.push(chunk);
          done();
        },
      });
      const outcome = await codeAndTime(
        createKubeGateway().portForward(
          target,
          8080,
          new PassThrough(),
          output,
          as,
          new AbortController().signal,
        ),
      );
      return { code: outcome.code, received: Buffer.concat(received).toString() };
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('ends cleanly, with every byte, when the API server closes the WebSocket', async () => {
    expect(await forward('close-frame')).toEqual({ code: 'undefined', received: 'hello' });
  });

  it('fails with KUBERNETES_UNAVAILABLE, not a clean end, when the connection drops without a close frame', async () => {
    expect(await forward('connection-lost')).toEqual({ code: 'KUBERNETES_UNAVAILABLE', received: 'hello' });
  });
});
