import type { experimental } from '@grpc/grpc-js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = Parameters<CertificateProvider['addCaCertificateListener']>[0];
type IdentityListener = Parameters<CertificateProvider['addIdentityCertificateListener']>[0];

/**
 * A grpc-js certificate provider fed from memory: the serving identity and
 * the trusted CA bundle can be replaced at any time, and grpc-js uses the
 * new ones for new handshakes while open connections and streams continue.
 * This is how a tier renews its short-lived serving certificate, and takes
 * a rotated peer CA bundle, without a restart.
 */
export class RotatingCertificates implements CertificateProvider {
  #ca: Buffer | undefined;
  #identity: { certificate: Buffer; privateKey: Buffer } | undefined;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  setCaBundle(pem: string): void {
    this.#ca = Buffer.from(pem);
    for (const listener of this.#caListeners) listener({ caCertificate: this.#ca });
  }

  setIdentity(certPem: string, privateKeyPem: string): void {
    this.#identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(privateKeyPem) };
    for (const listener of this.#identityListeners) listener(this.#identity);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    // Deliver the current value asynchronously: grpc-js registers its
    // watcher only after adding the listener, and drops a synchronous update.
    setImmediate(() => {
      if (this.#ca && this.#caListeners.has(listener)) listener({ caCertificate: this.#ca });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    setImmediate(() => {
      if (this.#identity && this.#identityListeners.has(listener)) listener(this.#identity);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}
