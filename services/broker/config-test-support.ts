/*
 * What the tests of the broker's config file share (config.test.ts,
 * kube-csr-deploy.test.ts): a valid config, with every required field.
 */

/** A valid broker config (file names relative to it); OIDC maps groups by `groupMapping`. */
export const validBrokerConfigJson = (groupMapping: Record<string, string[]>) => ({
  listen: { host: '127.0.0.1', port: 8443 },
  tls: { tierCaCertFile: 'ca.pem', tierCaKeyFile: 'ca.key' },
  policyFile: 'policy.json',
  sshCaKeyFile: 'ssh_user_ca',
  storeFile: 'requests.json',
  denyListFile: 'deny.json',
  audit: { path: 'audit.jsonl', signingKeyFile: 'audit.key' },
  oidc: {
    issuer: 'https://idp.example.com',
    clientId: 'airlock',
    usernameClaim: 'preferred_username',
    groupsClaim: 'groups',
    groupMapping,
    passThroughGroups: false,
  },
  adminGroups: ['airlock-admins'],
});
