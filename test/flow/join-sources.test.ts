import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, sql, task, taskRows, waitTask, waitTicket } from './helpers.ts';

t.test('a join records each source as its own row; the join row and its events do not grow with the completions', async (t) => {
  const cluster = await withCluster(t);
  // Actors passivate quickly, so the last completion finds the join re-hydrated from its rows.
  const node = await withNode(t, cluster, { idlePassivateMs: 200 });
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  await node.submit('ticket.create', {
    ticket_id: 'J1', title: 'three sources', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'echo a > a.txt && echo \'{"a":1}\' > "$OMOI_RESULT_FILE"', { owns: ['a.txt'] }),
      task('B', 'echo b > b.txt', { owns: ['b.txt'] }),
      task('C', `while [ ! -f ${flags}/go ]; do sleep 0.05; done; echo c > c.txt && echo '{"c":3}' > "$OMOI_RESULT_FILE"`, { owns: ['c.txt'] }),
      task('D', 'test -f a.txt && test -f b.txt && test -f c.txt && echo d > d.txt', { depends_on: ['A', 'B', 'C'], owns: ['d.txt'] }),
    ],
  });
  await waitTask(node, 'J1', 'A', 'completed');
  await waitTask(node, 'J1', 'B', 'completed');
  await waitTask(node, 'J1', 'C', 'running');
  await node.idle();

  // Two of three in: two source rows, and the join row as it was registered.
  const tasks = await taskRows(node, 'J1');
  const sources = await sql<any>(node, `select source, commit, result, completed_at from omoi_join_source where ticket_id = 'J1' and join_id = 'join-D' order by source`);
  t.same(sources.map((s) => [s.source, s.commit, s.result]), [['A', tasks.A.commit, { a: 1 }], ['B', tasks.B.commit, {}]], 'exactly one row per completed source');
  const columns = (await sql<any>(node, `select column_name from information_schema.columns where table_name = 'omoi_join'`)).map((c) => c.column_name);
  t.notOk(columns.includes('completed'), 'omoi_join has no completed column');
  const [collecting] = await sql<any>(node, `select * from omoi_join where ticket_id = 'J1'`);
  t.same([collecting.status, collecting.version, collecting.sources], ['collecting', 1, ['A', 'B', 'C']], 'the join row is not re-written per source completion');
  t.equal(new Date(collecting.updated_at).getTime(), new Date(collecting.created_at).getTime());

  const sofar = (await events(node, 'J1', 'join.status')).map((e) => e.payload);
  t.same(sofar[0], { ticket_id: 'J1', join_id: 'join-D', status: 'collecting', continuation: 'D', collected: 0, of: 3, sources: ['A', 'B', 'C'] }, 'registered: the sources listed once');
  const perSource = sofar.slice(1).sort((x, y) => x.collected - y.collected);
  t.same(perSource.map((p) => [p.status, p.collected, p.of]), [['collecting', 1, 3], ['collecting', 2, 3]]);
  t.same(perSource.map((p) => p.source).sort(), ['A', 'B'], 'each names the source it recorded');
  t.ok(perSource.every((p) => !('sources' in p) && !('completed' in p)), 'no lists on a per-source event');

  // The last source: the join fires once.
  await new Promise((r) => setTimeout(r, 500)); // the join actor passivates
  await writeFile(path.join(flags, 'go'), '');
  await waitTicket(node, 'J1', 'completed');
  const [merged] = await sql<any>(node, `select * from omoi_join where ticket_id = 'J1'`);
  t.equal(merged.status, 'merged');
  t.equal(merged.attempts, 1, 'one merge');
  t.equal((await sql<any>(node, `select count(*)::int as n from omoi_join_source where ticket_id = 'J1'`))[0].n, 3);
  const after = await taskRows(node, 'J1');
  t.equal(after.D.base_commit, merged.merge_commit, 'the continuation ran on the merge');
  t.same(after.D.context.merged, { A: { a: 1 }, B: {}, C: { c: 3 } }, 'results synthesized from the source rows');
  const all = (await events(node, 'J1', 'join.status')).map((e) => e.payload);
  t.same(all.filter((p) => p.source).map((p) => p.source).sort(), ['A', 'B'], 'one collecting event per source but the last, which makes the join go merging');
  const changes = all.filter((p) => p.status !== 'collecting');
  t.same(changes.map((p) => [p.status, p.collected, p.of, p.sources]), [['merging', 3, 3, ['A', 'B', 'C']], ['merged', 3, 3, ['A', 'B', 'C']]], 'changes of status list the sources');
  t.equal(changes[1]!.commit, merged.merge_commit);
  t.equal((await events(node, 'J1', 'join.synthesized')).length, 1, 'synthesized once');
});
