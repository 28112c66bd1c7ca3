/**
 * The broker's configuration file (JSON), validated once at start-up with
 * every bad field reported by path. Paths are relative to the file. Security
 * settings (issuer, audience, claims, group mapping, admin groups) have no
 * defaults: they must be written down.
 */

import { AirlockError } from '../core/errors.js';
import type { LogLevel } from '../core/observability/logging.js';
import {
  exactlyOneOf,
  loadTierConfig,
  resolveAuditPaths,
  SCHEMA,
  type TierAuditConfig,
} from '../core/service/config-file.js';
import {
  LAUNCHER_SCHEMA,
  type LauncherConfig,
  launcherConfigProblems,
  resolveLauncherPaths,
} from './launcher/launcher-config.js';
import { resolveStorePaths, type StoreConfig, storeConfigSchema } from './store/store-config.js';

/** The broker's configuration. */
export interface BrokerConfig {
  listen: { host: string; port: number };
  /** The broker tier CA; the HTTPS serving certificate is issued from it at start-up. */
  tls: {
    tierCaCertFile: string;
    tierCaKeyFile: string;
    dnsNames: string[];
    ipAddresses: string[];
    lifetimeSeconds: number;
  };
  policyFile: string;
  /**
   * The SSH user CA: a keyring directory (`airlock ca rotate ssh-user`;
   * several keys, one signing, re-read when it changes) — or, without
   * rotation, one private key file (OpenSSH format, mode 0600 or narrower).
   * Exactly one of the two.
   */
  sshCaDir?: string;
  sshCaKeyFile?: string;
  /**
   * Where requests are kept: SQLite (one replica) or PostgreSQL (two or
   * more), services/broker/store/. Exactly one of `store` and `storeFile`.
   */
  store?: StoreConfig;
  /**
   * Legacy: the JSON request store of earlier brokers. Alone it means
   * SQLite beside it (`requests.json` → `requests.db`), importing it once.
   */
  storeFile?: string;
  /** JSON deny list the mediator and executor read (`parseDenyList` format). */
  denyListFile: string;
  /**
   * OpenSSH KRL (PROTOCOL.krl) with the same revocations, for the tiers'
   * `revocation.krlFiles`, sshd's `RevokedKeys` and `ssh-keygen -Q`; absent:
   * only the JSON deny list is published.
   */
  revocationKrlFile?: string;
  /**
   * The Kubernetes ConfigMap the broker publishes both lists to, for the
   * mediator and executor pods, which mount it (deploy/README.md
   * "Revocation"; services/broker/revocation-config-map.ts). Absent: the
   * lists stay in the files above (one host, or copied by other means).
   */
  revocationConfigMap?: {
    namespace: string;
    name: string;
    /** The broker's own credentials (get/update on this ConfigMap). Absent: the in-cluster ServiceAccount. */
    kubeconfig?: string;
    /** Re-publish this often even without a revocation (repairs a reset ConfigMap); default 60. */
    resyncSeconds: number;
  };
  audit: TierAuditConfig & {
    /**
     * PEM public keys of the tier audit keys whose checkpoint heads the broker
     * witnesses (POST /v1/audit/witness, services/broker/audit-witness.ts).
     * Absent: the route does not exist.
     */
    witnessKeyFiles?: string[];
  };
  oidc: {
    issuer: string;
    clientId: string;
    /** PEM bundle trusted for the issuer's TLS; absent: the system store. */
    caFile?: string;
    usernameClaim: string;
    /**
     * Require the IdP to have verified the user name claim: a boolean claim
     * that must be `true`. Absent: true (the schema's default); see {@link usernameVerifiedClaim}.
     */
    requireVerifiedUsername?: boolean;
    /** The claim that says so; default `email_verified` for `email`, `phone_number_verified` for `phone_number`. */
    usernameVerifiedClaim?: string;
    groupsClaim: string;
    groupMapping: Record<string, string[]>;
    passThroughGroups: boolean;
    clockToleranceSeconds: number;
  };
  /** Machine identities by TokenReview; absent: machines cannot authenticate. */
  kubernetes?: {
    /** Absent: in-cluster ServiceAccount. */
    kubeconfig?: string;
    audiences: string[];
    machineGroups: Record<string, string[]>;
  };
  /**
   * Kubernetes client certificates for kubectl (`airlock cred-helper`,
   * `airlock kube-cert`; docs/kubectl.md); absent: the feature is off.
   */
  kubeCertificates?: {
    /** The cluster name (as requests name it) that this kubeconfig reaches. */
    cluster: string;
    /**
     * The broker's own credentials, with only deploy/base/broker-rbac.yaml's
     * rights. Absent: the in-cluster ServiceAccount (airlock-broker).
     */
    kubeconfig?: string;
    /** How long to wait for the signer; default 30. */
    signTimeoutSeconds: number;
  };
  /**
   * Slack-compatible webhook told of new pending requests and decisions
   * (docs/broker.md); absent: no notifications.
   */
  webhook?: {
    /** An https URL. */
    url: string;
    /** PEM bundle trusted for the webhook's TLS; absent: the system store. */
    caFile?: string;
    /** Attempts per notification; default 5. */
    maxAttempts: number;
    /** Wait before the first retry, doubled each time; default 1000. */
    initialBackoffMs: number;
  };
  /** Standing (absent) or ephemeral tiers (services/broker/launcher/launcher-config.ts). */
  launcher?: LauncherConfig;
  /** Members may see and revoke every request. */
  adminGroups: string[];
  /** How often pending requests are swept for expiry. */
  expirySweepSeconds: number;
  /** The ops endpoint (/healthz, /readyz, /metrics) on its own port; absent: none. */
  ops?: { listen: string };
  /** The operator log's level (default info). */
  logLevel: LogLevel;
}

const nonEmpty = { type: 'string', minLength: 1 } as const;
const strings = { type: 'array', items: nonEmpty } as const;
const groupMap = { type: 'object', additionalProperties: strings } as const;

export const brokerConfigSchema = {
  type: 'object',
  additionalProperties: false,
  // The SSH user CA: a rotating keyring directory or a single key file, not both.
  oneOf: exactlyOneOf({ sshCaDir: nonEmpty, sshCaKeyFile: nonEmpty }),
  required: ['listen', 'tls', 'policyFile', 'denyListFile', 'audit', 'oidc', 'adminGroups'],
  properties: {
    $schema: { type: 'string' },
    listen: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: { host: nonEmpty, port: { type: 'integer', minimum: 0, maximum: 65535 } },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['tierCaCertFile', 'tierCaKeyFile'],
      properties: {
        tierCaCertFile: nonEmpty,
        tierCaKeyFile: nonEmpty,
        dnsNames: { ...strings, default: ['localhost'] },
        ipAddresses: { ...strings, default: ['127.0.0.1'] },
        lifetimeSeconds: { type: 'integer', minimum: 300, maximum: 2_592_000, default: 86_400 },
      },
    },
    policyFile: nonEmpty,
    sshCaDir: nonEmpty,
    sshCaKeyFile: nonEmpty,
    store: storeConfigSchema,
    storeFile: nonEmpty,
    denyListFile: nonEmpty,
    revocationKrlFile: nonEmpty,
    revocationConfigMap: {
      type: 'object',
      additionalProperties: false,
      required: ['namespace', 'name'],
      properties: {
        // Kubernetes names: a DNS label (namespace) and a DNS subdomain (ConfigMap).
        namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' },
        name: { type: 'string', maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
        kubeconfig: nonEmpty,
        resyncSeconds: { type: 'integer', minimum: 5, maximum: 3600, default: 60 },
      },
    },
    audit: {
      ...SCHEMA.brokerAudit,
      properties: {
        ...SCHEMA.brokerAudit.properties,
        witnessKeyFiles: { type: 'array', minItems: 1, maxItems: 16, items: nonEmpty },
      },
    },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'clientId', 'usernameClaim', 'groupsClaim', 'groupMapping', 'passThroughGroups'],
      properties: {
        issuer: { type: 'string', pattern: '^https://[^\\s]+$' },
        clientId: nonEmpty,
        caFile: nonEmpty,
        usernameClaim: nonEmpty,
        requireVerifiedUsername: { type: 'boolean', default: true },
        usernameVerifiedClaim: nonEmpty,
        groupsClaim: nonEmpty,
        groupMapping: groupMap,
        passThroughGroups: { type: 'boolean' },
        clockToleranceSeconds: { type: 'integer', minimum: 0, maximum: 300, default: 30 },
      },
    },
    kubernetes: {
      type: 'object',
      additionalProperties: false,
      required: ['audiences', 'machineGroups'],
      properties: {
        kubeconfig: nonEmpty,
        audiences: strings,
        machineGroups: groupMap,
      },
    },
    kubeCertificates: {
      type: 'object',
      additionalProperties: false,
      required: ['cluster'],
      properties: {
        cluster: nonEmpty,
        kubeconfig: nonEmpty,
        signTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 300, default: 30 },
      },
    },
    webhook: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^https://[^\\s]+$' },
        caFile: nonEmpty,
        maxAttempts: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
        initialBackoffMs: { type: 'integer', minimum: 10, maximum: 600_000, default: 1000 },
      },
    },
    launcher: LAUNCHER_SCHEMA,
    adminGroups: strings,
    expirySweepSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
    ops: SCHEMA.ops,
    logLevel: SCHEMA.logLevel,
  },
} as const;

/** Verification claims of the OpenID Connect Core §5.1 standard claims that have one. */
const STANDARD_VERIFIED_CLAIMS: Readonly<Record<string, string>> = {
  email: 'email_verified',
  phone_number: 'phone_number_verified',
};

/**
 * The claim that must be `true` before the user name claim is trusted, or
 * undefined when none is checked: verification is off, or the user name
 * claim has no standard verification claim and none is configured
 * (`sub`, `preferred_username`: docs/broker.md says when those are safe).
 */
export function usernameVerifiedClaim(
  oidc: Pick<BrokerConfig['oidc'], 'usernameClaim' | 'requireVerifiedUsername' | 'usernameVerifiedClaim'>,
): string | undefined {
  if (oidc.requireVerifiedUsername === false) return undefined;
  return (
    oidc.usernameVerifiedClaim ??
    (Object.hasOwn(STANDARD_VERIFIED_CLAIMS, oidc.usernameClaim)
      ? STANDARD_VERIFIED_CLAIMS[oidc.usernameClaim]
      : undefined)
  );
}

/** Checks across fields the schema cannot express; returns `path: problem` lines. */
export function checkBrokerConfig(config: BrokerConfig): string[] {
  const problems: string[] = [...launcherConfigProblems(config.launcher)];
  if ((config.store === undefined) === (config.storeFile === undefined)) {
    problems.push('store: exactly one of store and storeFile (legacy) is required');
  }
  const oidc = config.oidc;
  if (oidc.requireVerifiedUsername === false && oidc.usernameVerifiedClaim !== undefined) {
    problems.push('oidc.usernameVerifiedClaim: has no effect while requireVerifiedUsername is false');
  }
  if (oidc.usernameVerifiedClaim !== undefined && oidc.usernameVerifiedClaim === oidc.usernameClaim) {
    problems.push('oidc.usernameVerifiedClaim: must name another claim than usernameClaim');
  }
  return problems;
}

/**
 * Start-up warnings for settings that are valid but dangerous; the broker
 * logs each one.
 */
export function brokerConfigWarnings(config: BrokerConfig): string[] {
  const warnings: string[] = [];
  const oidc = config.oidc;
  if (oidc.passThroughGroups) {
    warnings.push(
      'oidc.passThroughGroups is true: every IdP group without a mapping is used under its own name; ' +
        'where users can create or name IdP groups (self-service groups, social logins) they can join requesterGroups ' +
        'or approverGroups of the policy; prefer an explicit groupMapping',
    );
  }
  if (usernameVerifiedClaim(oidc) === undefined && oidc.usernameClaim !== 'sub') {
    warnings.push(
      `oidc: the user name claim ${oidc.usernameClaim} is used without a verification claim; ` +
        'use it only if the IdP does not let users choose or change it (docs/broker.md)',
    );
  }
  return warnings;
}

/** Loads the file and resolves every path in it relative to the file. Throws CONFIG_INVALID. */
export function loadBrokerConfig(path: string): BrokerConfig {
  return loadTierConfig<BrokerConfig>(path, brokerConfigSchema, (config, from) => {
    const problems = checkBrokerConfig(config);
    if (problems.length > 0) {
      throw new AirlockError('CONFIG_INVALID', `configuration ${path} is invalid`, {
        detail: problems.join('\n'),
      });
    }
    return resolveBrokerPaths(config, from);
  });
}

function resolveBrokerPaths(config: BrokerConfig, from: (p: string) => string): Partial<BrokerConfig> {
  return {
    tls: {
      ...config.tls,
      tierCaCertFile: from(config.tls.tierCaCertFile),
      tierCaKeyFile: from(config.tls.tierCaKeyFile),
    },
    policyFile: from(config.policyFile),
    ...(config.sshCaDir === undefined ? {} : { sshCaDir: from(config.sshCaDir) }),
    ...(config.sshCaKeyFile === undefined ? {} : { sshCaKeyFile: from(config.sshCaKeyFile) }),
    ...(config.store ? { store: resolveStorePaths(config.store, from) } : {}),
    ...(config.storeFile ? { storeFile: from(config.storeFile) } : {}),
    denyListFile: from(config.denyListFile),
    ...(config.revocationKrlFile ? { revocationKrlFile: from(config.revocationKrlFile) } : {}),
    ...(config.revocationConfigMap
      ? { revocationConfigMap: withPath(config.revocationConfigMap, 'kubeconfig', from) }
      : {}),
    ...(config.launcher ? { launcher: resolveLauncherPaths(config.launcher, from) } : {}),
    audit: {
      ...resolveAuditPaths(config.audit, from),
      ...(config.audit.witnessKeyFiles ? { witnessKeyFiles: config.audit.witnessKeyFiles.map(from) } : {}),
    },
    oidc: withPath(config.oidc, 'caFile', from),
    ...(config.kubernetes ? { kubernetes: withPath(config.kubernetes, 'kubeconfig', from) } : {}),
    ...(config.webhook ? { webhook: withPath(config.webhook, 'caFile', from) } : {}),
    ...(config.kubeCertificates
      ? { kubeCertificates: withPath(config.kubeCertificates, 'kubeconfig', from) }
      : {}),
  };
}

/** A copy of `block` with its optional path `field` resolved by `from` (when set). */
function withPath<B extends object>(block: B, field: keyof B & string, from: (p: string) => string): B {
  const path = block[field];
  return { ...block, ...(typeof path === 'string' && path ? { [field]: from(path) } : {}) };
}
