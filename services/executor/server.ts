import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { loadExecutorService } from '../core/rpc/executor-proto.js';
import { RotatingCertificates } from '../core/rpc/rotating-certificates.js';
import { issueServingCertificate, type TierCa } from '../core/x509/index.js';
import type { ExecutorService } from './executor-service.js';

export interface ExecutorServerOptions {
  /** Address to listen on, e.g. `127.0.0.1:0` (port 0: any free port). */
  listen: string;
  /** The executor tier CA that issues this server's serving certificates. */
  executorCa: TierCa;
  /** The mediator tier CA bundle (PEM) whose session grants may connect. */
  mediatorCaBundle: string;
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
  const lifetime = options.servingLifetimeSeconds ?? 86_400;
  const certificates = new RotatingCertificates();
  certificates.setCaBundle(options.mediatorCaBundle);
  let servingCertPem = '';
  let renewTimer: NodeJS.Timeout | undefined;

  const renew = async () => {
    const issued = await issueServingCertificate(options.executorCa, {
      dnsNames: options.dnsNames,
      ipAddresses: options.ipAddresses,
      lifetimeSeconds: lifetime,
      now: options.clock(),
    });
    if (!issued.privateKeyPem) throw new Error('serving certificate issued without a private key');
    certificates.setIdentity(issued.certPem, issued.privateKeyPem);
    servingCertPem = issued.certPem;
    log.info(
      { not_after: issued.notAfter.toISOString(), serial: issued.serialNumber },
      'serving certificate issued',
    );
    clearTimeout(renewTimer);
    renewTimer = setTimeout(
      () => {
        renew().catch((error: unknown) => log.error({ err: error }, 'serving certificate renewal failed'));
      },
      Math.min((lifetime * 1000 * 2) / 3, 2 ** 31 - 1),
    );
    renewTimer.unref();
  };
  await renew();

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
    servingCertPem: () => servingCertPem,
    renewServingCertificate: renew,
    setMediatorCaBundle: (pem) => certificates.setCaBundle(pem),
    async stop(drainMs = 10_000) {
      clearTimeout(renewTimer);
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
