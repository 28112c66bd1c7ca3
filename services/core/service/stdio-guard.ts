/**
 * Keeps a long-running process alive when its stdout or stderr goes away.
 *
 * Ctrl-C on `npm start 2>&1 | tee log` ends `tee` along with the tiers; the
 * next write to the closed pipe fails with EPIPE, and Node turns an
 * unhandled stream 'error' into an uncaught exception, so a tier died in the
 * middle of its drain with its audit trail unclosed (newcomer issue 26.3).
 * What a process prints on stdout/stderr is diagnostics: the audit trail is
 * the record, and it must be closed whatever happens to the terminal.
 */

const guarded = new WeakSet<NodeJS.WritableStream>();

/**
 * From now on, write errors on `streams` (default: stdout and stderr),
 * EPIPE included, are dropped instead of ending the process. Idempotent.
 */
export function ignoreStdioWriteErrors(
  streams: readonly NodeJS.WritableStream[] = [process.stdout, process.stderr],
): void {
  for (const stream of streams) {
    if (guarded.has(stream)) continue;
    guarded.add(stream);
    stream.on('error', () => {
      // Nowhere left to report it: the reader of this stream is gone.
    });
  }
}
