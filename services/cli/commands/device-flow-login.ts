/** The OAuth 2.0 Device Authorization Grant (RFC 8628) of `airlock login --flow device`. */

import { AirlockError } from '../../core/errors.js';
import { httpsCall } from '../../core/https/https-client.js';
import type { BrokerClientIo } from './broker-client-io.js';
import type { ProviderEndpoints } from './oidc-auth-code.js';

/** RFC 8628 §3.4 grant type. */
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628: shows the user code, polls the token endpoint; returns the (unverified) ID token. */
export async function deviceFlowLogin(
  provider: ProviderEndpoints,
  clientId: string,
  issuerCa: string | undefined,
  io: BrokerClientIo,
): Promise<string> {
  const issuer = provider.issuer;
  if (provider.deviceAuthorizationEndpoint === undefined) {
    throw new AirlockError('AUTH_INVALID', `${issuer} does not offer the device authorization grant`);
  }
  const started = await httpsCall(provider.deviceAuthorizationEndpoint, {
    ca: issuerCa,
    form: { client_id: clientId, scope: 'openid profile email groups' },
  });
  const device = (started.body ?? {}) as {
    device_code?: string;
    user_code?: string;
    verification_uri?: string;
    verification_uri_complete?: string;
    expires_in?: number;
    interval?: number;
  };
  if (
    started.status !== 200 ||
    typeof device.device_code !== 'string' ||
    typeof device.user_code !== 'string'
  ) {
    throw new AirlockError(
      'AUTH_INVALID',
      `${issuer} refused the device authorization (HTTP ${started.status})`,
    );
  }
  io.err(
    `To sign in, open ${device.verification_uri ?? issuer} and enter the code ${device.user_code}\n` +
      (device.verification_uri_complete ? `(or open ${device.verification_uri_complete})\n` : ''),
  );
  // RFC 8628 §3.5: poll no faster than `interval`, +5 s on slow_down, until expires_in.
  let interval = (device.interval ?? 5) * 1000;
  const deadline = Date.now() + (device.expires_in ?? 600) * 1000;
  let idToken: string | undefined;
  while (idToken === undefined) {
    if (Date.now() >= deadline)
      throw new AirlockError('AUTH_EXPIRED', 'the sign-in code expired; run airlock login again');
    await io.sleep(interval);
    const polled = await httpsCall(provider.tokenEndpoint, {
      ca: issuerCa,
      form: { grant_type: DEVICE_CODE_GRANT, device_code: device.device_code, client_id: clientId },
    });
    const body = (polled.body ?? {}) as { error?: string; id_token?: string };
    if (polled.status === 200 && typeof body.id_token === 'string') idToken = body.id_token;
    else if (body.error === 'authorization_pending') continue;
    else if (body.error === 'slow_down') interval += 5000;
    else if (body.error === 'access_denied') throw new AirlockError('AUTH_INVALID', 'sign-in was denied');
    else if (body.error === 'expired_token') {
      throw new AirlockError('AUTH_EXPIRED', 'the sign-in code expired; run airlock login again');
    } else throw new AirlockError('AUTH_INVALID', `sign-in failed: ${body.error ?? `HTTP ${polled.status}`}`);
  }
  return idToken;
}
