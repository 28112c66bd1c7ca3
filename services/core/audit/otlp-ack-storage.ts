/**
 * The off-pod ack mode (docs/audit-shipping.md): an `AuditStorage` that, on
 * every fsync of the file trail (a group holding a durable record), also sends
 * every trail line written since the last send to an OpenTelemetry Collector
 * over OTLP/HTTP (JSON) and waits for its answer. The collector's pipeline is
 * synchronous (otlp receiver → file exporter, no queue), so a 200 means the
 * lines are in the exporter's file off the pod. Only then does the sync, and
 * so the durable append, resolve; any failure (refused connection, timeout,
 * non-2xx, a partial success) rejects it, the trail turns unhealthy, and the
 * tier refuses work with AUDIT_UNAVAILABLE, as it does for a failed fsync.
 *
 * The lines go in chain order (the trail has one writer, and a send finishes
 * before the next group is written), non-durable ones included, so the
 * collected copy is the whole chain, byte for byte (shipped-trail.ts).
 */
import { basename } from 'node:path';
import type { AuditStorage, FileSink } from './file-sink.js';
import { TRAIL_FILE_ATTRIBUTE, TRAIL_RESOURCE_ATTRIBUTE } from './shipped-trail.js';

/** Options of `otlpAckStorage`. */
export interface OtlpAckOptions {
  /** The collector's OTLP/HTTP logs URL, e.g. `http://127.0.0.1:4318/v1/logs`. */
  readonly endpoint: string;
  /** The trail's origin (`airlock.trail` resource attribute): the pod name in a deployment. */
  readonly trail: string;
  /** Give up on one send after this many ms. Default 5000. */
  readonly timeoutMs?: number;
  /** The HTTP client; default the global fetch. */
  readonly fetch?: typeof fetch;
}

function attribute(key: string, value: string): { key: string; value: { stringValue: string } } {
  return { key, value: { stringValue: value } };
}

/** The OTLP/JSON `ExportLogsServiceRequest` carrying `lines` of the trail file `file`. */
export function otlpLogsRequest(trail: string, file: string, lines: readonly string[]): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [attribute(TRAIL_RESOURCE_ATTRIBUTE, trail)] },
        scopeLogs: [
          {
            scope: { name: 'airlock.audit' },
            logRecords: lines.map((line) => ({
              body: { stringValue: line },
              attributes: [attribute(TRAIL_FILE_ATTRIBUTE, file)],
            })),
          },
        ],
      },
    ],
  });
}

async function send(options: OtlpAckOptions, file: string, lines: readonly string[]): Promise<void> {
  const response = await (options.fetch ?? fetch)(options.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: otlpLogsRequest(options.trail, file, lines),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`off-pod audit store answered ${response.status}: ${text.slice(0, 200)}`);
  // OTLP partial success: some records were rejected, so not all are stored.
  const rejected = /"rejectedLogRecords"\s*:\s*"?(\d+)/.exec(text)?.[1];
  if (rejected !== undefined && rejected !== '0')
    throw new Error(`off-pod audit store rejected ${rejected} of ${lines.length} records`);
}

class OtlpAckSink implements FileSink {
  /** Bytes written and not yet acknowledged off the pod. */
  private unsent: Buffer[] = [];

  constructor(
    private readonly inner: FileSink,
    private readonly file: string,
    private readonly options: OtlpAckOptions,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  get regularFile(): boolean | undefined {
    return this.inner.regularFile;
  }

  async write(data: Uint8Array): Promise<void> {
    await this.inner.write(data);
    this.unsent.push(Buffer.from(data));
  }

  async sync(): Promise<void> {
    await this.inner.sync();
    const text = Buffer.concat(this.unsent).toString('utf8');
    const complete = text.lastIndexOf('\n') + 1;
    const lines = text
      .slice(0, complete)
      .split('\n')
      .filter((line) => line !== '');
    if (lines.length > 0) await send(this.options, this.file, lines);
    // Only what was acknowledged leaves the buffer; after a failure the trail is unhealthy anyway.
    this.unsent = complete < text.length ? [Buffer.from(text.slice(complete), 'utf8')] : [];
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Wraps `inner` so every sink it opens acknowledges its lines off the pod on
 * each sync. The trail must fsync (its `fsync` option true): the sync is the
 * point where a durable record is waited for.
 */
export function otlpAckStorage(inner: AuditStorage, options: OtlpAckOptions): AuditStorage {
  return {
    async openAppend(path) {
      return new OtlpAckSink(await inner.openAppend(path), basename(path), options);
    },
    size: (path) => inner.size(path),
    read: (path, position, length) => inner.read(path, position, length),
    renameNew: (from, to) => inner.renameNew(from, to),
    list: (dir) => inner.list(dir),
    replace: (path, data, sync) => inner.replace(path, data, sync),
  };
}
