import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { tempDir, waitFor } from '../harness/index.ts';
import { cleanEnv, runOmoi } from '../cli/run-omoi.ts';

const execFileAsync = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/cluster.sh', import.meta.url));

interface Run { code: number; stdout: string; stderr: string }

async function cluster(args: string[], env: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(SCRIPT, args, { env: cleanEnv(env), timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port whose run of ports (the script's three clients, three routes, three HTTP ports) is free now. */
async function freeRun(offsets: number[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await Promise.all(offsets.map((o) => bindable(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free run of ports');
}

/** Processes (not zombies) whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ps', ['-eo', 'pid=,stat=,args=']);
  return stdout.split('\n').filter((l) => l.includes(text) && !/^\s*\d+\s+Z/.test(l));
}

t.test('scripts/cluster.sh starts three nats-servers, one PostgreSQL and three nodes, reports them, and stops them all', async (t) => {
  const dir = await tempDir(t, 'cluster-script');
  // Readable by the postgres user when the test runs as root (no relocation to /var/lib).
  const pgDir = await tempDir(t, 'cluster-script-pg', { mode: 0o755 });
  const natsPort = await freeRun([0, 1, 2, 100, 101, 102]);
  const httpPort = await freeRun([0, 1, 2]);
  const env = { OMOI_POSTGRES_DIR: `${pgDir}/pg`, OMOI_LOG_LEVEL: 'warn', OMOI_HEARTBEAT_MS: '500' };
  const args = ['--dir', dir, '--nats-port', String(natsPort), '--http-port', String(httpPort)];
  t.teardown(() => cluster(['stop', '--dir', dir], env));

  const help = await cluster(['--help'], env);
  t.equal(help.code, 0);
  t.match(help.stdout, /^Usage: scripts\/cluster\.sh start\|stop\|status/m);

  const started = await cluster(['start', ...args, '--partitions', '4'], env);
  t.equal(started.code, 0, `start succeeds: ${started.stderr}`);
  t.match(started.stdout, /^cluster: starting 3 nats-servers/m, 'progress: nats');
  t.match(started.stdout, /^cluster: postgresql ready$/m, 'progress: postgres');
  for (let i = 0; i < 3; i++) t.match(started.stdout, new RegExp(`^  node-${i + 1} +http://127\\.0\\.0\\.1:${httpPort + i} `, 'm'), `says where node-${i + 1} is`);
  t.match(started.stdout, /npx omoi status --url /, 'says how to see the cluster');
  t.match(started.stdout, /scripts\/cluster\.sh stop --dir /, 'says how to stop it');

  const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${httpPort + i}`);
  for (const url of urls) t.equal((await fetch(`${url}/readyz`)).status, 200, `${url} is ready`);

  const token = (await readFile(`${dir}/api-token`, 'utf8')).trim();
  // Ready is not settled: a node records its HTTP URL, and the partitions are spread, just after it.
  const clusterView = async () => (await fetch(`${urls[2]}/api/cluster`, { headers: { authorization: `Bearer ${token}` } })).json() as any;
  const settled = (v: any) => v.nodes.every((n: any) => n.http_url) && v.leases.filter((l: any) => l.node_id && Date.parse(l.expires_at) > Date.now()).length === 4;
  // Idle means after the start-up work (local agents registering, partitions woken) has drained.
  const view = await waitFor('every node with its URL, every partition leased, nothing pending', async () => { const v = await clusterView(); return settled(v) && v.lag?.total === 0 ? v : undefined; }, { timeoutMs: 30_000 }).catch(clusterView);
  t.same(view.nodes.map((n: any) => [n.id, n.status]), [['node-1', 'up'], ['node-2', 'up'], ['node-3', 'up']], 'three nodes up');
  t.same(view.nodes.map((n: any) => n.http_url), urls, 'each with its HTTP URL');
  const now = Date.now();
  const leased = view.leases.filter((l: any) => l.node_id && Date.parse(l.expires_at) > now);
  t.same(leased.map((l: any) => l.partition).sort(), [0, 1, 2, 3], 'every partition leased');
  t.equal(view.lag?.total, 0, 'no lag on an idle cluster');

  const status = await runOmoi(['status', '--url', urls[0]!], { OMOI_API_TOKEN: token });
  t.equal(status.code, 0, status.stderr);
  for (const id of ['node-1', 'node-2', 'node-3']) t.match(status.stdout, new RegExp(`^${id} +up +\\d+ +[\\d.]+s ago +http://`, 'm'), `omoi status lists ${id}`);

  const running = await cluster(['status', '--dir', dir], env);
  t.equal(running.stdout.match(/ running \(pid \d+\)/g)?.length, 7, 'status: seven processes running');

  const pids = await Promise.all(['nats-1', 'nats-2', 'nats-3', 'postgres', 'node-1', 'node-2', 'node-3'].map(async (n) => Number(await readFile(`${dir}/run/${n}.pid`, 'utf8'))));
  const stopped = await cluster(['stop', '--dir', dir], env);
  t.equal(stopped.code, 0, stopped.stderr);
  t.equal(stopped.stdout.match(/^cluster: stopped \S+ \(pid \d+\)$/gm)?.length, 7, 'seven processes stopped');
  t.notMatch(stopped.stdout, /SIGKILL/, 'each stopped on SIGTERM');
  const { stdout: left } = await execFileAsync('ps', ['-o', 'pid=,stat=', '-p', pids.join(',')]).catch(() => ({ stdout: '' }));
  t.same(left.split('\n').filter((l) => l.trim() && !/\sZ/.test(l)), [], 'none of them runs');
  t.same([...await processesMentioning(dir), ...await processesMentioning(pgDir)], [], 'no process of the cluster is left (PostgreSQL included)');
  const after = await cluster(['status', '--dir', dir], env);
  t.equal(after.stdout.match(/ stopped$/gm)?.length, 7, 'status: all stopped');
});
