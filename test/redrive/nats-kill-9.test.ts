import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, taskSummary, waitTicket } from '../flow/helpers.ts';

// Scenario (g): one node, one nats-server. A fan-out ticket 1 → 6 → 1 runs while its
// nats-server is killed with SIGKILL and restarted on the same store a few seconds later.
const cluster = await withCluster(t);
const node = await withNode(t, cluster);

t.test('scenario g: nats-server kill -9 and restart during a fan-out: the ticket completes, every effect once, one merge', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'fan-out\n' });
  const effects = `${await tempDir(t, 'effects')}/effects.log`; // outside the repository
  const step = (id: string) => `echo ${id} >> ${effects} && echo ${id} > ${id.toLowerCase()}.txt && sleep 1`;
  const fan = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6'];
  await node.submit('ticket.create', {
    ticket_id: 'G1', title: 'fan-out through a NATS crash', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', step('A'), { owns: ['a.txt'] }),
      ...fan.map((id) => task(id, step(id), { depends_on: ['A'], owns: [`${id.toLowerCase()}.txt`] })),
      task('J', step('J'), { depends_on: fan, owns: ['j.txt'] }),
    ],
  });
  await waitFor('two fan-out tasks running', async () => Object.values(await taskRows(node, 'G1')).filter((r) => fan.includes(r.id) && r.status === 'running').length >= 2, { timeoutMs: 60_000 });

  cluster.nats.kill9();
  await sleep(3_000);
  await cluster.nats.restart();

  await waitTicket(node, 'G1', 'completed', 120_000).catch(async (err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(await taskSummary(node, 'G1'))}`);
  });
  const lines = (await readFile(effects, 'utf8')).trim().split('\n');
  const counts = Object.fromEntries(['A', ...fan, 'J'].map((id) => [id, lines.filter((l) => l === id).length]));
  t.same(counts, { A: 1, B1: 1, B2: 1, B3: 1, B4: 1, B5: 1, B6: 1, J: 1 }, 'every task effect happened exactly once');
  const tasks = await taskRows(node, 'G1');
  t.same(Object.values(tasks).map((r) => r.attempt), Object.values(tasks).map(() => 1), 'no attempt was lost and run again');

  const joins = await sql<any>(node, `select * from omoi_join where ticket_id = 'G1'`);
  t.equal(joins.length, 1);
  t.equal(joins[0].status, 'merged');
  const attempts = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'G1'`);
  t.equal(attempts.length, 1, 'one merge attempt recorded');
  t.equal(attempts[0].commit, joins[0].merge_commit, 'exactly one merge commit for the join');
  t.equal(tasks.J.base_commit, joins[0].merge_commit, 'the continuation ran on it');
  // The ticket tells the agent (agent.task_ended, on the agent's partition) after it recorded the ending.
  const running = async () => (await sql<any>(node, 'select running from omoi_agent where id = ?', [`local-${node.config.nodeId}`]))[0].running;
  await waitFor('the slots freed', async () => (await running()).length === 0).catch(() => undefined);
  t.same(await running(), [], 'the local agent holds no slot any more');
});

t.test('a merge that finishes while nats-server is down waits to save its commit, then reports, without crashing its MergeActor', async (t) => {
  const repo = await makeRepo(t, { 'config.py': Array.from({ length: 60 }, (_, i) => `line ${i + 1}`).join('\n') + '\n' });
  const flags = await tempDir(t, 'flags');
  const edit = (v: string) => `sed -i 's/^line 50$/TIMEOUT = ${v}/' config.py`;
  // The resolver waits for a flag, so the merge ends while the server is away.
  const resolver = `touch ${flags}/resolving; while [ ! -f ${flags}/go ]; do sleep 0.05; done; sed -i -e '/^<<<<<<<\\|^=======\\|^>>>>>>>/d' -e 's/^TIMEOUT = .*/TIMEOUT = 30/' config.py && awk '!seen[$0]++' config.py > c.tmp && mv c.tmp config.py`;
  await node.submit('ticket.create', {
    ticket_id: 'G2', title: 'merge through a NATS crash', repository: repo.dir, base_branch: 'main', resolver_command: resolver,
    tasks: [
      task('A', edit('10'), { owns: ['config.py'] }),
      task('B', edit('20'), { owns: ['config.py'] }),
      task('C', 'grep -q "TIMEOUT = 30" config.py && echo ok > c.txt', { depends_on: ['A', 'B'], owns: ['c.txt'] }),
    ],
  });
  await waitFor('the resolver running', async () => (await readFile(`${flags}/resolving`).then(() => true, () => false)), { timeoutMs: 60_000 });
  const crashes = async () => Number(/^omoi_actor_restarts_total\{actor="MergeActor",action="crashed"\} (\d+)$/m.exec(await node.metrics.registry.metrics())?.[1] ?? 0);
  const before = await crashes();

  cluster.nats.kill9();
  await writeFile(`${flags}/go`, '');
  // The merge commit is made, but it cannot be announced before it is in the object store.
  await sleep(3_000);
  t.same(await sql(node, `select * from omoi_merge_attempt where ticket_id = 'G2'`), [], 'not reported while its commit cannot be saved');
  await cluster.nats.restart();

  await waitTicket(node, 'G2', 'completed', 90_000);
  t.equal(await crashes(), before, 'the MergeActor never crashed: a NATS outage is not its failure');
  const joins = await sql<any>(node, `select * from omoi_join where ticket_id = 'G2'`);
  t.equal(joins[0].status, 'merged');
  t.equal(joins[0].attempts, 1, 'one merge attempt');
  const attempts = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'G2'`);
  t.equal(attempts.length, 1);
  t.equal(attempts[0].commit, joins[0].merge_commit, 'exactly one merge commit');
});
