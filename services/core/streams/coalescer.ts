/**
 * Fewer, larger messages for a byte stream: the chunks that arrive within
 * one turn of the event loop (an SSH channel hands over one chunk per SSH
 * packet, at most 32 KiB with OpenSSH, several per socket read) are sent as
 * one, up to `maxBytes`. Each message sent costs the same framing,
 * serialisation and flow-control work whatever its size, so a stream of
 * 32 KiB messages pays that many times more per byte than one of 128 KiB.
 *
 * Order is kept; nothing waits longer than the rest of the current turn
 * (`setImmediate`), and `flush()` sends what is held at once (before an
 * end-of-input or a resize frame, so those keep their place). The most held
 * is `maxBytes` plus one chunk; backpressure is the sender's (`send` is
 * typically `forwardChunk`, which pauses the source while the sink is full).
 */

/** The default bound of one coalesced message. */
export const COALESCE_MAX_BYTES = 128 * 1024;

export class ChunkCoalescer {
  readonly #send: (chunk: Buffer) => void;
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #scheduled = false;

  constructor(send: (chunk: Buffer) => void, maxBytes = COALESCE_MAX_BYTES) {
    this.#send = send;
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size >= this.#maxBytes) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Sends what is held now, as one chunk. */
  flush(): void {
    if (this.#size === 0) return;
    const chunks = this.#chunks;
    const size = this.#size;
    this.#chunks = [];
    this.#size = 0;
    this.#send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  }
}
