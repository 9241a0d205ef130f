import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/index.ts';
import { serverLog } from './server-log.ts';
import { tempDir } from './temp-dir.ts';
import type { TestContext } from './test-context.ts';

export interface RestartablePostgres {
  url: string;
  /** Stops the server (fast shutdown), waits `downMs`, starts it again on the same data and port. */
  restart(downMs: number): Promise<void>;
}

/**
 * A PostgreSQL server of this test alone that can be restarted (the shared test cluster of
 * `withPostgres` cannot: other tests use it). Durable (fsync on), stopped in `t.teardown`.
 */
export async function withRestartablePostgres(t: TestContext): Promise<RestartablePostgres> {
  const dataDir = await tempDir(t, 'pg', { mode: 0o755 }); // the postgres user, as root, must enter it
  const start = (port?: number) => startEmbeddedPostgres({ dataDir: `${dataDir}/cluster`, port, log: serverLog('postgres') });
  let server: EmbeddedPostgres = await start();
  const port = server.port;
  t.teardown(() => server.stop());
  return {
    url: server.url,
    async restart(downMs) {
      await server.stop();
      await new Promise((r) => setTimeout(r, downMs));
      server = await start(port);
    },
  };
}
