/**
 * Newlines for a client's pty. The mediator has no pty of its own: what an
 * airlock command prints (`pods`, `whoami`, an error) goes straight into a
 * channel whose far end (`ssh -t`) has put its terminal in raw mode, where a
 * bare LF moves down without returning to column 0, so each line would start
 * where the last one ended. A pty's ONLCR (POSIX termios, c_oflag) turns LF
 * into CR LF; this does the same for the channel. An LF that already follows
 * a CR (a pod's own pty output, readline's) is left alone.
 */

const CR = 0x0d;
const LF = 0x0a;

/** Translates one stream's successive chunks; a CR LF split across two chunks stays as it is. */
export type Onlcr = (chunk: Buffer | string) => Buffer | string;

/** A translator for one stream (it remembers whether the previous chunk ended in CR). */
export function createOnlcr(): Onlcr {
  let previousEndedInCr = false;
  return (chunk) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const bareLf = (i: number) => bytes[i] === LF && (i > 0 ? bytes[i - 1] !== CR : !previousEndedInCr);
    let bare = 0;
    for (let i = 0; i < bytes.length; i++) if (bareLf(i)) bare++;
    const out = bare === 0 ? bytes : Buffer.allocUnsafe(bytes.length + bare);
    if (bare > 0) {
      let o = 0;
      for (let i = 0; i < bytes.length; i++) {
        if (bareLf(i)) out[o++] = CR;
        out[o++] = bytes[i]!;
      }
    }
    if (bytes.length > 0) previousEndedInCr = bytes[bytes.length - 1] === CR;
    if (bare === 0) return chunk;
    return typeof chunk === 'string' ? out.toString('utf8') : out;
  };
}
