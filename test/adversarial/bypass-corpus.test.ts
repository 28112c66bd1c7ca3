import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizeResult, authorizeIntent } from '../../services/core/policy/index.js';
import type { AirlockScope } from '../../services/core/ssh-cert/index.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  newSession,
  startGateway,
  type TestSession,
} from '../support/executor-harness.js';
import {
  adminKubeConfig,
  clusterInfo,
  createNamespace,
  createRunningPod,
  type KubeAuditEvent,
  readAuditEvents,
  uniqueName,
} from '../support/kube.js';
import { type Mediator, type SshUser, ssh, sshUser, startMediator } from '../support/mediator-harness.js';
import { waitFor } from '../support/wait.js';
import {
  COMMAND_DENIAL_CODES,
  corpusArgv,
  lenientPolicy,
  loadBypassCorpus,
  runExec,
  shellQuote,
} from './support/adversarial.js';

const corpus = loadBypassCorpus();

/**
 * Entries the SSH door refuses before policy, so with another status than a
 * policy denial (77). Nothing runs either way, and the executor, reached
 * directly, still answers with the policy code.
 */
const REFUSED_BEFORE_POLICY_OVER_SSH: Record<string, { code: number; stderr: RegExp; why: string }> = {
  'empty argv': {
    code: 64,
    stderr: /^airlock: USAGE: /,
    why: "exec needs a command after '--' (parse-command.ts)",
  },
  'too many bytes in total': {
    code: 255,
    stderr: /closed by remote host/,
    why: 'the exec request (~80 KB) is larger than the SSH packet the mediator (ssh2) accepts; it drops the connection',
  },
};

/**
 * A NUL cannot be sent through `ssh` at all: the command line is built from
 * C strings (execve argv). The mediator's splitter would refuse it with
 * USAGE anyway. These entries go to the executor only.
 */
const hasNul = (argv: readonly string[]) => argv.some((a) => a.includes('\0'));

/**
 * A lone UTF-16 surrogate cannot cross either wire: SSH and protobuf strings
 * are UTF-8, which has no encoding for one. Node sends U+FFFD over SSH;
 * grpc-js/protobufjs write the surrogate as three bytes the executor decodes
 * as three U+FFFD. What arrives is an ordinary argument that the lenient
 * profile allows (`ls '\ufffd'`), so this entry is proved separately below:
 * the executor authorises, audits and runs exactly what it decoded.
 */
const LONE_SURROGATE_ENTRY = 'lone surrogate';

describe('adversarial: the policy bypass corpus, sent for real through ssh and straight to the executor', () => {
  const suffix = uniqueName('bp');
  const namespace = `bypass-${suffix}`;
  const pod = corpus.pod;
  const policy = lenientPolicy(CLUSTER_NAME, namespace);
  const scopeOf = (profile: string): AirlockScope => ({
    cluster: CLUSTER_NAME,
    namespace,
    podPatterns: ['*'],
    profile,
    requestId: `req-bypass-${profile}`,
    groups: [],
  });
  const scope = scopeOf(corpus.scope.profile);
  /** Every profile the corpus uses; entries without a `profile` use the corpus scope's. */
  const profiles = [...new Set([scope.profile, ...corpus.entries.map((e) => e.profile ?? scope.profile)])];
  let gateway: Gateway;
  let mediator: Mediator;
  const users = new Map<string, SshUser>();
  /** Sessions a compromised mediator would hold: they skip the mediator's early check entirely. */
  const directs = new Map<string, TestSession>();
  let user: SshUser;
  let direct: TestSession;
  let podDir: string;

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, namespace);
    await createRunningPod(admin, namespace, pod, [{ name: 'main' }]);
    gateway = await startGateway(
      policy,
      await executorKubeConfig(suffix, [`jit:lenient:${namespace}`], [namespace]),
    );
    mediator = await startMediator(gateway, policy);
    for (const profile of profiles) {
      users.set(profile, sshUser(gateway.sshCa, { scope: scopeOf(profile) }));
      const session = await newSession(gateway, { scope: scopeOf(profile) });
      await session.client.openSession(session.request);
      directs.set(profile, session);
    }
    user = users.get(scope.profile)!;
    direct = directs.get(scope.profile)!;
    podDir = join(clusterInfo().kubeletStateDir, 'pods', namespace, pod);
  });

  afterAll(async () => {
    for (const session of directs.values()) session.client.close();
    await mediator?.stop();
    await gateway?.stop();
  });

  it('control: the same session runs an allowed command, in the pod directory the marker check watches', async () => {
    const listed = await ssh(mediator, user, ['exec', pod, '--', shellQuote(['ls'])]);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n').filter(Boolean).sort()).toEqual(readdirSync(podDir).sort());
    const echoed = await runExec(direct.client, {
      target: { namespace: '', pod, container: '' },
      argv: ['echo', 'control'],
    });
    expect(echoed.error).toBeUndefined();
    expect(echoed.stdout.toString()).toBe('control\n');
  });

  it('finding 6: deny rules normalise paths for matching only; an allowed command reaches Kubernetes exactly as typed', async () => {
    // `readers` allows `cat ...` and denies /proc/*/environ; /proc/1//status is allowed and must not be rewritten.
    const argv = ['cat', '/proc/1//status', '--'];
    const viaSsh = await ssh(mediator, users.get('readers')!, ['exec', pod, '--', shellQuote(argv)]);
    expect(viaSsh.stderr).toBe('');
    expect(viaSsh.code).toBe(0);
    expect(viaSsh.stdout).toMatch(/^Name:\t/);
    const before = gateway.audit.events().length;
    const viaGrpc = await runExec(directs.get('readers')!.client, {
      target: { namespace: '', pod, container: '' },
      argv,
    });
    expect(viaGrpc.error).toBeUndefined();
    expect(viaGrpc.stdout.toString()).toMatch(/^Name:\t/);
    const started = gateway.audit
      .events()
      .slice(before)
      .find((e) => e.event === 'exec.started');
    expect(started?.target?.argv).toEqual(argv);
  });

  it.each(corpus.entries.filter((e) => e.name !== LONE_SURROGATE_ENTRY).map((e) => [e.name, e] as const))(
    'refuses %s on both doors and nothing runs',
    async (_name, entry) => {
      const argv = corpusArgv(entry);
      const profile = entry.profile ?? scope.profile;
      const user = users.get(profile)!;
      const direct = directs.get(profile)!;
      const decision: AuthorizeResult = authorizeIntent(policy, scopeOf(profile), {
        action: 'exec',
        namespace,
        pod,
        argv,
      });
      expect(decision.allow, entry.why).toBe(false);
      const code = decision.allow ? '' : decision.code;
      expect(COMMAND_DENIAL_CODES).toContain(code);
      const filesBefore = readdirSync(podDir).sort();

      if (!hasNul(argv)) {
        const viaSsh = await ssh(mediator, user, ['exec', pod, '--', shellQuote(argv)]);
        expect(viaSsh.stdout).toBe('');
        const early = REFUSED_BEFORE_POLICY_OVER_SSH[entry.name];
        if (early) {
          expect(viaSsh.code, `${early.why}: ${viaSsh.stderr}`).toBe(early.code);
          expect(viaSsh.stderr).toMatch(early.stderr);
        } else {
          expect(viaSsh.code, viaSsh.stderr).toBe(77);
          expect(viaSsh.stderr).toMatch(new RegExp(`^airlock: ${code}: `));
        }
      }

      const viaGrpc = await runExec(direct.client, { target: { namespace: '', pod, container: '' }, argv });
      expect(viaGrpc.error?.code).toBe(code);
      expect(viaGrpc.stdout.length).toBe(0);
      expect(viaGrpc.exit).toBeUndefined();

      expect(readdirSync(podDir).sort()).toEqual(filesBefore);
    },
  );

  it('a lone surrogate arrives at the executor as U+FFFD, and what it authorises, audits and runs is exactly that', async () => {
    const entry = corpus.entries.find((e) => e.name === LONE_SURROGATE_ENTRY)!;
    const argv = corpusArgv(entry);
    expect(authorizeIntent(policy, scope, { action: 'exec', namespace, pod, argv })).toMatchObject({
      allow: false,
    });
    const before = gateway.audit.events().length;
    const result = await runExec(direct.client, { target: { namespace: '', pod, container: '' }, argv });
    const started = gateway.audit
      .events()
      .slice(before)
      .find((e) => e.event === 'exec.started');
    const decoded = started?.target?.argv ?? [];
    expect(decoded[0]).toBe('ls');
    expect(decoded[1]).toMatch(/^\ufffd+$/);
    expect(authorizeIntent(policy, scope, { action: 'exec', namespace, pod, argv: decoded })).toMatchObject({
      allow: true,
    });
    // ls of a file that does not exist: the harmless command the policy allowed, nothing else.
    expect(result.error).toBeUndefined();
    expect(result.exit?.code).toBe(2);
    expect(result.stdout.length).toBe(0);
  });

  it('the Kubernetes audit log holds no pods/exec in the namespace except the controls (argv verbatim) and the decoded lone surrogate', async () => {
    // The kube-apiserver writes an audit event after the response: wait for
    // the five execs the corpus made (and then assert there are no others).
    const commandsInAudit = () => {
      // KubeAuditEvent (test/support/kube.ts) leaves out requestURI, which carries the exec's argv.
      const execs = new Map<string, KubeAuditEvent & { requestURI?: string }>();
      for (const e of readAuditEvents() as (KubeAuditEvent & { requestURI?: string })[]) {
        if (e.objectRef?.namespace === namespace && e.objectRef.subresource === 'exec')
          execs.set(e.auditID, e);
      }
      return [...execs.values()].map((e) =>
        new URL(e.requestURI ?? '', 'https://x').searchParams.getAll('command').join(' '),
      );
    };
    await waitFor(() => commandsInAudit().length >= 5, 15_000, 200);
    await sleep(500);
    const commands = commandsInAudit();
    expect(commands.sort()).toEqual([
      'cat /proc/1//status --',
      'cat /proc/1//status --',
      'echo control',
      'ls',
      'ls \ufffd\ufffd\ufffd',
    ]);
  });
});
