/**
 * A compromised front door: the mediator's own checks are gone. The test is
 * the mediator — it holds the mediator CA and a valid session grant and
 * calls the executor's gRPC directly with intents the real mediator would
 * have refused. Two layers must still refuse them, each on its own:
 *
 * - the executor, which re-authorizes every intent (and audits the denial);
 * - the API server, with the admission policies `airlock policy admission`
 *   renders from the same policy file: the test sends the requests with the
 *   executor's own Kubernetes credentials and impersonation headers
 *   (`createImpersonationCredentials`, the executor's code), as an executor
 *   whose own checks were skipped would — no production switch involved.
 *
 * The executor's RBAC is the rendered constrained-impersonation role.
 */
import { Writable } from 'node:stream';
import { Exec, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AirlockError } from '../../services/core/errors.js';
import { renderAdmission } from '../../services/core/policy/admission-render.js';
import { loadPolicy } from '../../services/core/policy/index.js';
import { fromGrpcError } from '../../services/core/rpc/grpc-errors.js';
import type { AirlockScope } from '../../services/core/ssh-cert/index.js';
import { createImpersonationCredentials } from '../../services/executor/kube-credentials.js';
import {
  type AdmissionAnswer,
  applyAdmission,
  askApiServer,
  askExec,
  deleteAdmission,
} from '../support/admission.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  newSession,
  runExec,
  startGateway,
  type TestSession,
} from '../support/executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from '../support/kube.js';

const suffix = uniqueName('cfd');
const namespace = `front-${suffix}`;
const POLICY_TEXT = JSON.stringify(
  {
    version: 1,
    limits: { maxTtlSeconds: 28_800 },
    profiles: Object.fromEntries(
      (['debug', 'ro'] as const).map((name) => [
        name,
        {
          groups: [`jit:${name}:{namespace}`],
          requesterGroups: ['oncall'],
          maxTtlSeconds: 3600,
          scope: { clusters: [CLUSTER_NAME], namespaces: [namespace], pods: ['api-*'] },
          actions:
            name === 'debug'
              ? { exec: {}, shell: { argv: [['sh']] }, debug: { images: ['busybox:1.36'] } }
              : { exec: {} },
          commands: { matchBasename: false, allow: [{ id: 'echo', argv: ['echo', '...'] }], deny: [] },
          approval: { manual: { approverGroups: ['leads'], count: 1, pendingExpirySeconds: 3600 } },
        },
      ]),
    ),
  },
  null,
  2,
);

interface Opened {
  session: TestSession;
  /** The executor's own Kubernetes client config for this session (its token + Impersonate-* headers). */
  kube: KubeConfig;
}

describe('adversarial: compromised front door — the executor and the API server each refuse what the mediator let through', () => {
  const admin = adminKubeConfig();
  const policy = loadPolicy(POLICY_TEXT);
  const admission = renderAdmission(policy, { cluster: CLUSTER_NAME, policyText: POLICY_TEXT });
  const groups = { debug: `jit:debug:${namespace}`, ro: `jit:ro:${namespace}` };
  let gateway: Gateway;
  const opened = new Map<'debug' | 'ro', Opened>();
  let beforePolicies: AdmissionAnswer;

  beforeAll(async () => {
    await createNamespace(admin, namespace);
    await createRunningPod(admin, namespace, 'api-0', [{ name: 'main' }]);
    await createRunningPod(admin, namespace, 'other-0', [{ name: 'main' }]);
    const executorKube = await executorKubeConfig(suffix, Object.values(groups), [namespace]);
    gateway = await startGateway(policy, executorKube);
    const credentials = createImpersonationCredentials(executorKube);
    for (const profile of ['debug', 'ro'] as const) {
      const scope: AirlockScope = {
        cluster: CLUSTER_NAME,
        namespace,
        podPatterns: ['*'],
        profile,
        requestId: `req-${profile}`,
        groups: [],
      };
      const session = await newSession(gateway, { scope });
      await session.client.openSession(session.request);
      const kube = await credentials.open({
        sessionId: session.id,
        user: 'alice',
        groups: [groups[profile]],
        requestId: scope.requestId,
        expiresAt: new Date(Date.now() + 600_000),
      });
      opened.set(profile, { session, kube: kube.clients({}).streaming as KubeConfig });
    }
    // Control: before the policies exist, the API server admits what the executor would refuse.
    beforePolicies = await askExec(opened.get('debug')!.kube, null, namespace, 'api-0', [
      'cat',
      '/etc/shadow',
    ]);
    await applyAdmission(admin, admission, async () => {
      const answer = await askExec(opened.get('debug')!.kube, null, namespace, 'api-0', [
        'cat',
        '/etc/shadow',
      ]);
      return answer.refusedByPolicy;
    });
  });

  afterAll(async () => {
    await deleteAdmission(admin, admission);
    for (const { session } of opened.values()) session.client.close();
    await gateway?.stop();
  });

  const executorDenied = (sessionId: string, code: string) =>
    gateway.audit
      .events()
      .some((e) => e.event === 'intent.denied' && e.session_id === sessionId && e.code === code);

  function runDebug(client: TestSession['client'], image: string): Promise<AirlockError | undefined> {
    return new Promise((resolve) => {
      const call = client.debug();
      call.on('data', () => {});
      call.on('error', (error) => resolve(fromGrpcError(error)));
      call.on('end', () => resolve(undefined));
      call.write({
        debug: {
          target: { namespace: '', pod: 'api-0', container: '' },
          image,
          argv: ['id'],
          tty: false,
          size: null,
        },
      });
      call.write({ stdin_eof: true });
    });
  }

  it('control: an allowed command runs through the executor and as its direct Kubernetes call; without the policies the API server admitted `cat /etc/shadow`', async () => {
    const { session } = opened.get('debug')!;
    const viaExecutor = await runExec(session.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['echo', 'ok'],
    });
    expect(viaExecutor.error).toBeUndefined();
    expect(viaExecutor.stdout.toString()).toBe('ok\n');
    const direct = await askExec(opened.get('debug')!.kube, null, namespace, 'api-0', ['echo', 'ok']);
    expect(direct.refusedByPolicy).toBe(false);
    expect(direct.status).not.toBe(403);
    expect(beforePolicies.refusedByPolicy).toBe(false);
    expect(beforePolicies.status).not.toBe(403);
  });

  it('compromised front door: a refused command is refused by the executor and by the API server', async () => {
    const { session, kube } = opened.get('debug')!;
    const viaExecutor = await runExec(session.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['cat', '/etc/shadow'],
    });
    expect(viaExecutor.error?.code).toBe('COMMAND_NOT_ALLOWED');
    expect(viaExecutor.stdout.length).toBe(0);
    expect(executorDenied(session.id, 'COMMAND_NOT_ALLOWED')).toBe(true);
    const direct = await askExec(kube, null, namespace, 'api-0', ['cat', '/etc/shadow']);
    expect(direct.refusedByPolicy).toBe(true);
    expect(direct.body).toContain('airlock: COMMAND_NOT_ALLOWED');
  });

  it('compromised front door: a real exec upgrade of a refused command is refused by the API server (nothing runs)', async () => {
    const { kube } = opened.get('debug')!;
    let stdout = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        stdout += chunk.toString();
        done();
      },
    });
    const outcome = await new Exec(kube)
      .exec(namespace, 'api-0', 'main', ['sh', '-c', 'echo bypassed'], sink, null, null, false)
      .then(
        () => 'upgraded',
        // ws rejects with an ErrorEvent whose message names the status; the body is not kept.
        (error: { message?: string }) => error.message ?? String(error),
      );
    expect(outcome).toBe('Unexpected server response: 403');
    expect(stdout).toBe('');
    // The same request unupgraded shows who refused it: the admission policy, not RBAC.
    const answer = await askExec(kube, null, namespace, 'api-0', ['sh', '-c', 'echo bypassed']);
    expect(answer.body).toContain('airlock: COMMAND_NOT_ALLOWED');
  });

  it('compromised front door: a pod outside the patterns is refused by the executor and by the API server', async () => {
    const { session, kube } = opened.get('debug')!;
    const viaExecutor = await runExec(session.client, {
      target: { namespace: '', pod: 'other-0', container: '' },
      argv: ['echo', 'x'],
    });
    expect(viaExecutor.error?.code).toBe('SCOPE_POD');
    expect(executorDenied(session.id, 'SCOPE_POD')).toBe(true);
    const direct = await askExec(kube, null, namespace, 'other-0', ['echo', 'x']);
    expect(direct.refusedByPolicy).toBe(true);
    expect(direct.body).toContain('airlock: SCOPE_POD');
  });

  it('compromised front door: a shell where the profile allows none is refused by the executor and by the API server', async () => {
    const { session, kube } = opened.get('ro')!;
    const viaExecutor = await runExec(session.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['sh'],
      shell: true,
      tty: true,
    });
    expect(viaExecutor.error?.code).toBe('SHELL_NOT_ALLOWED');
    expect(executorDenied(session.id, 'SHELL_NOT_ALLOWED')).toBe(true);
    const direct = await askExec(kube, null, namespace, 'api-0', ['sh']);
    expect(direct.refusedByPolicy).toBe(true);
    expect(direct.body).toContain('airlock: COMMAND_NOT_ALLOWED');
    // The debug profile does allow `sh`: admitted there (the kubelet then wants an upgrade).
    expect((await askExec(opened.get('debug')!.kube, null, namespace, 'api-0', ['sh'])).refusedByPolicy).toBe(
      false,
    );
  });

  it('compromised front door: a debug image outside the allow-list is refused by the executor and by the API server', async () => {
    const { session, kube } = opened.get('debug')!;
    const error = await runDebug(session.client, 'busybox:latest');
    expect(error?.code).toBe('IMAGE_NOT_ALLOWED');
    expect(executorDenied(session.id, 'IMAGE_NOT_ALLOWED')).toBe(true);
    const direct = await askApiServer(
      kube,
      null,
      `/api/v1/namespaces/${namespace}/pods/api-0/ephemeralcontainers`,
      [],
      {
        spec: { ephemeralContainers: [{ name: 'evil', image: 'busybox:latest', command: ['id'] }] },
      },
    );
    expect(direct.refusedByPolicy).toBe(true);
    expect(direct.body).toContain('airlock: IMAGE_NOT_ALLOWED');
  });
});
