/**
 * The broker's machine authentication against the hermetic cluster's real
 * kube-apiserver: a ServiceAccount token from the TokenRequest API is
 * verified with a TokenReview (createKubernetesTokenReviewer) and mapped to a
 * runbook identity; tokens for another audience, tampered tokens and
 * unlisted ServiceAccounts are refused.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Authenticator,
  createAuthenticator,
  createKubernetesTokenReviewer,
} from '../../services/broker/identity.js';
import { AirlockError } from '../../services/core/errors.js';
import { adminKubeConfig, createNamespace, uniqueName } from '../support/kube.js';

const AUDIENCE = 'airlock-broker';
let namespace: string;
let authenticator: Authenticator;
let core: CoreV1Api;

async function saToken(name: string, audiences: string[]): Promise<string> {
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences, expirationSeconds: 600 } },
  });
  return token.status?.token ?? '';
}

beforeAll(async () => {
  const admin = adminKubeConfig();
  core = admin.makeApiClient(CoreV1Api);
  namespace = uniqueName('ops');
  await createNamespace(admin, namespace);
  for (const name of ['incident-bot', 'other-bot']) {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  }
  const oidcNeverUsed = {
    verify: async () => {
      throw new AirlockError('AUTH_INVALID', 'no OIDC in this test');
    },
  };
  authenticator = createAuthenticator(oidcNeverUsed, 'https://idp.invalid', {
    reviewer: createKubernetesTokenReviewer(admin),
    audiences: [AUDIENCE],
    machineGroups: { [`system:serviceaccount:${namespace}:incident-bot`]: ['runbook-runners'] },
  });
});

describe('broker machine identities: TokenReview against a real kube-apiserver', () => {
  it('maps a ServiceAccount token for the broker audience to a runbook identity', async () => {
    const token = await saToken('incident-bot', [AUDIENCE]);
    expect(await authenticator.authenticate(`Bearer ${token}`)).toEqual({
      user: `system:serviceaccount:${namespace}:incident-bot`,
      groups: ['runbook-runners'],
      kind: 'machine',
      via: 'tokenreview',
    });
  });

  it('refuses a token for another audience, a tampered token and an unlisted ServiceAccount', async () => {
    const otherAudience = await saToken('incident-bot', ['https://kubernetes.default.svc']);
    await expect(authenticator.authenticate(`Bearer ${otherAudience}`)).rejects.toMatchObject({
      code: 'AUTH_INVALID',
    });
    const good = await saToken('incident-bot', [AUDIENCE]);
    const tampered = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await expect(authenticator.authenticate(`Bearer ${tampered}`)).rejects.toMatchObject({
      code: 'AUTH_INVALID',
    });
    const unlisted = await saToken('other-bot', [AUDIENCE]);
    await expect(authenticator.authenticate(`Bearer ${unlisted}`)).rejects.toMatchObject({
      code: 'AUTH_INVALID',
    });
  });
});
