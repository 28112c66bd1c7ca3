/**
 * A revoked session as the four inputs of a timeline, for tests of the
 * counting rules and the page: alice's request `req_R` is approved, her
 * session `ses_R` runs `ps aux` (exec with the command in the Kubernetes
 * requestURI), is refused a shell, follows a pod's log, and bob revokes the
 * access while the log streams. The log stream (received before, completed
 * after the revocation) and the session are closed with CERT_REVOKED.
 * With `lateAccess`, the API server also records a `get pods` received
 * after the revocation: real access after revocation.
 */

const REQUEST = 'req_R';
const SESSION = 'ses_R';
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const POD = { cluster: 'prod', namespace: 'payments', pod: 'api-0', container: 'app' };
const alice = { user: 'alice', kind: 'user', address: '10.0.0.7:5000' };
const bob = { user: 'bob', kind: 'approver' };
const ids = { request_id: REQUEST, session_id: SESSION, trace_id: TRACE };

function at(seconds: number): string {
  return new Date(Date.UTC(2026, 10, 27, 10, 0, 0) + seconds * 1000).toISOString();
}

/** An airlock audit record line outside any chain (seq 0, hashes '0'), with `fields`. */
export function unchainedRecord(fields: Record<string, unknown>): string {
  return JSON.stringify({ v: 1, type: 'event', seq: 0, prev: '0', hash: '0', ...fields });
}

function airlock(tier: string, seconds: number, fields: Record<string, unknown>): string {
  return unchainedRecord({ tier, time: at(seconds), ...fields });
}

function kube(
  auditID: string,
  verb: string,
  uri: string,
  objectRef: Record<string, string>,
  times: readonly [number, number],
  code: number,
): string {
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: uri,
    verb,
    user: { username: 'system:serviceaccount:airlock:executor' },
    impersonatedUser: {
      username: 'airlock:session',
      extra: {
        'airlock.dev/user': ['alice'],
        'airlock.dev/session-id': [SESSION],
        'airlock.dev/trace-id': [TRACE],
        'airlock.dev/request-id': [REQUEST],
      },
    },
    objectRef: { apiVersion: 'v1', ...objectRef },
    responseStatus: { code },
    requestReceivedTimestamp: at(times[0]),
    stageTimestamp: at(times[1]),
  });
}

const execTarget = { ...POD, resource: 'pods/exec', argv: ['ps', 'aux'] };
const logTarget = { ...POD, resource: 'pods/log' };
const revoked = { decision: 'deny', code: 'CERT_REVOKED', reason: 'certificate revoked' };

/** The broker's records: the request, bob's approval, the certificate, and bob's revocation at 30 s. */
function brokerRecords(): string[] {
  return [
    airlock('broker', 0, {
      event: 'request.created',
      actor: alice,
      target: { cluster: 'prod', namespace: 'payments', pod: 'api-*' },
      request_id: REQUEST,
      reason: 'INC-4211 checkout 500s',
      details: { profile: 'read-debug', ttl_seconds: 3600 },
    }),
    airlock('broker', 5, { event: 'request.approved', actor: bob, decision: 'allow', request_id: REQUEST }),
    airlock('broker', 5.1, { event: 'cert.issued', actor: alice, decision: 'allow', request_id: REQUEST }),
    airlock('broker', 30, {
      event: 'cert.revoked',
      actor: bob,
      decision: 'allow',
      reason: 'incident closed',
      request_id: REQUEST,
    }),
  ];
}

/** The mediator's records: alice's session, an exec, a refused shell, and a log stream cut by the revocation. */
function mediatorRecords(): string[] {
  return [
    airlock('mediator', 10, { event: 'auth.accepted', actor: alice, decision: 'allow', ...ids }),
    airlock('mediator', 10.1, { event: 'session.opened', actor: alice, ...ids }),
    airlock('mediator', 12, {
      event: 'intent.allowed',
      actor: alice,
      target: execTarget,
      decision: 'allow',
      ...ids,
    }),
    airlock('mediator', 13, {
      event: 'exec.exited',
      actor: alice,
      target: execTarget,
      details: { exit_code: 0 },
      ...ids,
    }),
    airlock('mediator', 15, {
      event: 'intent.denied',
      actor: alice,
      target: { ...POD, resource: 'pods/exec', argv: ['sh'] },
      decision: 'deny',
      code: 'SHELL_NOT_ALLOWED',
      reason: 'interactive shells are not allowed by profile read-debug',
      ...ids,
    }),
    airlock('mediator', 20, {
      event: 'intent.allowed',
      actor: alice,
      target: logTarget,
      decision: 'allow',
      ...ids,
    }),
    airlock('mediator', 30.4, {
      event: 'logs.streamed',
      actor: alice,
      target: logTarget,
      ...revoked,
      ...ids,
    }),
    airlock('mediator', 30.5, { event: 'session.closed', actor: alice, ...revoked, ...ids }),
  ];
}

/** The executor's records: the exec it ran and the session it closed on revocation. */
function executorRecords(): string[] {
  return [
    airlock('executor', 12.05, { event: 'exec.started', actor: alice, target: execTarget, ...ids }),
    airlock('executor', 30.3, { event: 'session.closed', actor: alice, ...revoked, ...ids }),
  ];
}

/** The API server's audit log: the exec and the log stream (and, with `lateAccess`, a get after revocation). */
function kubeAuditRecords(lateAccess: boolean): string[] {
  const pod = { resource: 'pods', namespace: 'payments', name: 'api-0' };
  const base = '/api/v1/namespaces/payments/pods/api-0';
  return [
    kube(
      'k1',
      'create',
      `${base}/exec?command=ps&command=aux&container=app&stdout=true&stderr=true`,
      { ...pod, subresource: 'exec' },
      [12.06, 13],
      101,
    ),
    kube(
      'k2',
      'get',
      `${base}/log?container=app&follow=true`,
      { ...pod, subresource: 'log' },
      [20.1, 30.35],
      200,
    ),
    ...(lateAccess ? [kube('k3', 'get', base, pod, [31, 31.02], 200)] : []),
  ];
}

/** The story's inputs, named as `airlock audit timeline` would read them. */
export function revokedSessionStory(
  options: { lateAccess?: boolean } = {},
): { name: string; content: string }[] {
  const lines = (records: string[]) => `${records.join('\n')}\n`;
  return [
    { name: 'broker.jsonl', content: lines(brokerRecords()) },
    { name: 'mediator.jsonl', content: lines(mediatorRecords()) },
    { name: 'executor.jsonl', content: lines(executorRecords()) },
    { name: 'kube-audit.log', content: lines(kubeAuditRecords(options.lateAccess === true)) },
  ];
}
