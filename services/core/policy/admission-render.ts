/**
 * ValidatingAdmissionPolicies rendered from the policy file (`airlock policy
 * admission`), so that the API server refuses what the policy refuses for
 * every request made as a `jit:` group or as the executor's impersonated
 * user — whether it came through the executor or from a `kube-cert` /
 * `cred-helper` credential. What admission can and cannot see is in
 * docs/admission.md (proved in test/integration/admission-connect.test.ts).
 *
 * Objects (each policy has a binding of the same name, `validationActions: [Deny]`):
 * - `airlock-jit-writes`: airlock identities may change nothing but
 *   `pods/exec|attach|portforward` (CONNECT) and `pods/ephemeralcontainers`;
 * - `airlock-jit-scope`: such a request must be covered by some profile
 *   (all its groups rendered for the request's namespace, namespace in scope);
 * - `airlock-profile-<name>`, one per profile, for requests carrying all of
 *   the profile's groups: action, pod, container, command, ports, debug image.
 *   When several profiles share groups, all of them must admit (stricter).
 *
 * Every object carries the policy digest annotation (`airlock policy check
 * --kubeconfig` compares it). Pure: no I/O, deterministic output.
 */
import { createHash } from 'node:crypto';
import { AirlockError } from '../errors.js';
import { celGlobAny, celString, celStringList, commandRulesCel, exactArgvCel } from './admission-cel.js';
import { globMatchAny } from './glob.js';
import { CLUSTER_NAME } from './groups.js';
import { IMPERSONATED_USER } from './kube-impersonation.js';
import type { Policy, PolicyWarning, Profile } from './types.js';

/** Annotation holding the sha256 of the policy file the objects were rendered from. */
export const POLICY_DIGEST_ANNOTATION = 'airlock.dev/policy-digest';
/** Label on every rendered object (`kubectl get validatingadmissionpolicies -l …`). */
export const ADMISSION_LABELS = {
  'app.kubernetes.io/managed-by': 'airlock',
  'app.kubernetes.io/part-of': 'airlock',
} as const;

const API_VERSION = 'admissionregistration.k8s.io/v1';

export interface AdmissionOptions {
  /** The cluster the objects are applied to; `{cluster}` in group templates renders to it. */
  readonly cluster: string;
  /** The exact bytes of the policy file, for the digest annotation. */
  readonly policyText: string;
}

/** sha256 of the policy file text, as `sha256:<hex>`. */
export function policyDigest(policyText: string): string {
  return `sha256:${createHash('sha256').update(policyText, 'utf8').digest('hex')}`;
}

export interface AdmissionValidation {
  readonly expression: string;
  readonly message: string;
  readonly reason?: 'Forbidden' | 'Invalid';
}

export interface AdmissionPolicyObject {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: 'ValidatingAdmissionPolicy' | 'ValidatingAdmissionPolicyBinding';
  readonly metadata: {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
  };
  readonly spec: Readonly<Record<string, unknown>>;
}

/** CEL: the request is made by an airlock identity (a `jit:` group or the executor's session user). */
export const AIRLOCK_IDENTITY_CEL =
  `request.userInfo.username == ${celString(IMPERSONATED_USER)} || ` +
  'request.userInfo.groups.exists(g, g.startsWith("jit:"))';

const POD_SUBRESOURCES_RULES = [
  {
    apiGroups: [''],
    apiVersions: ['v1'],
    operations: ['CONNECT'],
    resources: ['pods/exec', 'pods/attach', 'pods/portforward'],
  },
  { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'] },
];

const ALLOWED_WRITE_CEL =
  '(request.resource.group == "" && request.resource.resource == "pods" && ' +
  '((request.operation == "CONNECT" && request.subResource in ["exec", "attach", "portforward"]) || ' +
  '(request.operation == "UPDATE" && request.subResource == "ephemeralcontainers"))) || ' +
  // Questions about one's own rights change nothing (`kubectl auth can-i`, `kubectl auth whoami`).
  '(request.operation == "CREATE" && ((request.resource.group == "authorization.k8s.io" && ' +
  'request.resource.resource in ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]) || ' +
  '(request.resource.group == "authentication.k8s.io" && request.resource.resource == "selfsubjectreviews")))';

/** A profile's group templates as a CEL list, `{namespace}` taken from the request. */
function groupsCel(profile: Profile, profileName: string, cluster: string): string {
  const items = profile.groups.map((template) => {
    const parts = template.split(/(\{namespace\})/).filter((p) => p !== '');
    const cel = parts.map((p) =>
      p === '{namespace}'
        ? 'request.namespace'
        : celString(p.replaceAll('{cluster}', cluster).replaceAll('{profile}', profileName)),
    );
    return cel.join(' + ');
  });
  return `[${[...new Set(items)].join(', ')}]`;
}

function carriesGroupsCel(profile: Profile, name: string, cluster: string): string {
  return `${groupsCel(profile, name, cluster)}.all(g, g in request.userInfo.groups)`;
}

/** The profile's container name patterns; absent: every container. */
function containerPatterns(profile: Profile): readonly string[] | undefined {
  return profile.scope.containers;
}

function deniedMessage(code: string, profile: string, what: string): string {
  return `airlock: ${code}: ${what} (profile ${profile}, rendered admission policy)`;
}

/** The validations of one profile's policy, in authorizeIntent's order. */
function profileValidations(name: string, profile: Profile): AdmissionValidation[] {
  const { actions } = profile;
  const sub = 'request.subResource';
  const allowedSubs: string[] = [];
  if (actions.exec || actions.shell) allowedSubs.push('exec');
  if (actions['port-forward']) allowedSubs.push('portforward');
  if (actions.debug) allowedSubs.push('ephemeralcontainers');
  const out: AdmissionValidation[] = [
    {
      expression: celGlobAny('request.namespace', profile.scope.namespaces),
      message: deniedMessage('SCOPE_NAMESPACE', name, 'the namespace is outside the profile'),
    },
    {
      // pods/attach is never allowed: airlock has no attach action, and what it reaches is whatever the container runs.
      expression: `${sub} in ${celStringList(allowedSubs)}`,
      message: deniedMessage('ACTION_NOT_ALLOWED', name, 'the profile does not allow this action'),
    },
    {
      expression: celGlobAny('request.name', profile.scope.pods),
      message: deniedMessage('SCOPE_POD', name, 'the pod is outside the profile'),
    },
  ];
  const containers = containerPatterns(profile);
  if (containers) {
    out.push({
      expression: `${sub} != "exec" || (has(object.container) && ${celGlobAny('object.container', containers)})`,
      message: deniedMessage('SCOPE_POD', name, 'the container is outside the profile (name it with -c)'),
    });
  }
  const shell = actions.shell ? exactArgvCel(actions.shell.argv) : 'false';
  const exec = actions.exec ? commandRulesCel(profile.commands) : 'false';
  out.push({
    expression: `${sub} != "exec" || (has(object.command) && object.command != null && ((${shell}) || (${exec})))`,
    message: deniedMessage('COMMAND_NOT_ALLOWED', name, 'the command is not allowed'),
  });
  const ports = (actions['port-forward']?.ports ?? []).filter((p): p is number => typeof p === 'number');
  out.push({
    // Only a `ports` query parameter is visible here; kubectl names ports inside the stream (docs/admission.md).
    expression: `${sub} != "portforward" || !has(object.ports) || object.ports.all(p, p in [${ports.join(', ')}])`,
    message: deniedMessage('PORT_NOT_ALLOWED', name, 'the port is not allowed'),
  });
  const images = actions.debug?.images ?? [];
  out.push({
    expression:
      `${sub} != "ephemeralcontainers" || variables.added.all(c, ` +
      `has(c.image) && c.image in ${celStringList(images)} && ` +
      '!(has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged) && ' +
      '!(has(c.securityContext) && has(c.securityContext.capabilities) && ' +
      'has(c.securityContext.capabilities.add) && size(c.securityContext.capabilities.add) > 0))',
    message: deniedMessage(
      'IMAGE_NOT_ALLOWED',
      name,
      'a debug container needs an allowed image, no privileged mode and no added capabilities',
    ),
  });
  return out;
}

const VARIABLES = [
  // Read only behind `has(object.command)` (an exec without a command is refused).
  { name: 'argv', expression: 'object.command' },
  {
    // Ephemeral containers this request adds (existing ones cannot be removed or changed).
    name: 'added',
    expression:
      'request.subResource != "ephemeralcontainers" || !has(object.spec.ephemeralContainers) ? [] : ' +
      'object.spec.ephemeralContainers.filter(c, !(has(oldObject.spec.ephemeralContainers) && ' +
      'oldObject.spec.ephemeralContainers.exists(o, o.name == c.name)))',
  },
];

function pair(
  name: string,
  annotations: Record<string, string>,
  spec: Record<string, unknown>,
): AdmissionPolicyObject[] {
  const metadata = { name, labels: { ...ADMISSION_LABELS }, annotations };
  return [
    { apiVersion: API_VERSION, kind: 'ValidatingAdmissionPolicy', metadata, spec },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  ];
}

/** Name of the policy (and binding) for one profile. */
export function profilePolicyName(profile: string): string {
  return `airlock-profile-${profile}`;
}

/**
 * Renders the admission objects for one cluster: the write rule, the scope
 * rule, then one policy per profile (sorted by name), each followed by its
 * binding. Throws AirlockError SCOPE_CLUSTER for a malformed cluster name.
 */
export function renderAdmission(policy: Policy, options: AdmissionOptions): AdmissionPolicyObject[] {
  if (!CLUSTER_NAME.test(options.cluster)) {
    throw new AirlockError('SCOPE_CLUSTER', `cluster "${options.cluster}" is not a valid cluster name`);
  }
  const annotations = { [POLICY_DIGEST_ANNOTATION]: policyDigest(options.policyText) };
  const identity = [{ name: 'airlock-identity', expression: AIRLOCK_IDENTITY_CEL }];
  const names = Object.keys(policy.profiles)
    .sort()
    .filter((n) => globMatchAny(policy.profiles[n]!.scope.clusters, options.cluster));
  const covered = names.map(
    (n) =>
      `(${carriesGroupsCel(policy.profiles[n]!, n, options.cluster)} && ` +
      `${celGlobAny('request.namespace', policy.profiles[n]!.scope.namespaces)})`,
  );
  const out = [
    ...pair('airlock-jit-writes', annotations, {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ['*'],
            apiVersions: ['*'],
            operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'],
            resources: ['*/*'],
          },
        ],
      },
      matchConditions: identity,
      validations: [
        {
          expression: ALLOWED_WRITE_CEL,
          message:
            'airlock: ACTION_NOT_ALLOWED: jit: groups may only exec, attach, port-forward and add ephemeral containers',
          reason: 'Forbidden',
        },
      ],
    }),
    ...pair('airlock-jit-scope', annotations, {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: POD_SUBRESOURCES_RULES },
      matchConditions: identity,
      validations: [
        {
          expression: covered.length > 0 ? covered.join(' || ') : 'false',
          message: 'airlock: SCOPE_NAMESPACE: no airlock profile covers these groups in this namespace',
          reason: 'Forbidden',
        },
      ],
    }),
  ];
  for (const name of names) {
    const profile = policy.profiles[name]!;
    out.push(
      ...pair(profilePolicyName(name), annotations, {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: POD_SUBRESOURCES_RULES },
        matchConditions: [
          { name: 'carries-profile-groups', expression: carriesGroupsCel(profile, name, options.cluster) },
        ],
        variables: VARIABLES,
        validations: profileValidations(name, profile).map((v) => ({ ...v, reason: 'Forbidden' })),
      }),
    );
  }
  return out;
}

/**
 * Warnings when rendered admission objects (YAML or JSON text, as deployed)
 * were not rendered from this policy text: their digest annotation is missing
 * or names another version of the file. Used by `airlock policy check --admission`.
 */
export function admissionStaleness(policyText: string, renderedText: string): PolicyWarning[] {
  const want = policyDigest(policyText);
  const found = [
    ...renderedText.matchAll(/["']?airlock\.dev\/policy-digest["']?\s*:\s*["']?(sha256:[0-9a-f]{64})/g),
  ].map((m) => m[1]!);
  const path = `annotations.${POLICY_DIGEST_ANNOTATION}`;
  if (found.length === 0) {
    return [
      {
        path,
        message: 'the admission objects carry no policy digest; render them with `airlock policy admission`',
      },
    ];
  }
  const stale = found.filter((d) => d !== want).length;
  if (stale === 0) return [];
  return [
    {
      path,
      message: `${stale} of ${found.length} admission objects were rendered from another version of the policy (want ${want}); re-run \`airlock policy admission\` and apply`,
    },
  ];
}
