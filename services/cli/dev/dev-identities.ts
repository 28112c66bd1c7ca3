/**
 * The names the local stack uses: its cluster, namespaces, ServiceAccounts,
 * the dev identity provider's client and demo people. The policy
 * (demo-policy.ts, docs/policy.example.json), the cluster objects and the
 * broker's config all refer to them.
 */

/** The cluster name the local stack's policy and certificates use. */
export const DEV_CLUSTER = 'dev';
export const DEMO_NAMESPACE = 'payments';
/** A namespace the demo scope must not reach. */
export const OTHER_NAMESPACE = 'billing';
/** The executor's ServiceAccount: the only Kubernetes credential that may impersonate. */
export const EXECUTOR_SA = { name: 'airlock-executor', namespace: 'airlock-system' };
/** The broker's ServiceAccount: it reviews runbook tokens (TokenReview) and nothing else. */
export const BROKER_SA = { name: 'airlock-broker', namespace: 'airlock-system' };
/** The runbook identity of docs/policy.example.json (`runbooks.payments-health.machineUsers`). */
export const INCIDENT_BOT_SA = { name: 'incident-bot', namespace: 'ops' };
/** The audience a runbook's ServiceAccount token must carry for the broker's TokenReview. */
export const BROKER_TOKEN_AUDIENCE = 'airlock-broker';
/** The OAuth client (and ID token audience) of the dev identity provider. */
export const DEV_CLIENT_ID = 'airlock-cli';

/**
 * Demo people of the dev identity provider. Their IdP groups are mapped to
 * the policy's groups by the broker's `oidc.groupMapping`, as a real IdP's
 * would be.
 */
export const DEMO_PEOPLE = {
  /** On-call engineer: may request oncall-debug, auto-approved with an INC- reason. */
  oncall: { idpGroup: 'idp:payments-oncall', airlockGroup: 'payments-oncall' },
  /** Approver of oncall-debug requests. */
  lead: { idpGroup: 'idp:payments-leads', airlockGroup: 'payments-leads' },
} as const;
