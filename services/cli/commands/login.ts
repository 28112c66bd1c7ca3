/**
 * `airlock login`: the device flow (device-flow-login.ts), the authorization
 * code flow with PKCE on a loopback redirect (oidc-auth-code.ts), or a
 * ServiceAccount token file; the ID token is verified (signature, issuer,
 * audience) and cached (token-cache.ts).
 */

import { resolve } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { httpsCall } from '../../core/https/https-client.js';
import { call, type Session } from './broker-api.js';
import {
  type BrokerClientIo,
  type ConnectionOptions,
  type OutputOptions,
  printJson,
} from './broker-client-io.js';
import { deviceFlowLogin } from './device-flow-login.js';
import { authCodeLogin, discoverProvider, fetchJwks, verifyLoginIdToken } from './oidc-auth-code.js';
import { readServiceAccountToken } from './service-account-token.js';
import { readCache, readPem, writeCache } from './token-cache.js';

/** How `airlock login` signs in. */
export type LoginFlow = 'device' | 'auth-code';

/** Options of `airlock login`. */
export interface LoginOptions extends ConnectionOptions, OutputOptions {
  /** PEM bundle for the issuer's TLS; default: the --ca bundle. */
  readonly issuerCa?: string;
  /** Default: `device` when the issuer offers it, else `auth-code`. */
  readonly flow?: string;
  /** Open the sign-in URL in a browser (auth-code flow). */
  readonly openBrowser?: boolean;
  /** How long the auth-code flow waits for the browser, in seconds; default 300. */
  readonly timeoutSeconds?: number;
  /** A file holding a Kubernetes ServiceAccount token (a runbook's machine identity) instead of a person's sign-in. */
  readonly serviceAccountToken?: string;
}

/** `airlock login --service-account-token FILE`: checks the token at the broker (TokenReview) and remembers the file. */
async function runServiceAccountLogin(
  options: LoginOptions & { serviceAccountToken: string },
  io: BrokerClientIo,
): Promise<number> {
  const cached = await readCache(io);
  const broker = options.broker ?? cached?.broker;
  if (!broker) throw new AirlockError('USAGE', 'the first login needs --broker URL');
  const caPath = options.ca === undefined ? cached?.ca : resolve(options.ca);
  const tokenFile = resolve(options.serviceAccountToken);
  const read = await readServiceAccountToken(tokenFile, io.now());
  const s: Session = { broker, ca: await readPem(caPath), token: read.token };
  const me = (await call(s, 'GET', '/v1/whoami')) as { user: string; groups: string[]; kind?: string };
  // The file is read again by each command: a projected token's expiry is not the login's.
  const expiresAt = read.expiresAt ?? 'never';
  await writeCache(io, {
    broker,
    ...(caPath === undefined ? {} : { ca: caPath }),
    issuer: read.issuer ?? 'kubernetes',
    idToken: '',
    expiresAt,
    user: me.user,
    tokenFile,
  });
  if (options.output === 'json') printJson(io, { user: me.user, groups: me.groups, tokenFile });
  else {
    io.out(
      `logged in as ${me.user} (groups: ${me.groups.join(', ') || 'none'}) with the token in ${tokenFile} (read again by each command)\n`,
    );
  }
  return 0;
}

/** `airlock login`: device flow or auth-code flow, then verifies and caches the ID token. */
export async function runLogin(options: LoginOptions, io: BrokerClientIo): Promise<number> {
  if (options.serviceAccountToken !== undefined) {
    if (options.flow !== undefined || options.openBrowser) {
      throw new AirlockError('USAGE', '--service-account-token takes no --flow or --open-browser');
    }
    return runServiceAccountLogin({ ...options, serviceAccountToken: options.serviceAccountToken }, io);
  }
  const cached = await readCache(io);
  const broker = options.broker ?? cached?.broker;
  if (!broker) throw new AirlockError('USAGE', 'the first login needs --broker URL');
  const caPath = options.ca === undefined ? cached?.ca : resolve(options.ca);
  const ca = await readPem(caPath);
  const issuerCa = options.issuerCa === undefined ? ca : await readPem(options.issuerCa);

  const config = await httpsCall(`${broker.replace(/\/$/, '')}/v1/config`, { ca });
  const { issuer, clientId } = (config.body ?? {}) as { issuer?: string; clientId?: string };
  if (config.status !== 200 || typeof issuer !== 'string' || typeof clientId !== 'string') {
    throw new AirlockError('INTERNAL', `${broker} did not name its issuer (HTTP ${config.status})`);
  }
  if (options.flow !== undefined && options.flow !== 'device' && options.flow !== 'auth-code') {
    throw new AirlockError('USAGE', `--flow ${options.flow} is not one of device, auth-code`);
  }
  const provider = await discoverProvider(issuer, issuerCa);
  const flow: LoginFlow =
    (options.flow as LoginFlow | undefined) ??
    (provider.deviceAuthorizationEndpoint ? 'device' : 'auth-code');
  const idToken =
    flow === 'device'
      ? await deviceFlowLogin(provider, clientId, issuerCa, io)
      : await authCodeLogin({
          provider,
          clientId,
          ca: issuerCa,
          tell: (text) => io.err(text),
          ...(options.openBrowser && io.openBrowser ? { openBrowser: io.openBrowser.bind(io) } : {}),
          now: () => io.now(),
          ...(options.timeoutSeconds === undefined ? {} : { timeoutMs: options.timeoutSeconds * 1000 }),
        });
  // The auth-code flow verified it with its nonce already; this covers the device flow too.
  const { exp } = await verifyLoginIdToken(idToken, {
    issuer,
    clientId,
    jwks: await fetchJwks(provider.jwksUri, issuerCa),
    now: io.now(),
  });
  const s: Session = { broker, ca, token: idToken };
  const me = (await call(s, 'GET', '/v1/whoami')) as { user: string; groups: string[] };
  await writeCache(io, {
    broker,
    ...(caPath === undefined ? {} : { ca: caPath }),
    issuer,
    idToken,
    expiresAt: new Date((exp ?? 0) * 1000).toISOString(),
    user: me.user,
  });
  const expiresAt = new Date((exp ?? 0) * 1000).toISOString();
  if (options.output === 'json') printJson(io, { user: me.user, groups: me.groups, expiresAt });
  else io.out(`logged in as ${me.user} (groups: ${me.groups.join(', ') || 'none'}) until ${expiresAt}\n`);
  return 0;
}
