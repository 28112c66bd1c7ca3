/**
 * X.509 credentials of airlock: tier CAs, serving certificates, session
 * grants, peer verification, CSRs for the Kubernetes CSR API, and CA
 * rotation. See README.md in this folder.
 */
export {
  CaBundle,
  type CaBundleEntry,
  type RotateOptions,
} from './ca-bundle.js';
export {
  type CertificateInput,
  certificateFingerprint,
  certificatePem,
  parseCertificate,
} from './certificate-input.js';
export {
  type CreateCsrOptions,
  type CreatedCsr,
  type CsrKeyType,
  createCsr,
  type ParsedCsr,
  parseCsr,
} from './csr.js';
export {
  DEFAULT_SERVING_LIFETIME_SECONDS,
  type IssuedCertificate,
  type IssueServingCertificateOptions,
  type IssueSessionGrantOptions,
  issueServingCertificate,
  issueSessionGrant,
  type LeafPublicKey,
  MAX_SERVING_LIFETIME_SECONDS,
  MAX_SESSION_GRANT_SECONDS,
} from './leaf-issuer.js';
export {
  type PeerUsage,
  type VerifiedPeerCertificate,
  type VerifyPeerCertificateOptions,
  verifyPeerCertificate,
} from './peer-verifier.js';
export {
  formatSessionGrantUri,
  parseSessionGrant,
  parseSessionGrantUri,
  SESSION_GRANT_ORGANIZATION,
  type SessionGrant,
  type SessionGrantIdentity,
  sessionGrantFromCertificate,
} from './session-grant.js';
export { AIRLOCK_TIERS, type AirlockTier } from './tier.js';
export { type CreateTierCaOptions, createTierCa, loadTierCa, type TierCa } from './tier-ca.js';
