/**
 * Issue 21: a hash chain cannot show that its newest records were cut off
 * and the rest re-signed by someone holding the tier's key (an insider on the
 * executor's host). The mediator witnesses the executor's checkpoint heads
 * over the real mTLS gRPC channel (OpenSession, Witness, CloseSession) and
 * records them in its own trail; `airlock audit verify --with-trail` then
 * finds the cut. Real executor and mediator processes (dist/), a real
 * OpenSSH client and the hermetic cluster.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../services/cli/commands/audit-verify.js';
import { sealCheckpoint } from '../../services/core/audit/chain.js';
import type { AuditRecord } from '../../services/core/audit/index.js';
import { sshCommand, waitFor, withDevStack } from './support/dev-stack-faults.js';

function capture() {
  const out: string[] = [];
  return {
    out: (t: string) => void out.push(t),
    err: (t: string) => void out.push(t),
    readFile: async (path: string) => readFileSync(path),
    now: () => new Date(),
    text: () => out.join(''),
  };
}

const records = (path: string): AuditRecord[] =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditRecord);

describe('issue 21: witnessed checkpoints', () => {
  it('an executor trail cut back and re-signed after its head was witnessed fails verify with the mediator trail, naming the witness record', async () => {
    await withDevStack([], async (stack) => {
      const audit = join(stack.stateDir, 'audit');
      const executorPath = join(audit, 'executor.jsonl');
      const mediatorPath = join(audit, 'mediator.jsonl');
      const keys = join(stack.stateDir, 'keys');
      const executorKey = createPrivateKey(readFileSync(join(keys, 'executor-audit.key')));
      const publicKeyFiles = ['executor', 'mediator'].map((tier) => {
        const path = join(stack.stateDir, `${tier}-audit.pub`);
        const pem = createPublicKey(createPrivateKey(readFileSync(join(keys, `${tier}-audit.key`))));
        writeFileSync(path, pem.export({ format: 'pem', type: 'spki' }));
        return path;
      });

      // Session 1: the records the insider will want gone.
      const first = await sshCommand(stack, ['pods']).done;
      expect(first.code).toBe(0);
      const lastOfFirst = records(executorPath).at(-1)!.seq;
      // The executor signs them (checkpointSeconds), then session 2's OpenSession carries that head to the mediator.
      expect(
        await waitFor(
          () => records(executorPath).some((r) => r.type === 'checkpoint' && r.seq > lastOfFirst),
          20_000,
        ),
      ).toBe(true);
      expect((await sshCommand(stack, ['pods']).done).code).toBe(0);
      const witnessed = () =>
        records(mediatorPath).filter(
          (r) =>
            r.type === 'event' &&
            r.event === 'checkpoint.witnessed' &&
            ((r.details?.checkpoint as { seq?: number } | undefined)?.seq ?? -1) > lastOfFirst,
        );
      expect(await waitFor(() => witnessed().length > 0, 20_000)).toBe(true);
      await stack.stop();

      // The insider cuts the executor trail back to before session 1 and re-signs a close checkpoint.
      const executorRecords = records(executorPath);
      const firstIntent = executorRecords.findIndex((r) => r.type === 'event' && r.session_id !== undefined);
      const kept = executorRecords.slice(0, firstIntent);
      const last = kept.at(-1)!;
      const close = sealCheckpoint(
        { nextSeq: last.seq + 1, prev: last.hash },
        {
          time: last.time,
          tier: 'executor',
          reason: 'close',
          signingKey: executorKey,
          keyId: (executorRecords.find((r) => r.type === 'checkpoint') as { keyId: string }).keyId,
        },
      );
      const lines = readFileSync(executorPath, 'utf8').trimEnd().split('\n').slice(0, firstIntent);
      writeFileSync(executorPath, `${[...lines, close.line].join('\n')}\n`);

      // Alone, the cut trail is a valid closed trail: it cannot tell.
      const alone = capture();
      expect(
        await runAuditVerify([executorPath], { publicKey: publicKeyFiles, requireClosed: true }, alone),
      ).toBe(0);
      // With the mediator's trail, the witnessed head is missing: AUDIT_WITNESS_MISMATCH at the witness record.
      const withMediator = capture();
      expect(
        await runAuditVerify(
          [executorPath],
          { publicKey: publicKeyFiles, requireClosed: true, withTrail: [mediatorPath] },
          withMediator,
        ),
      ).toBe(1);
      const witnessLine =
        readFileSync(mediatorPath, 'utf8')
          .split('\n')
          .findIndex(
            (line) =>
              line.includes('"checkpoint.witnessed"') && line.includes(`"seq":${witnessed()[0]!.seq},`),
          ) + 1;
      expect(witnessLine).toBeGreaterThan(0);
      expect(withMediator.text()).toContain(
        `${mediatorPath}:${witnessLine}: witness (seq ${witnessed()[0]!.seq}):`,
      );
      expect(withMediator.text()).toContain('[AUDIT_WITNESS_MISMATCH]');
      expect(withMediator.text()).toContain('AUDIT_TAMPERED');
    });
  }, 240_000);
});
