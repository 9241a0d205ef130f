import t from 'tap';
import { pino } from 'pino';
import { startNode } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { partitionOf } from '../../src/protocol/index.ts';
import { makeRepo, overlappingHoldings, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, waitTicket } from '../flow/helpers.ts';

// Six, so that three nodes each get a fair share of two.
const PARTITIONS = 6;

/** A ticket id in `partition`. */
function ticketIn(partition: number): string {
  for (let i = 0; ; i++) if (partitionOf('ticket', `START${i}`, PARTITIONS) === partition) return `START${i}`;
}

t.test('three nodes started at the same moment on a fresh database and server all start, share the partitions and serve', async (t) => {
  const cluster = await withCluster(t);
  const ids = ['start-one', 'start-two', 'start-three'];
  // Leases of 6 s: a node slowed down by a loaded machine keeps its partitions (see below).
  const nodes = await Promise.all(ids.map((id) => withNode(t, cluster, { nodeId: id, partitions: PARTITIONS, localAgentCapabilities: [id], heartbeatMs: 2_000 })));
  await waitFor('every node holding its fair share', () => nodes.every((n) => n.leases.owned().length === PARTITIONS / nodes.length), { timeoutMs: 30_000 });

  // A ticket in every partition, each sent through another node. A task runs where its agent's
  // actor lives and needs the ticket's clone there, so each task asks for a local agent hosted
  // by the node holding its ticket, if there is one: that node then serves the ticket alone.
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const holderOf = (partition: number) => nodes.find((n) => n.leases.owned().includes(partition))!;
  const tickets = Array.from({ length: PARTITIONS }, (_, p) => {
    const holder = holderOf(p);
    const agent = ids.find((id) => holderOf(partitionOf('agent', `local-${id}`, PARTITIONS)) === holder);
    return { id: ticketIn(p), holder, agent };
  });
  await Promise.all(tickets.map((k, i) => nodes[i % nodes.length]!.submit('ticket.create', {
    ticket_id: k.id, title: 'started together', repository: repo.dir, base_branch: 'main',
    tasks: [{ id: 'A', run: 'true', capabilities: [k.agent ?? 'no-such-agent'] }],
  })));
  for (const k of tickets) {
    await waitFor(`ticket ${k.id} created by ${k.holder.config.nodeId}`, async () => (await sql(k.holder, 'select id from omoi_ticket where id = ?', [k.id])).length === 1);
  }
  t.pass(`each node created the tickets of its ${PARTITIONS / nodes.length} partitions`);
  const served = tickets.filter((k) => k.agent);
  t.ok(served.length > 0, 'some node hosts a local agent');
  for (const k of served) await waitTicket(k.holder, k.id, 'completed');
  t.pass(`${served.length} tickets completed on ${new Set(served.map((k) => k.holder.config.nodeId)).size} nodes`);

  const [cluster_] = await sql(nodes[0]!, 'select partitions from omoi_cluster');
  t.same(cluster_, { partitions: PARTITIONS }, 'the first node recorded the partition count');
  t.same(await overlappingHoldings(nodes[0]!.db), [], 'no partition was held by two nodes at once');

  await t.test('a node with another partition count refuses to start, and changes nothing', async (t) => {
    const dataDir = await tempDir(t, 'wrong-count');
    const config = loadConfig({}, {
      dataDir, databaseUrl: cluster.databaseUrl, natsUrl: cluster.nats.url, httpPort: 0, partitions: 8,
      logLevel: 'silent', nodeId: 'wrong-count', apiToken: 'test-token',
    });
    const refused = await startNode(config, { log: pino({ level: 'silent' }) }).then(async (n) => {
      await n.stop();
      return undefined;
    }, (err: unknown) => err);
    t.ok(refused instanceof ConfigError, `a configuration error (${String(refused)})`);
    t.match(String((refused as Error).message), /^OMOI_PARTITIONS: is 8, but the cluster on this database has 6 partitions; start every node with OMOI_PARTITIONS=6/);
    t.same(await sql(nodes[0]!, 'select count(*)::int as n from omoi_partition_lease'), [{ n: PARTITIONS }], 'no lease row added');
    t.same(await sql(nodes[0]!, `select count(*)::int as n from omoi_node where id = 'wrong-count'`), [{ n: 0 }], 'never joined the cluster');
    const jsm = await nodes[0]!.js.jetstreamManager();
    await t.rejects(jsm.consumers.info('OMOI_PART', 'part-6'), 'no consumer made for a partition the cluster does not have');
  });
});
