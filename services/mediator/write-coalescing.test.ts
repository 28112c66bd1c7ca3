import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from './write-coalescing.js';

/** A loopback TCP pair: `client` (what the mediator writes to) and everything `server` receives. */
async function socketPair(): Promise<{
  client: Socket;
  received: () => Buffer;
  closed: Promise<void>;
  server: Server;
}> {
  const chunks: Buffer[] = [];
  let peerClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    peerClosed = resolve;
  });
  const server = createServer((peer) => {
    peer.on('data', (d: Buffer) => chunks.push(d));
    peer.on('end', () => peerClosed());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const client = connect(typeof address === 'object' && address ? address.port : 0, '127.0.0.1');
  await once(client, 'connect');
  return { client, received: () => Buffer.concat(chunks), closed, server };
}

describe('coalesceWrites', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });
  /** A socket pair whose client side coalesces its writes; the server is closed after the test. */
  const coalescedPair = async () => {
    const pair = await socketPair();
    servers.push(pair.server);
    coalesceWrites(pair.client);
    return pair;
  };

  it('hands every write of one turn to the kernel as one writev, in order', async () => {
    const { client, received, closed } = await coalescedPair();
    const writev = client._writev!.bind(client);
    const batches: number[] = [];
    client._writev = (chunks, callback) => {
      batches.push(chunks.length);
      writev(chunks, callback);
    };
    const packets = Array.from({ length: 10 }, (_, i) => Buffer.alloc(32 * 1024, i));
    for (const packet of packets) client.write(packet);
    expect(client.writableCorked).toBe(1);
    await nextTurn();
    expect(client.writableCorked).toBe(0);
    expect(batches).toEqual([10]);
    client.end();
    await closed;
    expect(received().equals(Buffer.concat(packets))).toBe(true);
  });

  it('loses nothing when the socket is ended in the same turn as the writes', async () => {
    const { client, received, closed } = await coalescedPair();
    client.write('first ');
    client.write('second');
    client.end();
    await closed;
    expect(received().toString()).toBe('first second');
  });

  it('corks again on the next turn and keeps the order across turns', async () => {
    const { client, received, closed } = await coalescedPair();
    client.write('a');
    client.write('b');
    await nextTurn();
    expect(client.writableCorked).toBe(0);
    client.write('c');
    expect(client.writableCorked).toBe(1);
    await nextTurn();
    client.write('d');
    client.end();
    await closed;
    expect(received().toString()).toBe('abcd');
  });
});
