import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertPrivateKeyFile, privateKeyFileExposure } from './private-key-file.js';

// The pod's ids in deploy/base: runAsUser 10001, runAsGroup 10001, fsGroup 10001.
const pod = { uid: 10001, gid: 10001 };

/** What privateKeyFileExposure reads of a file: its mode (a regular file) and owners. */
const stat = (mode: number, uid: number, gid: number) => ({ mode, uid, gid });

describe('privateKeyFileExposure', () => {
  it.each([
    ['0600 owned by the process', stat(0o100600, 10001, 10001)],
    ['0400 owned by the process', stat(0o100400, 10001, 10001)],
    ['0600 owned by root (readable only because the process could)', stat(0o100600, 0, 0)],
    ['a Secret under fsGroup: root:<fsGroup> 0440', stat(0o100440, 0, 10001)],
    ['a Secret with defaultMode 0640 under fsGroup: root:<fsGroup> 0640', stat(0o100640, 0, 10001)],
  ])('accepts %s', (_name, file) => {
    expect(privateKeyFileExposure(file, pod)).toBeUndefined();
  });

  it.each([
    ['world-readable 0644', stat(0o100644, 10001, 10001), 'mode 0644 lets others access it'],
    ['world-readable root-owned 0444', stat(0o100444, 0, 10001), 'mode 0444 lets others access it'],
    ['others-writable 0602', stat(0o100602, 10001, 10001), 'mode 0602 lets others access it'],
    ['group-writable root-owned 0460', stat(0o100460, 0, 10001), 'mode 0460 lets its group write'],
    [
      'group-executable root-owned 0450',
      stat(0o100450, 0, 10001),
      'mode 0450 lets its group write or execute',
    ],
    [
      'group-readable and owned by the process',
      stat(0o100640, 10001, 10001),
      'accepted only on a root-owned file',
    ],
    [
      'group-readable and owned by another user',
      stat(0o100440, 2000, 10001),
      'accepted only on a root-owned file',
    ],
    ['root-owned, group-readable, for another group', stat(0o100440, 0, 20002), 'group 20002 read it'],
    ['root-owned, group-readable, group 0', stat(0o100440, 0, 0), 'group 0 read it'],
  ])('refuses %s', (_name, file, reason) => {
    expect(privateKeyFileExposure(file, pod)).toContain(reason);
  });

  it('refuses group-readable files to a root process: everything it made is root-owned', () => {
    expect(privateKeyFileExposure({ mode: 0o100440, uid: 0, gid: 0 }, { uid: 0, gid: 0 })).toContain(
      'read by a non-root process',
    );
    expect(privateKeyFileExposure({ mode: 0o100440, uid: 0, gid: 10001 }, { uid: 0, gid: 10001 })).toContain(
      'read by a non-root process',
    );
  });

  it('refuses a group-readable root-owned file when the group is only a supplementary one', () => {
    // runAsGroup must equal fsGroup: the primary gid is what counts.
    expect(privateKeyFileExposure({ mode: 0o100440, uid: 0, gid: 10002 }, pod)).toContain(
      "not this process's own non-root group (10001)",
    );
  });
});

describe('assertPrivateKeyFile', () => {
  const file = (mode: number) => {
    const path = join(mkdtempSync(join(tmpdir(), 'private-key-')), 'key');
    writeFileSync(path, 'key');
    chmodSync(path, mode);
    // The file as this process made it; the process ids given are the file's own.
    const { uid, gid } = statSync(path);
    return { path, ids: { uid, gid } };
  };

  it('accepts a 0600 file of its own', () => {
    const { path, ids } = file(0o600);
    expect(() => assertPrivateKeyFile(path, 'the test key', ids)).not.toThrow();
  });

  it('refuses a group-readable file of its own and a world-readable one with CONFIG_INVALID and the mode', () => {
    for (const mode of [0o640, 0o604]) {
      const { path, ids } = file(mode);
      expect(() => assertPrivateKeyFile(path, 'the test key', ids)).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringMatching(
            new RegExp(`^the test key .* is not private: mode 0${mode.toString(8)} `),
          ),
        }),
      );
    }
  });

  it('refuses a missing file with CONFIG_INVALID', () => {
    expect(() => assertPrivateKeyFile(join(tmpdir(), 'airlock-no-such-key'), 'the test key')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('cannot read') }),
    );
  });
});
