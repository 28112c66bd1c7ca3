/**
 * The dev stack's identity side: the dev OpenID provider (in this process)
 * and the broker (a child process) that trusts it, maps its groups to the
 * policy's and reviews runbook ServiceAccount tokens.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueServingCertificate } from '../../core/x509/index.js';
import { BROKER_TOKEN_AUDIENCE, DEMO_PEOPLE, DEV_CLIENT_ID, INCIDENT_BOT_SA } from './dev-identities.js';
import { type DevOidcProvider, startDevOidcProvider } from './dev-oidc-provider.js';
import type { DevPki } from './dev-pki.js';
import { devAudit, startDevTier, type TierContext, withoutKubeEnv } from './dev-tiers.js';

/** Starts the dev OpenID provider with the demo people, serving TLS under the broker's tier CA. */
export async function startDevIdentityProvider(pki: DevPki, now: Date): Promise<DevOidcProvider> {
  const providerCert = await issueServingCertificate(pki.brokerCa.ca, {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    now,
  });
  return startDevOidcProvider({
    tls: {
      key: providerCert.privateKeyPem ?? '',
      cert: `${providerCert.certPem}${pki.brokerCa.ca.certPem}`,
    },
    clientId: DEV_CLIENT_ID,
    users: Object.fromEntries(
      Object.entries(DEMO_PEOPLE).map(([user, p]) => [
        user,
        { groups: [p.idpGroup], email: `${user}@airlock.dev` },
      ]),
    ),
    pollIntervalSeconds: 1,
  });
}

/** The broker's config: the dev provider as its IdP, the runbook ServiceAccount as a machine user. */
function brokerConfig(ctx: TierContext, issuer: string, kubeconfig: string): unknown {
  const { dirs, pki } = ctx;
  return {
    listen: { host: '127.0.0.1', port: 0 },
    tls: { tierCaCertFile: pki.brokerCa.cert, tierCaKeyFile: pki.brokerCa.key },
    policyFile: ctx.policyPath,
    // The broker is the SSH user CA keys' only user; the tiers read the public keys.
    sshCaDir: pki.caDirs['ssh-user'],
    store: { sqlite: { path: join(ctx.stateDir, 'broker', 'requests.db') }, retentionDays: 90 },
    denyListFile: pki.denyListPath,
    revocationKrlFile: pki.krlPath,
    audit: devAudit(dirs, 'broker'),
    oidc: {
      issuer,
      clientId: DEV_CLIENT_ID,
      caFile: pki.brokerCa.cert,
      usernameClaim: 'preferred_username',
      groupsClaim: 'groups',
      groupMapping: Object.fromEntries(Object.values(DEMO_PEOPLE).map((p) => [p.idpGroup, [p.airlockGroup]])),
      passThroughGroups: false,
    },
    kubernetes: {
      kubeconfig,
      audiences: [BROKER_TOKEN_AUDIENCE],
      machineGroups: {
        [`system:serviceaccount:${INCIDENT_BOT_SA.namespace}:${INCIDENT_BOT_SA.name}`]: ['runbook-runners'],
      },
    },
    adminGroups: ['airlock-admins'],
    ops: { listen: '127.0.0.1:0' },
  };
}

/**
 * Starts the broker trusting the provider at `issuer`, with the ServiceAccount
 * kubeconfig `kubeconfig` as its only Kubernetes credential; resolves once it
 * is ready.
 */
export async function startBroker(
  ctx: TierContext,
  issuer: string,
  kubeconfig: string,
): Promise<{ url: string; ready: Record<string, string> }> {
  const configPath = join(ctx.dirs.config, 'broker.json');
  writeFileSync(configPath, JSON.stringify(brokerConfig(ctx, issuer, kubeconfig), null, 2));
  mkdirSync(join(ctx.stateDir, 'broker'), { recursive: true, mode: 0o700 });
  const ready = await startDevTier(ctx, 'broker', configPath, withoutKubeEnv());
  return { url: ready.url!, ready };
}
