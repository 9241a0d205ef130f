// The one PostgreSQL of a local cluster (scripts/cluster.sh): Omoi's embedded PostgreSQL,
// started on its own so that every node gets the same DATABASE_URL. Usage:
//   node --import tsx scripts/cluster-postgres.ts <data dir> <url file>
// Writes the database URL to <url file> (mode 0600) once the server accepts connections, then
// runs until SIGTERM or SIGINT and stops the server; the orphan watchdog stops it if this
// process is killed. OMOI_POSTGRES_DIR and OMOI_POSTGRES_BINARY_CACHE apply as for a node.
import { rmSync, writeFileSync } from 'node:fs';
import { startEmbeddedPostgres } from '../src/embedded/index.ts';

const [dataDir, urlFile] = process.argv.slice(2);
if (!dataDir || !urlFile) {
  process.stderr.write('usage: cluster-postgres.ts <data dir> <url file>\n');
  process.exit(2);
}
const line = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);
const pg = await startEmbeddedPostgres({
  dataDir: process.env.OMOI_POSTGRES_DIR || dataDir,
  binaryCacheDir: process.env.OMOI_POSTGRES_BINARY_CACHE || undefined,
  log: line,
  notice: line,
});
writeFileSync(urlFile, pg.url + '\n', { mode: 0o600 });
line(`postgresql ready on port ${pg.port}`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  rmSync(urlFile, { force: true });
  void pg.stop().then(() => {
    line('postgresql stopped');
    process.exit(0);
  }, (err) => {
    line(`postgresql did not stop cleanly: ${String(err)}`);
    process.exit(1);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Keeps the process alive until a signal (the server itself is unref'd).
setInterval(() => undefined, 1 << 30);
