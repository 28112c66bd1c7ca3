import type { TestProject } from 'vitest/node';
import { ensureOtelcolBinary } from '../../services/cli/dev/otelcol-binary.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The OpenTelemetry Collector binary built from test/otelcol (services/cli/dev/otelcol-binary.ts). */
    otelcolBinary: string;
  }
}

/**
 * Builds the OpenTelemetry Collector for the `shipping` project (cached under
 * ~/.cache/airlock/otelcol/<key>; a warm run only hashes its three inputs).
 */
export default async function setup(project: TestProject): Promise<void> {
  const binary = await ensureOtelcolBinary({
    onProgress: (line) => process.stderr.write(`[otelcol] ${line}\n`),
  });
  project.provide('otelcolBinary', binary);
}
