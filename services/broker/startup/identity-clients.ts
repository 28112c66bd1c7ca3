/**
 * The broker's clients for who a caller is and what the cluster signs: the
 * OIDC verifier, the TokenReview client of runbooks (`kubernetes`) and the
 * CSR signer of Kubernetes client certificates (`kubeCertificates`).
 */
import { readFile } from 'node:fs/promises';
import { type BrokerConfig, usernameVerifiedClaim } from '../config.js';
import { createKubernetesTokenReviewer, createOidcVerifier, type MachineSettings } from '../identity.js';
import { createKubeCsrSigner, type KubeCsrSigner } from '../kube-csr-signer.js';
import { loadKubeConfig } from './kube-config.js';
import type { BrokerOverrides } from './overrides.js';

/** Runbook authentication by TokenReview; undefined without `config.kubernetes`. */
export function machineSettings(
  config: BrokerConfig,
  overrides: BrokerOverrides,
): MachineSettings | undefined {
  if (!config.kubernetes) return undefined;
  const reviewer =
    overrides.tokenReviewer ?? createKubernetesTokenReviewer(loadKubeConfig(config.kubernetes.kubeconfig));
  return {
    reviewer,
    audiences: config.kubernetes.audiences,
    machineGroups: config.kubernetes.machineGroups,
  };
}

/** The CSR signer and cluster of Kubernetes client certificates; undefined without `config.kubeCertificates`. */
export function kubeCertificateSigning(
  config: BrokerConfig,
  overrides: BrokerOverrides,
): { signer: KubeCsrSigner; cluster: string } | undefined {
  const settings = config.kubeCertificates;
  if (!settings) return undefined;
  const signer =
    overrides.kubeCsrSigner ??
    createKubeCsrSigner(loadKubeConfig(settings.kubeconfig), {
      timeoutMs: (settings.signTimeoutSeconds ?? 30) * 1000,
    });
  return { signer, cluster: settings.cluster };
}

/** Reads `oidc.caFile` (the provider's CA), undefined when none is configured. */
export async function readOidcCa(config: BrokerConfig): Promise<string | undefined> {
  return config.oidc.caFile === undefined ? undefined : readFile(config.oidc.caFile, 'utf8');
}

/** The OIDC ID token verifier of `config.oidc`. */
export function oidcVerifier(config: BrokerConfig, caPem: string | undefined, clock: () => Date) {
  return createOidcVerifier(
    {
      issuer: config.oidc.issuer,
      audience: config.oidc.clientId,
      usernameClaim: config.oidc.usernameClaim,
      usernameVerifiedClaim: usernameVerifiedClaim(config.oidc),
      groupsClaim: config.oidc.groupsClaim,
      groupMapping: config.oidc.groupMapping,
      passThroughGroups: config.oidc.passThroughGroups,
      caPem,
      clockToleranceSeconds: config.oidc.clockToleranceSeconds,
    },
    clock,
  );
}
