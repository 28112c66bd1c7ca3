/**
 * The session recorder: asciicast v2 header and frames on the given clock,
 * file mode 0600, never overwriting, input only when asked, and a sha256
 * that matches the file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAsciicast } from '../core/audit/asciicast.js';
import { AirlockError } from '../core/errors.js';
import { createSessionRecorder } from './session-recording.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-recording-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeClock(startIso: string) {
  let now = Date.parse(startIso);
  return {
    clock: () => new Date(now),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

type RecorderOptions = Parameters<typeof createSessionRecorder>[0];

/** A recorder in `dir` for an 80x24 terminal that leaves input out, unless `options` says otherwise. */
function recorder80x24(options: Pick<RecorderOptions, 'sessionId' | 'clock'> & Partial<RecorderOptions>) {
  return createSessionRecorder({ dir, width: 80, height: 24, recordInput: false, ...options });
}

describe('createSessionRecorder', () => {
  it('writes an asciicast v2 header and timed frames, mode 0600, and returns the file sha256', async () => {
    const time = fakeClock('2026-11-27T09:14:15.000Z');
    const recorder = await createSessionRecorder({
      dir,
      sessionId: 'ses_A',
      width: 100,
      height: 30,
      recordInput: true,
      clock: time.clock,
    });
    expect(recorder.path).toBe(join(dir, 'ses_A-1.cast'));
    time.advance(250);
    recorder.recordInput('ls\r');
    time.advance(250);
    recorder.recordOutput(Buffer.from('\u001b[1mREADME\u001b[0m\r\n'));
    time.advance(1000);
    recorder.resize(120, 40);
    // A multi-byte character split across chunks stays whole.
    const euro = Buffer.from('€', 'utf8');
    recorder.recordOutput(euro.subarray(0, 1));
    time.advance(1);
    recorder.recordOutput(euro.subarray(1));
    const result = await recorder.close();

    const bytes = readFileSync(result.path);
    expect(statSync(result.path).mode & 0o777).toBe(0o600);
    expect(result.bytes).toBe(bytes.length);
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.toString('utf8')).toBe(
      `{"version":2,"width":100,"height":30,"timestamp":${Date.parse('2026-11-27T09:14:15.000Z') / 1000},"env":{"TERM":"xterm-256color"}}\n` +
        '[0.25,"i","ls\\r"]\n' +
        '[0.5,"o","\\u001b[1mREADME\\u001b[0m\\r\\n"]\n' +
        '[1.5,"r","120x40"]\n' +
        '[1.501,"o","€"]\n',
    );
    expect(parseAsciicast(bytes.toString('utf8')).frames).toHaveLength(4);
    expect(await recorder.close()).toEqual(result); // idempotent
    recorder.recordOutput('after close'); // ignored, no throw
    expect(readFileSync(result.path)).toEqual(bytes);
  });

  it('drops input unless recordInput is true, and never overwrites: the next file is -2', async () => {
    const time = fakeClock('2026-11-27T09:00:00.000Z');
    const first = await recorder80x24({ sessionId: 'ses_B', clock: time.clock });
    const second = await recorder80x24({ sessionId: 'ses_B', clock: time.clock });
    expect([first.path, second.path]).toEqual([join(dir, 'ses_B-1.cast'), join(dir, 'ses_B-2.cast')]);
    first.recordInput('s3cret\r');
    first.recordOutput('ok\n');
    const { path } = await first.close();
    await second.close();
    const frames = parseAsciicast(readFileSync(path, 'utf8')).frames;
    expect(frames).toEqual([[0, 'o', 'ok\n']]);
  });

  it('writes markers (a moderator joining a four-eyes session) as asciicast m events', async () => {
    const time = fakeClock('2026-11-27T09:00:00.000Z');
    const recorder = await recorder80x24({ sessionId: 'ses_M', clock: time.clock });
    recorder.recordOutput('before\n');
    time.advance(1500);
    recorder.marker('lea joined as moderator');
    const { path } = await recorder.close();
    expect(parseAsciicast(readFileSync(path, 'utf8')).frames).toEqual([
      [0, 'o', 'before\n'],
      [1.5, 'm', 'lea joined as moderator'],
    ]);
  });

  it('refuses session ids that are not plain file-name words', async () => {
    for (const sessionId of ['../etc/x', '', '.hidden', 'a/b', 'x\u0000'])
      await expect(recorder80x24({ sessionId, clock: () => new Date() })).rejects.toBeInstanceOf(
        AirlockError,
      );
  });

  it('fails closed with AUDIT_UNAVAILABLE when the directory cannot be written', async () => {
    await expect(
      recorder80x24({ dir: join(dir, 'missing'), sessionId: 'ses_C', clock: () => new Date() }),
    ).rejects.toSatisfy((e) => e instanceof AirlockError && e.code === 'AUDIT_UNAVAILABLE');
  });
});
