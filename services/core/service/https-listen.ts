import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

/** A listening HTTPS server (the broker's API, the admission webhook) and how to stop it. */
export interface ListeningHttps {
  /** `https://host:port`, an IPv6 host in brackets. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  stop(): Promise<void>;
}

/** Serves `handler` over HTTPS (TLS 1.2+) on `host`:`port` (0: a free port). */
export async function listenHttps(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls: { key: string; cert: string },
  host: string,
  port: number,
): Promise<ListeningHttps> {
  const server = createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `https://${shown}:${address.port}`,
    port: address.port,
    server,
    stop: () => closeServer(server),
  };
}

/** Stops accepting, ends every open connection (keep-alive ones too), resolves once closed. */
export function closeServer(server: {
  close(callback: () => void): unknown;
  closeAllConnections(): void;
}): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
