import { startPostgresTestServer } from '../../services/broker/store/postgres-test-server.js';

/**
 * Starts one throwaway PostgreSQL server (initdb in a temporary directory,
 * 127.0.0.1, a free port) for the `broker-postgres` project, whose broker
 * tests then keep their requests there (`AIRLOCK_TEST_PG_URL`, read by
 * services/broker/testing.ts: a fresh database per broker environment), and
 * stops it when the project finishes (a watchdog stops it if this process dies).
 */
export default async function setup(): Promise<() => Promise<void>> {
  const server = await startPostgresTestServer();
  process.env.AIRLOCK_TEST_PG_URL = server.url;
  return () => server.stop();
}
