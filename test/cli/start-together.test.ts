import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { withCluster } from '../harness/node.ts';
import { tempDir } from '../harness/index.ts';
import { runOmoi, spawnOmoi } from './run-omoi.ts';

t.test('two `omoi start` processes at the same moment on a fresh database both start; a third with another partition count is refused', async (t) => {
  const cluster = await withCluster(t);
  const env = async (id: string, partitions = '4') => ({
    DATABASE_URL: cluster.databaseUrl, NATS_URL: cluster.nats.url, OMOI_DATA_DIR: await tempDir(t, `cli-${id}`), OMOI_HTTP_PORT: '0',
    OMOI_PARTITIONS: partitions, OMOI_NODE_ID: id, OMOI_LOG_LEVEL: 'warn', OMOI_HEARTBEAT_MS: '500', OMOI_SHUTDOWN_GRACE_MS: '5000',
  });
  const [envA, envB] = await Promise.all([env('together-a'), env('together-b')]);
  const nodes = [spawnOmoi(t, ['start'], envA), spawnOmoi(t, ['start'], envB)];
  const lines = await Promise.all(nodes.map((n, i) => n.line(/^omoi: node /, `the start line of node ${i}`)));
  t.ok(lines[0]!.includes('node together-a started') && lines[1]!.includes('node together-b started'), 'both nodes started');
  const urls = lines.map((l) => /· http (http:\/\/\S+) ·/.exec(l)?.[1]);
  for (const url of urls) t.equal((await fetch(`${url}/readyz`)).status, 200, `${url} is ready`);

  const status = await runOmoi(['status', '--url', urls[0]!], { OMOI_API_TOKEN: await tokenOf(envA.OMOI_DATA_DIR) });
  t.equal(status.code, 0, status.stderr);
  t.match(status.stdout, /^together-a +up /m, 'status lists node a up');
  t.match(status.stdout, /^together-b +up /m, 'and node b');

  const refused = await runOmoi(['start'], await env('together-c', '8'));
  t.equal(refused.code, 2, 'exit code 2: invalid configuration');
  t.match(refused.stderr, /^omoi: invalid configuration: OMOI_PARTITIONS: is 8, but the cluster on this database has 4 partitions; start every node with OMOI_PARTITIONS=4/m);
  t.notMatch(refused.stderr, /^\s+at /m, 'no stack trace');

  for (const n of nodes) n.child.kill('SIGTERM');
  t.same(await Promise.all(nodes.map((n) => n.exited)), [{ code: 0, signal: null }, { code: 0, signal: null }], 'both stop cleanly');
});

async function tokenOf(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, 'api-token'), 'utf8')).trim();
}
