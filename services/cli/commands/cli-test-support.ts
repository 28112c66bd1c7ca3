import { afterEach, vi } from 'vitest';

/*
 * What the tests of cli/commands share: undoing what running a command
 * leaves behind, and capturing what it writes.
 */

/** Registers, in the calling test file, the reset after each test of process.exitCode and of every spy. */
export function resetAfterEachCommand(): void {
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });
}

/** What a command writes, kept in `stdout` and `stderr`, with the `out` and `err` writers of its IO. */
export function capturedOutput() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (text: string) => void stdout.push(text),
    err: (text: string) => void stderr.push(text),
  };
}
