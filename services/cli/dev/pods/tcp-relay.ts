import { connect, createServer, type Server } from 'node:net';

/**
 * A TCP relay from 127.0.0.1:<ephemeral> to `target()` (a Service's
 * ClusterIP and port, resolved per connection so a re-created Service is
 * followed). How `dev up --pods` exposes the mediator's SSH port and the
 * broker on loopback only: kube-proxy's NodePorts would listen on the node
 * address, and `route_localnet` (needed for loopback NodePorts) stays off.
 */
export async function startRelay(
  target: () => Promise<{ host: string; port: number }>,
): Promise<{ port: number; server: Server }> {
  const server = createServer((client) => {
    client.pause();
    target().then(
      ({ host, port }) => {
        const upstream = connect({ host, port }, () => {
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        });
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server };
}
