/**
 * Test helpers for the rendered admission policies: apply them to the
 * hermetic API server and ask it, as an impersonated airlock identity,
 * whether it admits an exec — without a kubelet round trip.
 *
 * An exec request without `Upgrade` headers runs authentication,
 * authorization and admission like any other; when admission admits it the
 * API server proxies it to the kubelet, which answers 400 ("Upgrade request
 * required"). So 403 with a ValidatingAdmissionPolicy message means refused
 * by admission, any other status means admitted. This also carries argv that
 * kubectl cannot (a NUL cannot be an execve argument).
 */
import { type RequestOptions, request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { type KubeConfig, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import type { AdmissionPolicyObject } from '../../services/core/policy/admission-render.js';

export interface AdmissionAnswer {
  readonly status: number;
  readonly body: string;
  /** Refused by a ValidatingAdmissionPolicy (not by RBAC). */
  readonly refusedByPolicy: boolean;
}

export interface Identity {
  readonly user: string;
  readonly groups: readonly string[];
}

/**
 * Sends one unupgraded request as `identity` (the admin client impersonating
 * it), or, with `identity` null, with whatever headers `kc` applies itself
 * (the executor's impersonating KubeConfig).
 */
export async function askApiServer(
  kc: KubeConfig,
  identity: Identity | null,
  path: string,
  query: readonly [string, string][],
  patch?: unknown,
  method: 'POST' | 'PATCH' | 'DELETE' = patch === undefined ? 'POST' : 'PATCH',
): Promise<AdmissionAnswer> {
  const url = new URL(`${kc.getCurrentCluster()!.server}${path}`);
  for (const [k, v] of query) url.searchParams.append(k, v);
  const opts: RequestOptions = { method, headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const headers = opts.headers as Record<string, string | string[]>;
  if (patch !== undefined)
    headers['Content-Type'] =
      method === 'PATCH' ? 'application/strategic-merge-patch+json' : 'application/json';
  if (identity) {
    headers['Impersonate-User'] = identity.user;
    headers['Impersonate-Group'] = [...identity.groups];
  }
  return new Promise((resolve, reject) => {
    const req = request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body,
          refusedByPolicy: res.statusCode === 403 && body.includes('ValidatingAdmissionPolicy'),
        });
      });
    });
    req.on('error', reject);
    req.end(patch === undefined ? undefined : JSON.stringify(patch));
  });
}

/** Asks whether an exec of `argv` in `namespace/pod` is admitted. */
export function askExec(
  kc: KubeConfig,
  identity: Identity | null,
  namespace: string,
  pod: string,
  argv: readonly string[],
  container?: string,
): Promise<AdmissionAnswer> {
  const query: [string, string][] = argv.map((a) => ['command', a]);
  query.push(['stdout', 'true']);
  if (container !== undefined) query.push(['container', container]);
  return askApiServer(kc, identity, `/api/v1/namespaces/${namespace}/pods/${pod}/exec`, query);
}

/**
 * Creates the rendered objects and waits until the API server enforces them
 * (policies take effect asynchronously): polls `enforced` until it is true.
 */
export async function applyAdmission(
  kc: KubeConfig,
  objects: readonly AdmissionPolicyObject[],
  enforced: () => Promise<boolean>,
): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) await api.create(JSON.parse(JSON.stringify(object)) as KubernetesObject);
  const deadline = Date.now() + 30_000;
  while (!(await enforced())) {
    if (Date.now() > deadline) throw new Error('admission policies not enforced after 30 s');
    await sleep(200);
  }
}

/** Deletes the rendered objects (they apply cluster-wide; other test files share the cluster). */
export async function deleteAdmission(
  kc: KubeConfig,
  objects: readonly AdmissionPolicyObject[],
): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) {
    await api.delete(JSON.parse(JSON.stringify(object)) as KubernetesObject).catch(() => undefined);
  }
}
