import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type PostgresTestServer, startPostgresTestServer } from './postgres-test-server.js';

/*
 * What the store tests that run on every database share (migrations.test.ts,
 * request-store.contract.test.ts): a PostgreSQL server and temporary
 * directories, each registered in the calling test file.
 */

/**
 * Registers a PostgreSQL server for the calling test file: the broker-postgres
 * project's (AIRLOCK_TEST_PG_URL), else one started before its tests and
 * stopped after them. Returns a getter of the server's URL.
 */
export function usePostgresServer(): () => string {
  let server: PostgresTestServer | undefined;
  let url = '';
  beforeAll(async () => {
    if (process.env.AIRLOCK_TEST_PG_URL) url = process.env.AIRLOCK_TEST_PG_URL;
    else {
      server = await startPostgresTestServer();
      url = server.url;
    }
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => url;
}

/** Registers temporary directories named `airlock-<prefix>-…`, each removed after the test that made it. */
export function useTempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), `airlock-${prefix}-`));
    dirs.push(dir);
    return dir;
  };
}
