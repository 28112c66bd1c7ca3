/**
 * Where `airlock policy …` commands read and write: the process by default,
 * buffers in tests. Its own file so that `policy.ts` and the subcommands it
 * registers (`policy-rbac.ts`) both use it without importing each other.
 */
export interface PolicyCommandIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly readFile: (path: string) => string;
  readonly now: () => Date;
}
