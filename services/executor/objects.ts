/**
 * Get and List: one-shot reads of Kubernetes objects, authorized like every
 * intent, then narrowed to what the session may see (finding 8: a list
 * shows the session's pods only; env values stay hidden unless the profile
 * reveals them). Only a failure of the allowed read is audited here.
 */
import type * as grpc from '@grpc/grpc-js';
import { AirlockError } from '../core/errors.js';
import { CLUSTER_SCOPED_RESOURCES, type Intent, RESOURCES } from '../core/policy/index.js';
import type { GetRequest, ListRequest, ObjectResponse } from '../core/rpc/messages.js';
import { targetNamespace } from '../core/session/target-namespace.js';
import { caller, unary } from './call-context.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import { type IntentCall, intentCall } from './intent-call.js';
import type { ObjectKind } from './kube-gateway.js';
import { filterListToScope, redactEnv } from './object-scope.js';
import type { ExecutorSession } from './session-registry.js';

/** The kinds a session may read: the policy's resources (all of them are ObjectKinds). */
const OBJECT_KINDS: ReadonlySet<string> = new Set<ObjectKind>(RESOURCES);
const CLUSTER_KINDS: ReadonlySet<string> = new Set<string>(CLUSTER_SCOPED_RESOURCES);

type ReadAction = 'get' | 'list';

/** The Get or List handler. */
export function objectsCall<Req extends GetRequest | ListRequest>(
  rt: ExecutorRuntime,
  action: ReadAction,
): grpc.handleUnaryCall<Req, ObjectResponse> {
  return unary<Req, ObjectResponse>(rt, action === 'get' ? 'Get' : 'List', (call, span) =>
    intentCall(rt, call, span, { event: 'intent.denied', everyFailure: false }, (intent) =>
      readObjects(rt, intent, call.request, action),
    ),
  );
}

async function readObjects(
  rt: ExecutorRuntime,
  intent: IntentCall,
  request: GetRequest | ListRequest,
  action: ReadAction,
): Promise<ObjectResponse> {
  const kind = request.kind;
  if (!OBJECT_KINDS.has(kind))
    throw new AirlockError('USAGE', `unknown kind ${kind}; one of ${[...OBJECT_KINDS].join(', ')}`);
  const session = intent.ctx.session;
  const namespace = CLUSTER_KINDS.has(kind) ? '' : targetNamespace(request.namespace, session.scope);
  const name = 'name' in request ? request.name : '';
  if (action === 'get' && !name) throw new AirlockError('USAGE', 'get needs a name');
  await intent.authorize({
    action,
    namespace: namespace || undefined,
    resource: kind as Intent['resource'],
    ...(kind === 'pods' && name ? { pod: name } : {}),
  });
  const as = caller(intent.ctx);
  const object =
    action === 'get'
      ? await intent.ctx.kube.get(kind as ObjectKind, namespace, name, as)
      : await intent.ctx.kube.list(kind as ObjectKind, namespace, as);
  return { json: JSON.stringify(visibleObjects(rt, session.scope, kind, action, object)) };
}

/** Finding 8: a list shows the session's pods only; env values stay hidden unless the profile reveals them. */
function visibleObjects(
  rt: ExecutorRuntime,
  scope: ExecutorSession['scope'],
  kind: string,
  action: ReadAction,
  object: unknown,
) {
  const profiles = rt.deps.policy().profiles;
  const profile = Object.hasOwn(profiles, scope.profile) ? profiles[scope.profile] : undefined;
  let json: unknown = JSON.parse(JSON.stringify(object ?? null));
  if (action === 'list') {
    // No profile (removed since authorize): no pod is visible.
    json = filterListToScope(kind, json, {
      profilePods: profile?.scope.pods ?? [],
      sessionPods: scope.podPatterns,
    });
  }
  return profile?.revealEnv === true ? json : redactEnv(json);
}
