import type { ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import t from 'tap';
import { demoPlannerCommand } from '../../src/demo/index.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { startChildNode } from '../harness/child-node.ts';
import { withCluster } from '../harness/node.ts';

const cluster = await withCluster(t);
const db = await openDatabase(cluster.databaseUrl, pino({ level: 'silent' }));
t.teardown(() => db.close());
const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];

t.test('a node killed -9 in the middle of SYNC: after restart the spec completes with exactly one work ticket', async (t) => {
  const dataDir = await tempDir(t, 'omoi-spec-kill-');
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const first = await startChildNode(t, cluster, dataDir, 'spec-kill-1', { env: { OMOI_FAILPOINT: 'spec.sync' } });
  const exited = new Promise((r) => first.once('exit', (_code, signal) => r(signal)));
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: cluster.nats.url });
  nc.publish('omoi.in.spec.create', JSON.stringify({ spec_id: 'K1', repository: repo.dir, goal: 'Write the goal down', planner: 'command', planner_command: demoPlannerCommand() }));
  await nc.flush();
  await nc.close();
  t.equal(await exited, 'SIGKILL', 'the node died in SYNC');
  const before = (await sql(`select status, phase from omoi_spec where id = 'K1'`))[0];
  t.same(before, { status: 'planning', phase: 'TASKS' }, 'nothing of SYNC was committed');
  t.same(await sql(`select id from omoi_ticket where spec_id = 'K1' and spec_phase = 'EXECUTE'`), []);

  const second: ChildProcess = await startChildNode(t, cluster, dataDir, 'spec-kill-2');
  void second;
  await waitFor('K1 completed', async () => (await sql(`select status from omoi_spec where id = 'K1'`))[0]?.status === 'completed' || undefined, { timeoutMs: 120_000 });
  t.same(await sql(`select id, status from omoi_ticket where spec_id = 'K1' and spec_phase = 'EXECUTE'`), [{ id: 'spec-K1-exec-v1', status: 'completed' }], 'exactly one work ticket');
  t.same((await sql(`select phase, version from omoi_spec_artifact where spec_id = 'K1' and phase = 'TASKS'`)), [{ phase: 'TASKS', version: 1 }], 'the TASKS artifact recorded once');
  t.equal((await sql(`select count(*)::int as n from omoi_event where type = 'spec.executing' and payload->>'spec_id' = 'K1'`))[0].n, 1, 'one spec.executing');
});
