import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { loadExecutorService } from '../core/rpc/executor-proto.js';
import type { TierCa } from '../core/x509/index.js';
import type { ExecutorService } from './executor-service.js';
import { ServingCredentials } from './serving-credentials.js';

export interface ExecutorServerOptions {
  /** Address to listen on, e.g. `127.0.0.1:0` (port 0: any free port). */
  listen: string;
  /**
   * The executor tier CA that issues this server's serving certificates. A
   * getter when it rotates: checked every `reloadIntervalMs`, and a new
   * signer gets a new serving certificate at once.
   */
  executorCa: TierCa | (() => Promise<TierCa>);
  /**
   * The mediator tier CA bundle (PEM) whose session grants may connect. A
   * getter when it rotates: checked every `reloadIntervalMs` and applied to
   * new handshakes (open connections continue).
   */
  mediatorCaBundle: string | (() => string);
  /** How often getters above are checked; default 1000 ms. */
  reloadIntervalMs?: number;
  /** Names the serving certificate is valid for. */
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  /** Serving certificate lifetime; renewed in process at two thirds of it. Default 24 h. */
  servingLifetimeSeconds?: number;
  logger: Logger;
  clock: () => Date;
}

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
