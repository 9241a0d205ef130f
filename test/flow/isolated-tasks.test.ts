import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { makeRepo } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { gitIn, task, taskRows, waitTicket } from './helpers.ts';

// A node's task commands run under bubblewrap by default (src/sandbox/isolation.ts): what a
// new user tried — a task committing the node's API token to its branch — fails.

t.test('a task cannot read the node\'s API token; with OMOI_SANDBOX=none it could', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { apiToken: undefined, sandboxWritable: [] }); // generated into <data dir>/api-token
  t.equal(readFileSync(path.join(node.config.dataDir, 'api-token'), 'utf8').trim(), node.apiToken, 'the token file is there');
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const steal = `cat '${path.join(node.config.dataDir, 'api-token')}' > leak.txt`;
  await node.submit('ticket.create', {
    ticket_id: 'T-leak', title: 'leak', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', steal, { max_retries: 0 })],
  });
  await waitTicket(node, 'T-leak', 'failed');
  const tasks = await taskRows(node, 'T-leak');
  t.match(tasks.A.reason, /api-token: No such file or directory/, 'the token is not there for the task');
  t.equal(tasks.A.commit, null, 'nothing was committed');

  // The contrast, on a cluster of its own (so the task cannot land on the sandboxed node).
  const other = await withCluster(t);
  const open = await withNode(t, other, { sandbox: 'none', apiToken: undefined });
  await open.submit('ticket.create', {
    ticket_id: 'T-open', title: 'unsandboxed', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', `cat '${path.join(open.config.dataDir, 'api-token')}' > leak.txt`, { max_retries: 0 })],
  });
  await waitTicket(open, 'T-open', 'completed');
  const leaked = await gitIn(open, 'T-open', 'show', `${(await taskRows(open, 'T-open')).A.commit}:leak.txt`);
  t.equal(leaked.trim(), open.apiToken, 'unsandboxed, the task committed the token: what bubblewrap prevents');
});

t.test('a ticket with network: false runs its tasks with no network; the default keeps it; unsandboxed it is refused', async (t) => {
  // A listener on the host's loopback, as NATS, PostgreSQL or a cloud metadata proxy would be.
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const reach = `node -e 'require("net").connect(${port}, "127.0.0.1").on("connect", () => process.exit(0)).on("error", (e) => { console.error("cannot connect: " + e.code); process.exit(3); })'`;

  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', { ticket_id: 'T-net-on', title: 'network', repository: repo.dir, ownership: 'lenient', tasks: [task('A', reach, { max_retries: 0 })] });
  await node.submit('ticket.create', {
    ticket_id: 'T-net-off', title: 'no network', repository: repo.dir, ownership: 'lenient', network: false, tasks: [task('A', reach, { max_retries: 0 })],
  });
  await waitTicket(node, 'T-net-on', 'completed');
  await waitTicket(node, 'T-net-off', 'failed');
  t.match((await taskRows(node, 'T-net-off')).A.reason, /cannot connect: ECONNREFUSED/, 'network: false — the host\'s listener is out of reach');

  const other = await withCluster(t);
  const open = await withNode(t, other, { sandbox: 'none' });
  await open.submit('ticket.create', {
    ticket_id: 'T-net-none', title: 'no network, unsandboxed', repository: repo.dir, ownership: 'lenient', network: false, tasks: [task('A', 'true', { max_retries: 0 })],
  });
  await waitTicket(open, 'T-net-none', 'failed');
  t.match((await taskRows(open, 'T-net-none')).A.reason, /network: false.*only bubblewrap can enforce/, 'OMOI_SANDBOX=none cannot take the network away: the task is refused, not run with it');
});

t.test('a task sees neither the database URL nor any token in its environment, nor in any process it can list', async (t) => {
  const cluster = await withCluster(t);
  // As an operator would start a node: its secrets in the node process's environment.
  const saved = { DATABASE_URL: process.env.DATABASE_URL, OMOI_API_TOKEN: process.env.OMOI_API_TOKEN, NATS_PASSWORD: process.env.NATS_PASSWORD };
  Object.assign(process.env, { DATABASE_URL: cluster.databaseUrl, OMOI_API_TOKEN: 'env-secret-token', NATS_PASSWORD: 'env-secret-nats' });
  t.teardown(() => { for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v; });
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const look = `{ env; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f"; done; } > seen.txt 2>/dev/null; true`;
  await node.submit('ticket.create', { ticket_id: 'T-env', title: 'look around', repository: repo.dir, ownership: 'lenient', tasks: [task('A', look, { max_retries: 0 })] });
  await waitTicket(node, 'T-env', 'completed');
  const seen = await gitIn(node, 'T-env', 'show', `${(await taskRows(node, 'T-env')).A.commit}:seen.txt`);
  t.match(seen, /OMOI_TASK_ID=A/, 'the task\'s own variables are there (the file is what it saw)');
  t.notOk(seen.includes(cluster.databaseUrl), 'not the database URL');
  t.notMatch(seen, /env-secret-token|env-secret-nats|DATABASE_URL|OMOI_API_TOKEN|NATS_PASSWORD/, 'no token, no password, not even their names');
});
