/** The dev provider's OAuth 2.0 Device Authorization Grant (RFC 8628) with its demo login page. */
import { randomBytes, randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { AirlockError } from '../../../core/errors.js';
import { oauthError, send, sendPage, signInPage } from './oidc-http.js';

interface DeviceAuthorization {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly expiresAt: number;
  interval: number;
  lastPoll: number;
  approvedUser: string | undefined;
  denied: boolean;
}

/** RFC 8628 §6.1: user codes from a consonant alphabet, easy to type, no vowels to spell words. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** Upper-cases and removes the dash so `bcdf-ghjk` and `BCDFGHJK` match. */
function normaliseUserCode(code: string): string {
  return code.toUpperCase().replace(/[^A-Z]/g, '');
}

/** What the flow needs from the provider. */
export interface DeviceFlowOptions {
  readonly users: readonly string[];
  readonly deviceCodeTtlSeconds: number;
  readonly pollIntervalSeconds: number;
  readonly idTokenTtlSeconds: number;
  /** The provider's issuer URL, known once it listens. */
  readonly issuer: () => string;
  readonly mintIdToken: (user: string) => Promise<string>;
}

/** The device grant's endpoints and the approvals tests drive directly. */
export interface DeviceFlow {
  /** POST /device_authorization (RFC 8628 §3.1-3.2), client already checked. */
  start(res: ServerResponse): void;
  /** POST /token with the device grant (RFC 8628 §3.4-3.5), client already checked. */
  poll(res: ServerResponse, form: URLSearchParams): Promise<void>;
  /** GET /device: the demo login page. */
  page(res: ServerResponse, query: URLSearchParams): void;
  /** POST /device: the demo user signs in or denies. */
  submit(res: ServerResponse, form: URLSearchParams): void;
  approve(userCode: string, user: string): void;
  deny(userCode: string): void;
}

/** The flow's options and the pending authorizations, by either code. */
interface DeviceFlowState {
  readonly options: DeviceFlowOptions;
  readonly byDeviceCode: Map<string, DeviceAuthorization>;
  readonly byUserCode: Map<string, DeviceAuthorization>;
}

/** The demo login page for a user code. */
function devicePage(flow: DeviceFlowState, userCode: string, message = ''): string {
  return signInPage({ action: '/device', users: flow.options.users, message, userCode });
}

/** The authorization a user code names, while it is pending; USAGE otherwise. */
function pending({ byUserCode }: DeviceFlowState, userCode: string): DeviceAuthorization {
  const auth = byUserCode.get(normaliseUserCode(userCode));
  if (!auth || auth.expiresAt <= Date.now()) {
    throw new AirlockError('USAGE', `no pending device authorization with user code ${userCode}`);
  }
  return auth;
}

function approve(flow: DeviceFlowState, userCode: string, user: string): void {
  if (!flow.options.users.includes(user))
    throw new AirlockError('USAGE', `no demo user named ${JSON.stringify(user)}`);
  pending(flow, userCode).approvedUser = user;
}

function deny(flow: DeviceFlowState, userCode: string): void {
  pending(flow, userCode).denied = true;
}

/** POST /device_authorization: see DeviceFlow.start. */
function start({ options, byDeviceCode, byUserCode }: DeviceFlowState, res: ServerResponse): void {
  const auth: DeviceAuthorization = {
    deviceCode: randomBytes(32).toString('base64url'),
    userCode: newUserCode(),
    expiresAt: Date.now() + options.deviceCodeTtlSeconds * 1000,
    interval: options.pollIntervalSeconds,
    lastPoll: 0,
    approvedUser: undefined,
    denied: false,
  };
  byDeviceCode.set(auth.deviceCode, auth);
  byUserCode.set(normaliseUserCode(auth.userCode), auth);
  send(res, 200, {
    device_code: auth.deviceCode,
    user_code: auth.userCode,
    verification_uri: `${options.issuer()}/device`,
    verification_uri_complete: `${options.issuer()}/device?user_code=${encodeURIComponent(auth.userCode)}`,
    expires_in: options.deviceCodeTtlSeconds,
    interval: options.pollIntervalSeconds,
  });
}

/** POST /token: see DeviceFlow.poll. */
async function poll(
  { options, byDeviceCode, byUserCode }: DeviceFlowState,
  res: ServerResponse,
  form: URLSearchParams,
): Promise<void> {
  const auth = byDeviceCode.get(form.get('device_code') ?? '');
  if (!auth) {
    oauthError(res, 'invalid_grant');
    return;
  }
  const now = Date.now();
  if (auth.expiresAt <= now) {
    oauthError(res, 'expired_token');
    return;
  }
  if (auth.denied) {
    byDeviceCode.delete(auth.deviceCode);
    oauthError(res, 'access_denied');
    return;
  }
  if (auth.approvedUser === undefined) {
    // RFC 8628 §3.5: polling faster than the interval earns slow_down and +5 s.
    const tooFast = now - auth.lastPoll < auth.interval * 1000 - 250;
    auth.lastPoll = now;
    if (tooFast) {
      auth.interval += 5;
      oauthError(res, 'slow_down');
    } else oauthError(res, 'authorization_pending');
    return;
  }
  // A device code is redeemed once.
  byDeviceCode.delete(auth.deviceCode);
  byUserCode.delete(normaliseUserCode(auth.userCode));
  send(res, 200, {
    access_token: randomBytes(24).toString('base64url'),
    token_type: 'Bearer',
    expires_in: options.idTokenTtlSeconds,
    id_token: await options.mintIdToken(auth.approvedUser),
  });
}

function page(flow: DeviceFlowState, res: ServerResponse, query: URLSearchParams): void {
  sendPage(res, 200, devicePage(flow, query.get('user_code') ?? ''));
}

/** POST /device: see DeviceFlow.submit. */
function submit(flow: DeviceFlowState, res: ServerResponse, form: URLSearchParams): void {
  const code = form.get('user_code') ?? '';
  try {
    if (form.get('action') === 'deny') {
      deny(flow, code);
      sendPage(res, 200, devicePage(flow, '', 'Denied. You can close this window.'));
    } else {
      approve(flow, code, form.get('user') ?? '');
      sendPage(res, 200, devicePage(flow, '', 'Signed in. Return to your terminal.'));
    }
  } catch (error) {
    sendPage(res, 400, devicePage(flow, code, (error as Error).message));
  }
}

export function deviceFlow(options: DeviceFlowOptions): DeviceFlow {
  const flow: DeviceFlowState = { options, byDeviceCode: new Map(), byUserCode: new Map() };
  return {
    start: (res) => start(flow, res),
    poll: (res, form) => poll(flow, res, form),
    page: (res, query) => page(flow, res, query),
    submit: (res, form) => submit(flow, res, form),
    approve: (userCode, user) => approve(flow, userCode, user),
    deny: (userCode) => deny(flow, userCode),
  };
}
