import { createHash, createPublicKey, decapsulate, diffieHellman, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { Client, type ClientChannel, type Connection, Server, utils } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { HARDENED_ALGORITHMS } from './ssh-algorithms.js';

// Tests of patches/ssh2-mlkem768x25519-sha256.patch as installed in node_modules.
// The interop proof against OpenSSH 10.x is test/e2e/mediator-post-quantum.test.ts.

const MLKEM = 'mlkem768x25519-sha256';
const require = createRequire(import.meta.url);
const constants = require('ssh2/lib/protocol/constants.js') as {
  mlkemSupported: boolean;
  DEFAULT_KEX: string[];
};

/** The parts of the patch's exchange object these tests touch (ssh2 has no types for its internals). */
interface HybridExchange {
  getPublicKey(): Buffer | undefined;
  computeSecret(other: Buffer): Buffer | Error;
  _mlkem: { privateKey: KeyObject } | null;
  _x25519: { privateKey: KeyObject } | null;
}
type ExchangeClass = new (negotiated: object, protocol: object, remoteKexinit?: Buffer) => HybridExchange;

const hostKey = utils.generateKeyPairSync('ed25519');
const servers: Server[] = [];
const clients: Client[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.end();
  for (const server of servers.splice(0)) server.close();
});

/** An ssh2 server answering `exec` by echoing stdin back, and the kex of each handshake it made. */
async function echoServer(
  kex: string[],
): Promise<{ port: number; handshakes: string[]; connections: Connection[] }> {
  const handshakes: string[] = [];
  const connections: Connection[] = [];
  const server = new Server({ hostKeys: [hostKey.private], algorithms: { kex: kex as never } }, (conn) => {
    connections.push(conn);
    conn.on('handshake', (negotiated) => handshakes.push(negotiated.kex));
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('error', () => {});
    conn.on('session', (accept) =>
      accept().on('exec', (acceptExec) => {
        const stream = acceptExec();
        stream.pipe(stream);
        stream.on('end', () => stream.exit(0));
      }),
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, handshakes, connections };
}

async function connect(port: number, kex?: string[]): Promise<{ client: Client; handshakes: string[] }> {
  const client = new Client();
  clients.push(client);
  const handshakes: string[] = [];
  client.on('handshake', (negotiated) => handshakes.push(negotiated.kex));
  await new Promise<void>((resolve, reject) => {
    client.on('ready', resolve).on('error', reject);
    client.connect({
      host: '127.0.0.1',
      port,
      username: 'u',
      ...(kex ? { algorithms: { kex: kex as never } } : {}),
    });
  });
  return { client, handshakes };
}

async function echo(client: Client, data: Buffer): Promise<Buffer> {
  const stream = await new Promise<ClientChannel>((resolve, reject) =>
    client.exec('cat', (err, s) => (err ? reject(err) : resolve(s))),
  );
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  const closed = new Promise((resolve) => stream.on('close', resolve));
  stream.end(data);
  await closed;
  return Buffer.concat(chunks);
}

/** The patch's exchange class, taken from a live connection (ssh2 does not export it). */
async function exchangeClass(): Promise<ExchangeClass> {
  const { port } = await echoServer([MLKEM]);
  const { client } = await connect(port, [MLKEM]);
  const kex = (client as unknown as { _protocol: { _kex: object } })._protocol._kex;
  return kex.constructor as ExchangeClass;
}

function exchange(Exchange: ExchangeClass, server: boolean): HybridExchange {
  return new Exchange({ kex: MLKEM }, { _server: server });
}

describe('ssh2 patch: mlkem768x25519-sha256', () => {
  it('is supported on this Node and offered first by default', () => {
    expect(constants.mlkemSupported).toBe(true);
    expect(constants.DEFAULT_KEX[0]).toBe(MLKEM);
    expect((HARDENED_ALGORITHMS.kex as string[])[0]).toBe(MLKEM);
  });

  it('carries data between ssh2 peers and rekeys with ML-KEM again (server-initiated)', async () => {
    const server = await echoServer(HARDENED_ALGORITHMS.kex as string[]);
    const { client, handshakes } = await connect(server.port);
    const data = Buffer.alloc(1024 * 1024, 7);
    expect((await echo(client, data)).equals(data)).toBe(true);
    await new Promise<void>((resolve) => server.connections[0]!.rekey(() => resolve()));
    expect((await echo(client, data)).equals(data)).toBe(true);
    expect(handshakes).toEqual([MLKEM, MLKEM]);
    expect(server.handshakes).toEqual([MLKEM, MLKEM]);
  });

  it('derives K = SHA-256(ML-KEM secret || X25519 secret) from C_INIT and S_REPLY laid out as the draft says', async () => {
    const Exchange = await exchangeClass();
    const client = exchange(Exchange, false);
    const server = exchange(Exchange, true);
    const cInit = client.getPublicKey()!;
    expect(cInit.length).toBe(1184 + 32);
    expect(server.getPublicKey()).toBeUndefined();
    const serverSecret = server.computeSecret(cInit);
    const sReply = server.getPublicKey()!;
    expect(sReply.length).toBe(1088 + 32);
    const clientSecret = client.computeSecret(sReply);
    expect(clientSecret).toBeInstanceOf(Buffer);
    expect(serverSecret).toEqual(clientSecret);

    const kemSecret = decapsulate(client._mlkem!.privateKey, sReply.subarray(0, 1088));
    const serverX25519 = createPublicKey({
      key: sReply.subarray(1088),
      format: 'raw-public',
      asymmetricKeyType: 'x25519',
    } as never);
    const ecdhSecret = diffieHellman({ privateKey: client._x25519!.privateKey, publicKey: serverX25519 });
    const expected = createHash('sha256').update(kemSecret).update(ecdhSecret).digest();
    expect(clientSecret).toEqual(expected);
  });

  it('refuses a C_INIT of the wrong length, a malformed ML-KEM key or a low-order X25519 key', async () => {
    const Exchange = await exchangeClass();
    const cInit = exchange(Exchange, false).getPublicKey()!;
    const badKem = Buffer.concat([Buffer.alloc(1184, 0xff), cInit.subarray(1184)]);
    const zeroX25519 = Buffer.concat([cInit.subarray(0, 1184), Buffer.alloc(32)]);
    for (const bad of [cInit.subarray(1), Buffer.concat([cInit, Buffer.alloc(1)]), badKem, zeroX25519]) {
      expect(exchange(Exchange, true).computeSecret(bad)).toBeInstanceOf(Error);
    }
    expect(exchange(Exchange, true).computeSecret(cInit)).toBeInstanceOf(Buffer);
  });

  it('refuses an S_REPLY of the wrong length or with a low-order X25519 key', async () => {
    const Exchange = await exchangeClass();
    const client = exchange(Exchange, false);
    const server = exchange(Exchange, true);
    server.computeSecret(client.getPublicKey()!);
    const sReply = server.getPublicKey()!;
    expect(client.computeSecret(sReply.subarray(0, 1119))).toBeInstanceOf(Error);
    expect(client.computeSecret(Buffer.concat([sReply.subarray(0, 1088), Buffer.alloc(32)]))).toBeInstanceOf(
      Error,
    );
  });

  it('answers any C_INIT with an error or a 32-byte secret, never a throw (fast-check)', async () => {
    const Exchange = await exchangeClass();
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 1300 }), fc.uint8Array({ minLength: 1216, maxLength: 1216 })),
        (bytes) => {
          const secret = exchange(Exchange, true).computeSecret(Buffer.from(bytes));
          return secret instanceof Error || (Buffer.isBuffer(secret) && secret.length === 32);
        },
      ),
      { numRuns: 200 },
    );
  });
});
