/**
 * The executor's serving side of mTLS: a short-lived serving certificate
 * from the executor tier CA, renewed in process at two thirds of its
 * lifetime without dropping open streams, and the trusted mediator CA
 * bundle, both reloaded from their getters while the server runs.
 */
import type { Logger } from 'pino';
import { RotatingCertificates } from '../core/rpc/rotating-certificates.js';
import { issueServingCertificate, type TierCa } from '../core/x509/index.js';

/** How the executor's gRPC server listens and gets its serving certificates (server.ts re-exports it). */
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

/** The rotating TLS identity and trust of one executor server. */
export class ServingCredentials {
  /** What grpc-js reads at each handshake. */
  readonly certificates = new RotatingCertificates();
  readonly #options: ExecutorServerOptions;
  readonly #log: Logger;
  readonly #lifetime: number;
  readonly #currentCa: () => Promise<TierCa>;
  readonly #currentBundle: () => string;
  #trustedBundle: string;
  #servingCertPem = '';
  #issuedFrom = '';
  #renewTimer: NodeJS.Timeout | undefined;
  #reloadTimer: NodeJS.Timeout | undefined;
  #reloading = Promise.resolve();
  #lastProblem = '';
  #stopped = false;

  private constructor(options: ExecutorServerOptions, log: Logger) {
    const { executorCa, mediatorCaBundle } = options;
    this.#options = options;
    this.#log = log;
    this.#lifetime = options.servingLifetimeSeconds ?? 86_400;
    this.#currentCa = typeof executorCa === 'function' ? executorCa : async () => executorCa;
    this.#currentBundle = typeof mediatorCaBundle === 'function' ? mediatorCaBundle : () => mediatorCaBundle;
    this.#trustedBundle = this.#currentBundle();
    this.certificates.setCaBundle(this.#trustedBundle);
  }

  /** Issues the first serving certificate and starts the renewal and reload timers. */
  static async start(options: ExecutorServerOptions, log: Logger): Promise<ServingCredentials> {
    const credentials = new ServingCredentials(options, log);
    await credentials.renew();
    // Rotation without restart: only when either source is a getter.
    if (typeof options.executorCa === 'function' || typeof options.mediatorCaBundle === 'function') {
      credentials.#reloadTimer = setInterval(() => {
        credentials.#reloading = credentials.#reloading.then(() => credentials.#reload());
      }, options.reloadIntervalMs ?? 1000);
      credentials.#reloadTimer.unref();
    }
    return credentials;
  }

  /** PEM of the serving certificate currently in use. */
  servingCertPem(): string {
    return this.#servingCertPem;
  }

  /** Issues a fresh serving certificate now, and schedules the next at two thirds of its lifetime. */
  async renew(): Promise<void> {
    const ca = await this.#currentCa();
    const issued = await issueServingCertificate(ca, {
      dnsNames: this.#options.dnsNames,
      ipAddresses: this.#options.ipAddresses,
      lifetimeSeconds: this.#lifetime,
      now: this.#options.clock(),
    });
    if (!issued.privateKeyPem) throw new Error('serving certificate issued without a private key');
    this.certificates.setIdentity(issued.certPem, issued.privateKeyPem);
    this.#servingCertPem = issued.certPem;
    this.#issuedFrom = ca.fingerprint;
    this.#log.info(
      { not_after: issued.notAfter.toISOString(), serial: issued.serialNumber, ca: ca.fingerprint },
      'serving certificate issued',
    );
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(
      () => {
        this.renew().catch((error: unknown) =>
          this.#log.error({ err: error }, 'serving certificate renewal failed'),
        );
      },
      Math.min((this.#lifetime * 1000 * 2) / 3, 2 ** 31 - 1),
    );
    this.#renewTimer.unref();
  }

  /** Replaces the trusted mediator CA bundle for new connections. */
  setMediatorCaBundle(pem: string): void {
    this.certificates.setCaBundle(pem);
    this.#trustedBundle = pem;
  }

  /** Stops the renewal and reload timers. */
  stop(): void {
    clearTimeout(this.#renewTimer);
    clearInterval(this.#reloadTimer);
    this.#stopped = true;
  }

  /**
   * A new mediator CA bundle goes to new handshakes; a new executor CA
   * signer means a new serving certificate now. A broken file keeps the
   * last good TLS set-up, logged; the service's own per-call grant check
   * reads the same getter and refuses (fail closed).
   */
  async #reload(): Promise<void> {
    if (this.#stopped) return;
    try {
      const bundle = this.#currentBundle();
      if (bundle !== this.#trustedBundle) {
        this.certificates.setCaBundle(bundle);
        this.#trustedBundle = bundle;
        this.#log.info('mediator CA bundle reloaded');
      }
      if ((await this.#currentCa()).fingerprint !== this.#issuedFrom) await this.renew();
      this.#lastProblem = '';
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      if (problem !== this.#lastProblem)
        this.#log.error({ err: error }, 'CA reload failed; keeping the last good set-up');
      this.#lastProblem = problem;
    }
  }
}
