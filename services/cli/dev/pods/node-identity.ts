/**
 * The dev identity provider as the pods stacks run it (standing and
 * ephemeral): on the node address, so the broker pod fetches its keys
 * there, with a certificate from the broker CA; and the broker's `oidc`
 * config block that trusts it.
 */
import { readFileSync } from 'node:fs';
import { issueServingCertificate, loadTierCa } from '../../../core/x509/index.js';
import { type DevOidcProvider, startDevOidcProvider } from '../dev-oidc-provider.js';
import { DEV_CLIENT_ID, INCIDENT_BOT_SA } from '../dev-stack.js';
import type { HermeticCluster } from '../hermetic-cluster.js';

/** The people a stack's provider knows: user name → the group the IdP gives and the airlock group it maps to. */
export type PodsPeople = Readonly<Record<string, { idpGroup: string; airlockGroup: string }>>;

/** Starts the provider on the node address, knowing `people`. */
export async function startNodeIdentityProvider(
  cluster: HermeticCluster,
  brokerCa: { cert: string; key: string },
  people: PodsPeople,
  now: Date,
): Promise<DevOidcProvider> {
  const nodeIp = cluster.server.replace(/^https:\/\/|:\d+$/g, '');
  const broker = await loadTierCa(readFileSync(brokerCa.cert, 'utf8'), readFileSync(brokerCa.key, 'utf8'));
  const providerCert = await issueServingCertificate(broker, {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', nodeIp],
    now,
  });
  return startDevOidcProvider({
    host: nodeIp,
    tls: { key: providerCert.privateKeyPem ?? '', cert: `${providerCert.certPem}${broker.certPem}` },
    clientId: DEV_CLIENT_ID,
    users: Object.fromEntries(
      Object.entries(people).map(([user, p]) => [
        user,
        { groups: [p.idpGroup], email: `${user}@airlock.dev` },
      ]),
    ),
    pollIntervalSeconds: 1,
  });
}

/** The broker config's `oidc` block for that provider (the broker pod reads its CA from the broker-ca Secret). */
export function nodeIdentityOidcConfig(issuer: string, people: PodsPeople): Record<string, unknown> {
  return {
    issuer,
    clientId: DEV_CLIENT_ID,
    caFile: '/etc/airlock/broker-ca/tls.crt',
    usernameClaim: 'preferred_username',
    groupsClaim: 'groups',
    groupMapping: Object.fromEntries(Object.values(people).map((p) => [p.idpGroup, [p.airlockGroup]])),
    passThroughGroups: false,
  };
}

/**
 * An overlay's broker config (`brokerJson`) as the real node runs it: the
 * broker Service reached at 127.0.0.1, the node identity provider, machine
 * tokens for the broker's audience, the runbook identity's group.
 */
export function nodeBrokerConfig(
  brokerJson: string,
  issuer: string,
  people: PodsPeople,
): Record<string, unknown> {
  const broker = JSON.parse(readFileSync(brokerJson, 'utf8'));
  broker.tls.ipAddresses = ['127.0.0.1'];
  broker.oidc = nodeIdentityOidcConfig(issuer, people);
  broker.kubernetes = {
    ...broker.kubernetes,
    audiences: ['airlock-broker'],
    machineGroups: {
      [`system:serviceaccount:${INCIDENT_BOT_SA.namespace}:${INCIDENT_BOT_SA.name}`]: ['runbook-runners'],
    },
  };
  return broker;
}
