/**
 * The Node (V8) flags the executor process runs with, wherever it is
 * started: Dockerfile.executor (NODE_OPTIONS), the dev stack
 * (services/cli/dev/dev-tiers.ts) and the benchmarks' extra tiers
 * (bench/bench-tiers.ts). services/core/repo/dockerfiles.test.ts checks the
 * image carries the same.
 *
 * `--max-semi-space-size=1` (MiB): keep the young generation small. Every
 * stream byte passes through a few short-lived Buffers (TLS reads, WebSocket
 * frames, coalesced and serialised gRPC messages) whose memory lives outside
 * V8's heap. With the default young generation, which grows to many MiB,
 * almost no scavenge runs during a transfer, those Buffers pile up as
 * external memory, and V8 reclaims them with full mark-compact collections
 * of the whole heap: 39 of them in 3 × 32 MiB each of stdout, stdin and
 * port-forward, 1.8 s. With a 1 MiB young generation frequent cheap
 * scavenges free them first (8 full collections, 0.25 s), and the
 * executor's CPU per MiB fell to about a third (README "Performance").
 * It has to be a command-line flag or NODE_OPTIONS: V8 sizes the young
 * generation when the process starts (v8.setFlagsFromString is too late).
 */
export const EXECUTOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
