/**
 * Issue 21: access that goes around airlock. Sessions through airlock (real
 * OpenSSH client, real executor and mediator processes from dist/), then one
 * `exec` with the cluster-admin kubeconfig straight at the API server;
 * `airlock audit reconcile` over the real kube-apiserver audit log and the
 * executor trail reports exactly that exec, and nothing airlock did.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CoreV1Api, Exec, KubeConfig, type V1Status } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { runAuditReconcile } from '../../services/cli/commands/audit-reconcile.js';
import type { ReconcileResult } from '../../services/core/audit/index.js';
import { sshExec, waitFor, withDevStack } from './support/dev-stack-faults.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (t: string) => void out.push(t),
    err: (t: string) => void err.push(t),
    readFile: async (path: string) => readFileSync(path),
    now: () => new Date(),
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

describe('issue 21: orphan exec detection', () => {
  it('a cluster-admin exec outside airlock is the one orphan reconcile reports; airlock sessions match', async () => {
    await withDevStack([], async (stack) => {
      for (const argv of [
        ['df', '-h'],
        ['ps', 'aux'],
      ])
        expect((await sshExec(stack, argv).done).code).toBe(0);

      const admin = new KubeConfig();
      admin.loadFromFile(stack.cluster.kubeconfigPath);
      const pod = await admin
        .makeApiClient(CoreV1Api)
        .readNamespacedPod({ namespace: 'payments', name: 'payments-api-0' });
      const container = pod.spec!.containers[0]!.name;
      const status = await new Promise<V1Status>((resolve, reject) => {
        new Exec(admin)
          .exec(
            'payments',
            'payments-api-0',
            container,
            ['echo', 'around-airlock'],
            sink(),
            sink(),
            null,
            false,
            resolve,
          )
          .catch(reject);
      });
      expect(status.status).toBe('Success');
      const auditLog = stack.cluster.auditLogPath;
      expect(
        await waitFor(() => {
          const text = readFileSync(auditLog, 'utf8');
          return (
            text.includes('command=around-airlock') &&
            /"stage":"ResponseComplete"[^\n]*around-airlock|around-airlock[^\n]*"stage":"ResponseComplete"/.test(
              text,
            )
          );
        }, 20_000),
      ).toBe(true);

      const executorTrail = join(stack.stateDir, 'audit', 'executor.jsonl');
      const json = capture();
      const code = await runAuditReconcile(
        { kubeAudit: [auditLog], trails: [executorTrail], namespace: ['payments'], output: 'json' },
        json,
      );
      const result = JSON.parse(json.stdout()) as ReconcileResult;
      expect(result.kubeOrphans).toEqual([
        expect.objectContaining({
          namespace: 'payments',
          pod: 'payments-api-0',
          subresource: 'exec',
        }),
      ]);
      expect(result.kubeOrphans[0]!.sessionId).toBeUndefined();
      expect(result.kubeOrphans[0]!.impersonated).toBeUndefined();
      expect(result.airlockOrphans).toEqual([]);
      expect(result.matched).toBeGreaterThanOrEqual(2);
      expect(code).toBe(1);
      expect(json.stderr()).toBe('airlock: AUDIT_ORPHAN: 1 orphan\n');

      const text = capture();
      expect(
        await runAuditReconcile(
          { kubeAudit: [auditLog], trails: [executorTrail], namespace: ['payments'] },
          text,
        ),
      ).toBe(1);
      expect(text.stdout()).toMatch(
        /kubernetes orphan: .* pods\/exec payments\/payments-api-0 by .*no airlock session.*\[AUDIT_ORPHAN\]/,
      );
    });
  }, 240_000);
});
