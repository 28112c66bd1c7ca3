import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { EXECUTOR_RECEIVE_WINDOW, widenConnectionWindow, widenStreamWindow } from './receive-window.js';

describe('executor HTTP/2 receive window', () => {
  it('a grpc-js server announces the wide stream window and grants it on the connection', async () => {
    const server = new grpc.Server();
    expect(widenStreamWindow(server)).toBe(true);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    expect(widenConnectionWindow(server)).toBe(true);
    const client = connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {}); // the server's shutdown below may end the session with an error
    try {
      await new Promise<void>((resolve) => client.once('remoteSettings', () => resolve()));
      expect(client.remoteSettings.initialWindowSize).toBe(EXECUTOR_RECEIVE_WINDOW);
      // The connection-level WINDOW_UPDATE follows the SETTINGS frame.
      for (let i = 0; i < 50 && (client.state.remoteWindowSize ?? 0) < EXECUTOR_RECEIVE_WINDOW; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(client.state.remoteWindowSize).toBe(EXECUTOR_RECEIVE_WINDOW);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
