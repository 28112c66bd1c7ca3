import * as grpc from '@grpc/grpc-js';
import { loadExecutorService } from '../core/rpc/executor-proto.js';
import type { ExecutorService } from './executor-service.js';
import { widenConnectionWindow, widenStreamWindow } from './receive-window.js';
import { type ExecutorServerOptions, ServingCredentials } from './serving-credentials.js';

export type { ExecutorServerOptions } from './serving-credentials.js';

export interface RunningExecutorServer {
  readonly port: number;
  /** PEM of the serving certificate currently in use. */
  readonly servingCertPem: () => string;
  /** Issues a fresh serving certificate now (also done on a timer). */
  renewServingCertificate(): Promise<void>;
  /** Replaces the trusted mediator CA bundle for new connections. */
  setMediatorCaBundle(pem: string): void;
  /**
   * Graceful shutdown: stop accepting, let open streams finish for up to
   * `drainMs`, then cancel what is left with EXECUTOR_SHUTDOWN.
   */
  stop(drainMs?: number): Promise<void>;
}

/**
 * Starts the executor's gRPC server: mTLS only (a client certificate is
 * required and must chain to the mediator CA bundle), with a short-lived
 * serving certificate from the executor tier CA renewed in process without
 * dropping open streams.
 */
export async function startExecutorServer(
  executor: ExecutorService,
  options: ExecutorServerOptions,
): Promise<RunningExecutorServer> {
  const log = options.logger.child({ component: 'executor.server' });
  const serving = await ServingCredentials.start(options, log);
  const { certificates } = serving;

  const server = new grpc.Server();
  const streamWindow = widenStreamWindow(server);
  server.addService(
    loadExecutorService().service,
    executor.service as unknown as grpc.UntypedServiceImplementation,
  );
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(
    certificates,
    certificates,
    true,
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, credentials, (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
  const connectionWindow = widenConnectionWindow(server);
  if (!streamWindow || !connectionWindow)
    log.warn(
      { streamWindow, connectionWindow },
      'grpc-js internals changed: HTTP/2 receive window left at 64 KiB',
    );
  log.info({ port }, 'executor listening (mTLS)');

  return {
    port,
    servingCertPem: () => serving.servingCertPem(),
    renewServingCertificate: () => serving.renew(),
    setMediatorCaBundle: (pem) => serving.setMediatorCaBundle(pem),
    async stop(drainMs = 10_000) {
      serving.stop();
      executor.drain();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          // Drain time is up: end what is left with EXECUTOR_SHUTDOWN, give
          // those statuses a moment to reach the clients, then close.
          executor.cancelAll();
          setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 200);
        }, drainMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
