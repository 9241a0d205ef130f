import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { git, makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { startChildNode } from '../harness/child-node.ts';
import { withCluster } from '../harness/node.ts';
import { openDatabase } from '../../src/persistence/index.ts';

const cluster = await withCluster(t);
const db = await openDatabase(cluster.databaseUrl, pino({ level: 'silent' }));
t.teardown(() => db.close());
const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];
const gate = (file: string) => `while [ ! -f ${file} ]; do sleep 0.05; done`;

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function submit(child: ChildProcess, type: string, payload: unknown): Promise<void> {
  // As a client would: publish on the ingress subject (the node validates and routes it).
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: cluster.nats.url });
  nc.publish(`omoi.in.${type}`, JSON.stringify(payload));
  await nc.flush();
  await nc.close();
  void child;
}

const ticketStatus = async (id: string) => (await sql(`select status, reason, head from omoi_ticket where id = ?`, [id]))[0];
const tasks = async (id: string) => Object.fromEntries((await sql(`select * from omoi_task where ticket_id = ?`, [id])).map((r: any) => [r.id, r]));

t.test('scenario 13: kill -9 with a task running and a join half-collected, then with a merge in progress', async (t) => {
  const dataDir = await tempDir(t, 'omoi-kill-');
  const flags = await tempDir(t, 'flags-');
  const repo = await makeRepo(t, { 'config.py': Array.from({ length: 60 }, (_, i) => `line ${i + 1}`).join('\n') + '\n' });
  let child = await startChildNode(t, cluster, dataDir, 'crash-1');

  // Ticket K1: B runs until a flag exists; C completes; kill while B runs and the join holds only C.
  await submit(child, 'ticket.create', {
    ticket_id: 'K1', title: 'crash', repository: repo.dir, base_branch: 'main',
    tasks: [
      { id: 'A', run: 'echo a > a.txt', owns: ['a.txt'] },
      { id: 'B', run: `echo run >> ${flags}/B-runs; ${gate(`${flags}/go`)} && echo b > b.txt`, depends_on: ['A'], owns: ['b.txt'] },
      { id: 'C', run: 'echo c > c.txt', depends_on: ['A'], owns: ['c.txt'] },
      { id: 'D', run: 'test -f b.txt && test -f c.txt && echo d > d.txt', depends_on: ['B', 'C'], owns: ['d.txt'] },
    ],
  });
  await waitFor('B running, join holding C', async () => {
    const ts = await tasks('K1');
    const sources = await sql(`select source from omoi_join_source where ticket_id = 'K1' order by source`);
    return ts.B?.status === 'running' && sources.map((r: any) => r.source).join() === 'C';
  }, { timeoutMs: 60_000 });

  // Ticket K2: the merge's resolver blocks until a flag exists; kill while it runs.
  const edit = (v: string) => `sed -i 's/^line 50$/TIMEOUT = ${v}/' config.py`;
  const resolver = `touch ${flags}/resolver-started; ${gate(`${flags}/go`)}; sed -i -e '/^<<<<<<<\\|^=======\\|^>>>>>>>/d' -e 's/^TIMEOUT = .*/TIMEOUT = 30/' config.py && awk '!seen[$0]++' config.py > c.tmp && mv c.tmp config.py`;
  await submit(child, 'ticket.create', {
    ticket_id: 'K2', title: 'crash in merge', repository: repo.dir, base_branch: 'main', resolver_command: resolver,
    tasks: [
      { id: 'A', run: edit('10'), owns: ['config.py'] },
      { id: 'B', run: edit('20'), owns: ['config.py'] },
      { id: 'C', run: 'grep -q "TIMEOUT = 30" config.py && echo ok > c.txt', depends_on: ['A', 'B'], owns: ['c.txt'] },
    ],
  });
  await waitFor('resolver running', () => existsSync(`${flags}/resolver-started`), { timeoutMs: 60_000 });

  await kill9(child);
  await writeFile(`${flags}/go`, '');
  // The node restarts as another node on the same data directory.
  child = await startChildNode(t, cluster, dataDir, 'crash-2');

  await waitFor('K1 completed', async () => (await ticketStatus('K1'))?.status === 'completed', { timeoutMs: 90_000 }).catch(async (err) => {
    const dump = { tickets: await sql(`select id, status, reason from omoi_ticket`), tasks: await sql(`select ticket_id, id, status, attempt, reason, agent_id from omoi_task order by 1, 2`), agents: await sql(`select id, status, running from omoi_agent`), leases: await sql(`select * from omoi_partition_lease`), dead: await sql(`select * from omoi_dead_letter`), joins: await sql(`select ticket_id, id, status, attempts from omoi_join`), processed: (await sql(`select message_id from omoi_processed_message order by processed_at`)).map((r: any) => r.message_id).filter((m: string) => !m.includes('/')), ev: (await sql(`select type, payload from omoi_event where ticket_id = 'K1' or type like 'agent%' order by time`)).map((e: any) => `${e.type} ${JSON.stringify(e.payload)}`) };
    throw new Error(`${(err as Error).message}: ${JSON.stringify(dump, null, 1)}`);
  });
  await waitFor('K2 completed', async () => (await ticketStatus('K2'))?.status === 'completed', { timeoutMs: 90_000 });

  const k1 = await tasks('K1');
  t.equal(k1.B.attempt, 2, 'the attempt lost with the process was failed and retried once');
  const results = await sql(`select message_id from omoi_processed_message where message_id like 'task-result:K1:%' and message_id not like '%/%' order by message_id`);
  t.same(results.map((r: any) => r.message_id), ['task-result:K1:A:1', 'task-result:K1:B:2', 'task-result:K1:C:1', 'task-result:K1:D:1'], 'one result per attempt; none for the lost one');
  const clone = path.join(dataDir, 'repos', 'K1');
  t.same((await git(clone, 'ls-tree', '-r', '--name-only', k1.D.commit)).split('\n').sort(), ['a.txt', 'b.txt', 'c.txt', 'config.py', 'd.txt']);

  for (const ticket of ['K1', 'K2']) {
    const joins = await sql(`select * from omoi_join where ticket_id = ?`, [ticket]);
    t.equal(joins.length, 1);
    t.equal(joins[0].status, 'merged', `${ticket}: join merged`);
    const attempts = await sql(`select * from omoi_merge_attempt where ticket_id = ?`, [ticket]);
    t.equal(attempts.length, 1, `${ticket}: exactly one merge attempt recorded`);
    t.equal(attempts[0].commit, joins[0].merge_commit, `${ticket}: exactly one merge commit`);
    const ts = await tasks(ticket);
    const cont = ticket === 'K1' ? ts.D : ts.C;
    t.equal(cont.base_commit, joins[0].merge_commit, `${ticket}: the continuation ran on that merge commit`);
  }
  const k2clone = path.join(dataDir, 'repos', 'K2');
  t.match(await git(k2clone, 'show', `${(await tasks('K2')).C.base_commit}:config.py`), /TIMEOUT = 30/, 'the merge re-ran after the crash and resolved');
  await kill9(child);
});
