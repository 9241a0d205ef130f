import path from 'node:path';
import t from 'tap';
import { git, tempDir } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { spawnOmoi } from '../cli/run-omoi.ts';
import { sql, taskRows, ticketRow } from '../flow/helpers.ts';

const cluster = await withCluster(t);

t.test('npm start -- --spec-demo: a goal planned, built by a ticket that splits, joins and merges, pushed to a bare origin; exit 0', async (t) => {
  const dataDir = await tempDir(t, 'spec-demo');
  // As `npm start -- --spec-demo` runs it: `start --demo --spec-demo` (the spec demo replaces the ticket demo).
  const omoi = spawnOmoi(t, ['start', '--demo', '--spec-demo'], {
    DATABASE_URL: cluster.databaseUrl, NATS_URL: cluster.nats.url, OMOI_DATA_DIR: dataDir, OMOI_HTTP_PORT: '0',
    OMOI_PARTITIONS: '4', OMOI_NODE_ID: 'spec-demo-node', OMOI_LOG_LEVEL: 'warn', OMOI_HEARTBEAT_MS: '500', OMOI_SHUTDOWN_GRACE_MS: '5000',
  });
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([omoi.exited, new Promise((resolve) => (timer = setTimeout(() => resolve('still running'), 240_000)))]);
  clearTimeout(timer);
  const stdout = omoi.stdout();
  if (!t.same(exit, { code: 0, signal: null }, 'the spec demo exits 0')) t.comment(stdout + '\n' + omoi.stderr());

  // What a person sees, phase by phase.
  for (const [what, pattern] of [
    ['where', /^spec-demo: sample repository \S+\/demo\/sample-repo \(main at [0-9a-f]{7}\); origin \S+\/demo\/origin\.git \(bare\)$/m],
    ['goal', /^\[ +\d+\.\ds\] goal: Export orders as CSV and search the catalogue/m],
    ['findings', /^\[ +\d+\.\ds\] findings: 5 files read \(\.gitignore, README\.md, config\.py, src\/__init__\.py, src\/core\.py\); .*config\.py: ENABLED_FEATURES = \["core"\]/m],
    ['requirements', /^\[ +\d+\.\ds\] requirements \(5\): REQ-1 project metadata; REQ-2 export orders; /m],
    ['design', /^\[ +\d+\.\ds\] design: 5 components \(metadata, export, search, app, docs\)/m],
    ['DAG', /^\[ +\d+\.\ds\] DAG: 5 tasks \(A, B←A, C←A, D←B\+C, E←D\), 1 join \(join-D\)$/m],
    ['ticket running', /^\[ +\d+\.\ds\] ticket spec-demo-\S+-exec-v1 running: the DAG's tasks A, B, C, D, E$/m],
    ['splitting', /^\[ +\d+\.\ds\] ticket spec-demo-\S+-exec-v1 created: tasks A, B, C, D, E; joins join-D$/m],
    ['joining', /^\[ +\d+\.\ds\] join join-D registered: D will run on the merge of B, C$/m],
    ['merging', /^\[ +\d+\.\ds\] merge join-D: order [BC] → [BC]; no conflicts; merge commit [0-9a-f]{7}$/m],
    ['merged', /^\[ +\d+\.\ds\] join join-D merged: D will run on merge commit [0-9a-f]{7}$/m],
    ['completed', /^\[ +\d+\.\ds\] spec completed: the work ticket spec-demo-\S+-exec-v1 completed at [0-9a-f]{7}$/m],
    ['pushed', /^\[ +\d+\.\ds\] pushed to origin omoi\/spec-demo-\S+-exec-v1 at [0-9a-f]{7}$/m],
    ['verdict', /^spec-demo: spec demo-\S+ completed and delivered in \d+\.\ds: \S+origin\.git has omoi\/spec-demo-\S+-exec-v1 at [0-9a-f]{7}$/m],
  ] as const) t.match(stdout, pattern, `prints: ${what}`);
  t.notMatch(stdout, /^demo: submitting ticket/m, 'the ticket demo did not run as well');
  t.notMatch(stdout, /FAILED|BLOCKED|not delivered/, 'nothing went wrong');

  // The record, read by a node of the same cluster once the demo's node stopped.
  const specId = /^spec-demo: spec (demo-\S+),/m.exec(stdout)?.[1];
  if (!t.ok(specId, 'the spec id is printed')) return;
  const node = await withNode(t, cluster);
  const [spec] = await sql<any>(node, 'select * from omoi_spec where id = ?', [specId]);
  t.equal(spec.status, 'completed');
  t.equal(spec.phase, 'COMPLETE');
  const origin = path.join(dataDir, 'demo', 'origin.git');
  t.same(spec.delivery, { remote: origin }, 'the spec carries its delivery');
  const ticket = (await ticketRow(node, spec.ticket_id))!;
  t.equal(ticket.status, 'completed');
  t.same(ticket.delivery, { remote: origin }, 'passed to the work ticket');
  t.equal(ticket.delivery_status, 'delivered');
  const branch = `omoi/${spec.ticket_id}`;
  t.equal(await git(origin, 'rev-parse', `refs/heads/${branch}`), ticket.head, 'the origin has the branch at the work ticket\'s head');
  t.equal(ticket.head, spec.head);
  const files = (await git(origin, 'ls-tree', '-r', '--name-only', branch)).split('\n');
  for (const file of ['pyproject.toml', 'src/x/export.py', 'src/y/search.py', 'src/app.py', 'docs/features.md', 'config.py']) t.ok(files.includes(file), `${file} is on the pushed branch`);

  // Split, joined, merged: D ran on the merge commit of join-D, a real merge of B and C.
  const tasks = await taskRows(node, spec.ticket_id);
  t.same(Object.keys(tasks).sort(), ['A', 'B', 'C', 'D', 'E']);
  for (const id of Object.keys(tasks)) t.equal(tasks[id]!.status, 'completed', `task ${id} completed`);
  t.equal(tasks.B!.base_commit, tasks.A!.commit, 'B and C split from A');
  t.equal(tasks.C!.base_commit, tasks.A!.commit);
  const [join] = await sql<any>(node, 'select * from omoi_join where ticket_id = ?', [spec.ticket_id]);
  t.same([join.id, [...join.sources].sort(), join.continuation], ['join-D', ['B', 'C'], 'D']);
  t.ok(join.merge_commit, 'join-D merged');
  t.equal(tasks.D!.base_commit, join.merge_commit, 'D ran on the merge commit');
  const parents = (await git(origin, 'rev-list', '--parents', '-n', '1', join.merge_commit)).split(' ').slice(1);
  t.equal(parents.length, 2, 'a real merge (two parents), and it is in the origin');
  t.equal(tasks.E!.base_commit, tasks.D!.commit, 'E continued after D');
});

t.test('a spec demo that is not delivered in time says so, with the reason, and stops waiting', async (t) => {
  const node = await withNode(t, cluster);
  const { runSpecDemo } = await import('../../src/demo/index.ts');
  const out: string[] = [];
  // One millisecond: no spec is planned, built and pushed that fast; the bound is what is tested.
  const demo = await runSpecDemo(node, { write: (line) => out.push(line), timeoutMs: 1 });
  const text = out.join('\n');
  if (!t.equal(demo.status, 'timed_out')) t.comment(text);
  t.equal(demo.origin, path.join(node.config.dataDir, 'demo', 'origin.git'), 'the origin is under the data directory');
  t.equal(await git(demo.origin, 'rev-parse', '--is-bare-repository'), 'true', 'a bare repository');
  t.match(text, /^spec-demo: the spec was not delivered: TIMED_OUT — the spec was not delivered within 0s$/m);
  t.match(text, /^spec-demo: see why, with a node started on this data directory \(npm start\): omoi spec show demo-\S+$/m);
  t.equal(demo.pushed, undefined);
});
