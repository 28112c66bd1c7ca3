import { createHash } from 'node:crypto';
import { Agent, type AgentOptions, request as httpsRequest, type RequestOptions } from 'node:https';
import {
  type Configuration,
  createConfiguration,
  KubeConfig,
  type RequestContext,
  ResponseContext,
  ServerConfiguration,
  wrapHttpLibrary,
} from '@kubernetes/client-node';
import { AirlockError } from '../core/errors.js';
import { type Impersonation, impersonationHeaders } from '../core/policy/index.js';

/*
 * The transport of impersonation: who a session acts as, and its headers,
 * are core's (services/core/policy/kube-impersonation.ts); this file puts
 * those headers on every request client-node makes.
 */

/** TLS settings that make two agents interchangeable: same server trust, same client identity. */
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;
/** How long an idle connection to the apiserver is kept for the next call (well under its idle timeout). */
const IDLE_SOCKET_MS = 5_000;
const sharedAgents = new Map<string, Agent>();

/**
 * One keep-alive agent per distinct set of TLS settings, in place of the
 * fresh `https.Agent` client-node makes for every request. Without it every
 * Kubernetes call of every session built a new TLS context and did a full
 * handshake with the apiserver (an exec did two: the container lookup and
 * the WebSocket upgrade, which now takes over the lookup's idle connection).
 * Sharing is safe: the connection authenticates the executor itself, and
 * who it acts as travels in each request's Impersonate-* headers. Proxy
 * agents and anything else that is not a plain `https.Agent` are returned
 * unchanged.
 */
export function sharedAgent(agent: unknown): unknown {
  if (!(agent instanceof Agent) || agent.constructor !== Agent) return agent;
  const options = (agent as Agent).options as AgentOptions & Record<string, unknown>;
  const fields = TLS_FIELDS.map((name) => {
    const value = options[name];
    return Buffer.isBuffer(value) ? value.toString('base64') : (value ?? null);
  });
  const key = createHash('sha256').update(JSON.stringify(fields)).digest('hex');
  let shared = sharedAgents.get(key);
  if (!shared) {
    const tls = Object.fromEntries(
      TLS_FIELDS.filter((n) => options[n] !== undefined).map((n) => [n, options[n]]),
    );
    shared = new Agent({ ...tls, keepAlive: true, timeout: IDLE_SOCKET_MS, maxFreeSockets: 16 });
    sharedAgents.set(key, shared);
  }
  return shared;
}

/**
 * A KubeConfig that adds impersonation headers to every request made with
 * `applyToHTTPSOptions`, which client-node's Exec, Attach, PortForward (over
 * WebSocket) and Log (over fetch) use. Arrays stay arrays, so Node writes one
 * header line per value.
 */
export class ImpersonatingKubeConfig extends KubeConfig {
  readonly #headers: Record<string, string | string[]>;
  readonly #handshakeTimeoutMs: number | undefined;

  /**
   * `impersonation` undefined: no impersonation headers, the config's own user
   * (csr mode's session certificate). `handshakeTimeoutMs` bounds a WebSocket
   * upgrade (exec, port-forward): ws fails it after that long.
   */
  constructor(base: KubeConfig, impersonation: Impersonation | undefined, handshakeTimeoutMs?: number) {
    super();
    this.#handshakeTimeoutMs = handshakeTimeoutMs;
    this.loadFromOptions({
      clusters: base.clusters,
      users: base.users,
      contexts: base.contexts,
      currentContext: base.currentContext,
    });
    this.#headers = impersonation ? impersonationHeaders(impersonation) : {};
  }

  override async applyToHTTPSOptions(opts: Parameters<KubeConfig['applyToHTTPSOptions']>[0]): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    opts.headers = { ...(opts.headers ?? {}), ...this.#headers };
    // ws reads this from the options client-node passes to `new WebSocket(url, protocols, opts)`.
    if (this.#handshakeTimeoutMs !== undefined)
      (opts as { handshakeTimeout?: number }).handshakeTimeout = this.#handshakeTimeoutMs;
    const withAgent = opts as { agent?: unknown };
    withAgent.agent = sharedAgent(withAgent.agent);
  }

  /**
   * Refused. client-node 2 authenticates generated API clients and its `Log`
   * (undici fetch) through this method, whose string-valued header map would
   * join a group list into one group, and which this class would otherwise
   * inherit without any impersonation: the request would go out as the
   * executor itself. Use `impersonatingConfiguration` for API clients and
   * `applyToHTTPSOptions` for streams.
   */
  override async applySecurityAuthentication(_context: RequestContext): Promise<void> {
    throw new Error(
      'ImpersonatingKubeConfig does not authenticate fetch-based requests: use impersonatingConfiguration',
    );
  }
}

/**
 * The connection settings (TLS trust, client identity, proxy) `base` gives
 * node:https, as the shared agent for them.
 */
async function agentFor(base: KubeConfig): Promise<RequestOptions['agent']> {
  const options: RequestOptions = {};
  await base.applyToHTTPSOptions(options);
  return sharedAgent(options.agent) as RequestOptions['agent'];
}

/**
 * An HTTP library for client-node's generated API clients that sends the
 * impersonation headers as separate lines. The generated clients keep
 * headers in a string-valued map and would join a group list with commas;
 * client-node 2's own transport (undici fetch) does the same. The request
 * goes out over node:https with the shared agent for `base`'s connection
 * settings: client-node 2 hands over an undici dispatcher, built afresh for
 * every request, in place of the agent 1.x did.
 */
function impersonatingHttpLibrary(
  base: KubeConfig,
  headers: Record<string, string | string[]>,
  timeoutMs?: number,
) {
  return wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      const agent = await agentFor(base);
      return new Promise((resolve, reject) => {
        const req = httpsRequest(
          request.getUrl(),
          {
            method: request.getHttpMethod().toString(),
            headers: { ...request.getHeaders(), ...headers },
            agent,
            signal: request.getSignal() as AbortSignal | undefined,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              const responseHeaders: Record<string, string> = {};
              for (const [name, value] of Object.entries(res.headers)) {
                if (value !== undefined)
                  responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
              }
              resolve(
                new ResponseContext(res.statusCode ?? 0, responseHeaders, {
                  text: async () => body.toString('utf8'),
                  binary: async () => body,
                  stream: () => new Blob([body]).stream(),
                }),
              );
            });
          },
        );
        req.on('error', reject);
        // An API server that accepts connections but does not answer (stopped, overloaded,
        // a black-holed route) must not hang the caller: fail like a refused connection.
        if (timeoutMs !== undefined) {
          req.setTimeout(timeoutMs, () =>
            req.destroy(Object.assign(new Error('no answer from the API server'), { code: 'ETIMEDOUT' })),
          );
        }
        const payload = request.getBody();
        if (payload !== undefined && payload !== null) req.write(payload as string | Buffer);
        req.end();
      });
    },
  });
}

/**
 * Client-node configuration for generated API clients that impersonate
 * (`impersonation` undefined: that act as the config's own user) and whose
 * requests fail after `timeoutMs` without an answer.
 */
export function impersonatingConfiguration(
  base: KubeConfig,
  impersonation: Impersonation | undefined,
  timeoutMs?: number,
): Configuration {
  const cluster = base.getCurrentCluster();
  if (!cluster) throw new AirlockError('KUBECONFIG_INVALID', 'the kubeconfig has no current cluster');
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: base },
    httpApi: impersonatingHttpLibrary(
      base,
      impersonation ? impersonationHeaders(impersonation) : {},
      timeoutMs,
    ),
  });
}
