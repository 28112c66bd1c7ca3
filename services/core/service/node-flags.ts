import { setFlagsFromString } from 'node:v8';

/**
 * The Node (V8) flags of the tiers that move stream bytes: the executor,
 * the mediator and the door (which runs from the mediator's image), wherever
 * they are started: their Dockerfiles (NODE_OPTIONS), the dev stack
 * (services/cli/dev/dev-tiers.ts) and the benchmarks' extra tiers
 * (bench/bench-tiers.ts). services/core/repo/dockerfiles.test.ts checks the
 * images carry the same.
 *
 * `--max-semi-space-size=1` (MiB): keep the young generation small. Every
 * stream byte passes through a few short-lived Buffers (TLS reads, HTTP/2
 * and WebSocket frames, gRPC messages, SSH packets) whose memory lives
 * outside V8's heap. With the default young generation, which grows to many
 * MiB, almost no scavenge runs during a transfer, those Buffers pile up as
 * external memory, and V8 reclaims them with full mark-compact collections
 * of the whole heap. With a 1 MiB young generation frequent cheap scavenges
 * free them first:
 * - executor, 3 × 32 MiB each of stdout, stdin and port-forward: 39 full
 *   collections (1.8 s) fell to 8 (0.25 s), its CPU per MiB to about a third;
 * - mediator, 5 × 64 MiB of stdout on a fresh process: 27–29 full
 *   collections fell to 2, its CPU per MiB from 6.4 to 3.3 ms.
 * It has to be a command-line flag or NODE_OPTIONS: V8 sizes the young
 * generation when the process starts (v8.setFlagsFromString is too late).
 */
export const STREAM_TIER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/**
 * The V8 flags the stream tiers set on themselves as they start
 * (`serviceMain`, before the tier runs), because NODE_OPTIONS refuses them
 * and the pods' command lines are spelled in several places.
 *
 * `--heap-growing-percent=200`: after a full collection, let the old
 * generation grow to three times what survived it before the next one
 * starts. V8's own factor for these small heaps (about 30 MiB live once a
 * tier has served sessions) left 6–12 MiB of room, which the objects a
 * stream promotes out of the 1 MiB young generation filled in about 100 ms:
 * a full collection every few MiB of a stream. With sessions before the
 * streams (60 execs, then 4 rounds of 32 MiB stdout, stdin and 30 sessions),
 * the mediator's full collections fell from 25–35 to 6, its CPU per MiB of
 * stdout from 7.2–8.8 to 3.1 ms and of stdin from 8.1–9.1 to 4.7 ms; the
 * executor's to 3.8 and 2.8 ms (README "Performance"). The price is memory:
 * about 15–30 MiB more heap per tier process, well inside the pods' limits.
 * Read by V8 at every collection, so setting it after start-up works.
 */
export const STREAM_TIER_RUNTIME_V8_FLAGS: readonly string[] = ['--heap-growing-percent=200'];

/** Sets `flags` on this process's V8 (see STREAM_TIER_RUNTIME_V8_FLAGS). */
export function setRuntimeV8Flags(flags: readonly string[]): void {
  for (const flag of flags) setFlagsFromString(flag);
}
