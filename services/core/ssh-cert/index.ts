/**
 * OpenSSH certificates for airlock: parse, verify and issue user
 * certificates (PROTOCOL.certkeys, PROTOCOL.u2f), read OpenSSH public and
 * private keys, and check revocation (PROTOCOL.krl and a JSON deny list).
 * See docs/ssh-certificates.md.
 */
export {
  AIRLOCK_SCOPE_EXTENSION,
  type AirlockScope,
  formatAirlockScope,
  parseAirlockScope,
  type ScopeModeration,
  type ScopeModeratorRole,
  type ScopeRunbook,
  validateAirlockScope,
} from './airlock-scope.js';
export {
  type SignedUserCertificate,
  type SignUserCertificateRequest,
  signCertificate,
  signUserCertificate,
} from './cert-signer.js';
export {
  type CertificateIdentity,
  KNOWN_CRITICAL_OPTIONS,
  type VerifyCertificateOptions,
  verifyCertificateIssuer,
  verifyCertificateWithoutSession,
  verifyUserCertificate,
} from './cert-verifier.js';
export {
  CERT_TYPE_TO_KEY_TYPE,
  CERT_VALID_FOREVER,
  type CertificateBody,
  certificateBlobFromLine,
  encodeCertificateBody,
  parseCertificate,
  parseCertificateLine,
  type SshCertificate,
  type SshCertType,
} from './certificate.js';
export { type CidrBlock, cidrContains, parseCidrList, parseIpAddress } from './cidr.js';
export {
  MAX_HOST_CERT_LIFETIME_SECONDS,
  type SignHostCertificateRequest,
  signHostCertificate,
} from './host-cert-signer.js';
export {
  addKrlRevocation,
  emptyKrl,
  encodeKrl,
  type KrlCertificateRevocation,
  type KrlDocument,
} from './krl-writer.js';
export {
  type CaKeyKind,
  formatOpenSshPrivateKey,
  generateCaKey,
  parseOpenSshPrivateKey,
  type SshPrivateKey,
} from './private-key.js';
export {
  formatPublicKeyLine,
  fromKeyObject,
  parsePublicKeyBlob,
  parsePublicKeyLine,
  parsePublicKeyList,
  type SshKeyType,
  type SshPublicKey,
  sha256Fingerprint,
} from './public-key.js';
export {
  createKrlRevocationList,
  type DenyListDocument,
  type Krl,
  type KrlCertificateSection,
  parseDenyList,
  parseKrl,
  type RevocationList,
} from './revocation.js';
export {
  parseSshSignature,
  SK_FLAG_USER_PRESENCE,
  SK_FLAG_USER_VERIFICATION,
  type SshSignature,
  signSshData,
  skSignedMessage,
  verifySshSignature,
} from './ssh-signature.js';
export {
  checkUserauthRequest,
  encodeUserauthRequest,
  parseUserauthRequest,
  SSH_MSG_USERAUTH_REQUEST,
  type UserauthRequest,
} from './userauth-request.js';
