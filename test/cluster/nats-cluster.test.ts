import { readFile } from 'node:fs/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import t from 'tap';
import { openDatabase } from '../../src/persistence/index.ts';
import { Streams } from '../../src/protocol/index.ts';
import { makeRepo, tempDir, waitFor, withPostgres } from '../harness/index.ts';
import { startChildNode } from '../harness/child-node.ts';
import { withNatsCluster } from '../harness/nats-cluster.ts';

// A NATS cluster of three servers, streams at three replicas, one node whose NATS_URL lists
// all three. The server leading the partition stream is killed with SIGKILL during a fan-out.
const nats = await withNatsCluster(t, 3);
const pg = await withPostgres(t);
const db = await openDatabase(pg.url, pino({ level: 'silent' }));
t.teardown(() => db.close());
const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];

const client = await connect({ servers: nats.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 500 });
t.teardown(() => client.close());
const jsm = await jetstreamManager(client);

t.test('three replicas of every stream; a fan-out completes through the SIGKILL of a server, every effect once', async (t) => {
  const dataDir = await tempDir(t, 'replicated-node');
  await startChildNode(t, { nats, databaseUrl: pg.url }, dataDir, 'replicated', { config: { streamReplicas: 3, natsUrl: nats.url } });

  for (const name of [Streams.ingress, Streams.partitions, Streams.events]) {
    const info = await jsm.streams.info(name);
    t.equal(info.config.num_replicas, 3, `${name} has three replicas`);
    t.equal(info.cluster?.replicas?.length, 2, `${name}: a leader and two followers`);
  }

  const repo = await makeRepo(t, { 'README.md': 'fan-out\n' });
  const effects = `${await tempDir(t, 'effects')}/effects.log`;
  const step = (id: string) => `echo ${id} >> ${effects} && echo ${id} > ${id.toLowerCase()}.txt && sleep 1`;
  const fan = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6'];
  // Stored by JetStream before we go on: an outside client's submission.
  await jetstream(client).publish('omoi.in.ticket.create', JSON.stringify({
    ticket_id: 'R1', title: 'fan-out through a NATS server crash', repository: repo.dir, base_branch: 'main',
    tasks: [
      { id: 'A', run: step('A'), owns: ['a.txt'] },
      ...fan.map((id) => ({ id, run: step(id), depends_on: ['A'], owns: [`${id.toLowerCase()}.txt`] })),
      { id: 'J', run: step('J'), depends_on: fan, owns: ['j.txt'] },
    ],
  }));
  const running = async () => (await sql(`select id from omoi_task where ticket_id = 'R1' and status = 'running'`)).filter((r) => fan.includes(r.id)).length;
  await waitFor('fan-out tasks running', async () => (await running()) >= 1, { timeoutMs: 60_000 });

  // The leader of the partition stream: its followers must elect a new one while tasks report.
  const leader = (await jsm.streams.info(Streams.partitions)).cluster?.leader;
  const victim = nats.servers.find((s) => s.name === leader);
  t.ok(victim, `the partition stream's leader (${leader}) is one of ours`);
  victim!.kill9();

  await waitFor('ticket R1 completed', async () => {
    const [row] = await sql(`select status, reason from omoi_ticket where id = 'R1'`);
    if (row && ['failed', 'cancelled'].includes(row.status)) throw new Error(`R1 ended ${row.status} (${row.reason})`);
    return row?.status === 'completed';
  }, { timeoutMs: 90_000 }).catch(async (err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(await sql(`select id, status, attempt, reason from omoi_task where ticket_id = 'R1' order by id`))}`);
  });

  const lines = (await readFile(effects, 'utf8')).trim().split('\n');
  const counts = Object.fromEntries(['A', ...fan, 'J'].map((id) => [id, lines.filter((l) => l === id).length]));
  t.same(counts, { A: 1, B1: 1, B2: 1, B3: 1, B4: 1, B5: 1, B6: 1, J: 1 }, 'every task effect happened exactly once');
  const attempts = await sql(`select id, attempt from omoi_task where ticket_id = 'R1' order by id`);
  t.same(attempts.map((r) => r.attempt), attempts.map(() => 1), 'no attempt was lost and run again');
  const newLeader = (await jsm.streams.info(Streams.partitions)).cluster?.leader;
  t.not(newLeader, leader, `another server leads the partition stream now (${newLeader})`);
  t.same(await sql(`select code from omoi_dead_letter`), [], 'no dead letters');
});
