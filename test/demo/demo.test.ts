import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { git, tempDir } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { spawnOmoi } from '../cli/run-omoi.ts';
import { events, sql, taskRows, waitTicket } from '../flow/helpers.ts';
import { CONFLICT_LINE, demoTicketId, ensureSampleRepo, runDemo } from '../../src/demo/index.ts';

const cluster = await withCluster(t);

/** Parents of a commit in Omoi's clone of the ticket's repository. */
async function parents(clone: string, commit: string): Promise<string[]> {
  return (await git(clone, 'rev-list', '--parents', '-n', '1', commit)).split(' ').slice(1);
}

t.test('the demo ticket completes: split, claims, joins, real merges, a conflict resolved by the resolver', async (t) => {
  const node = await withNode(t, cluster);
  const out: string[] = [];
  const demo = await runDemo(node, { write: (line) => out.push(line) });
  const text = out.join('\n');
  if (!t.equal(demo.status, 'completed', 'the demo ticket completed')) t.comment(text);
  t.match(demo.ticketId, /^demo-\d{8}-\d{6}-\d{3}$/, 'a fresh, readable ticket id');
  t.equal(demo.sampleRepo, path.join(node.config.dataDir, 'demo', 'sample-repo'), 'the sample repository is in the data directory');
  t.equal(demo.clone, path.join(node.config.dataDir, 'repos', demo.ticketId));
  const branch = `omoi/${demo.ticketId}`;
  t.equal(await git(demo.clone, 'rev-parse', branch), demo.head, 'the ticket branch is at the final head');

  // The sample repository: one commit on main, config.py with 60+ lines, src/, a README.
  t.equal(await git(demo.sampleRepo, 'rev-list', '--count', 'main'), '1');
  const config = (await git(demo.sampleRepo, 'show', 'main:config.py')).split('\n');
  t.ok(config.length >= 60, 'config.py has 60+ lines');
  t.same((await git(demo.sampleRepo, 'ls-tree', '--name-only', 'main')).split('\n').sort(), ['.gitignore', 'README.md', 'config.py', 'src']);

  // The ticket branch holds every task's change.
  const files = (await git(demo.clone, 'ls-tree', '-r', '--name-only', branch)).split('\n');
  for (const [task, file] of [['A', 'pyproject.toml'], ['B', 'src/x/export.py'], ['C', 'src/y/search.py'], ['H', 'src/x/test_export.py'], ['D', 'src/app.py'], ['E', 'notes/export.md'], ['F', 'notes/search.md'], ['G', 'notes/config-check.md']]) {
    t.ok(files.includes(file!), `${task}'s change (${file}) is on the ticket branch`);
  }
  const merged = (await git(demo.clone, 'show', `${branch}:config.py`)).split('\n');
  t.equal(merged[CONFLICT_LINE - 1], 'ENABLED_FEATURES = ["core", "export", "search"]', "line 50 keeps both E's and F's change");
  t.notOk(merged.some((l) => /^(<<<<<<<|=======|>>>>>>>)/.test(l)), 'no conflict marker left');

  // D and G ran on real merge commits of their joins (one merge commit per source, two parents each).
  const tasks = await taskRows(node, demo.ticketId);
  const joins = Object.fromEntries((await sql<any>(node, 'select * from omoi_join where ticket_id = ?', [demo.ticketId])).map((j) => [j.id, j]));
  for (const [task, join, sources] of [['D', 'join-D', 3], ['G', 'join-G', 2]] as const) {
    t.same(await parents(demo.clone, tasks[task].commit), [tasks[task].base_commit], `${task}'s commit sits on its base`);
    t.equal(tasks[task].base_commit, joins[join].merge_commit, `${task}'s base is the merge commit of ${join}`);
    let commit = joins[join].merge_commit as string;
    for (let i = 0; i < sources; i++) {
      const ps = await parents(demo.clone, commit);
      t.equal(ps.length, 2, `${join}: merge commit ${i + 1} of ${sources} is a real merge (two parents)`);
      commit = ps[0]!;
    }
    // The first merge starts where the sources forked (their merge base), unless that is one of them.
    const sourceCommits = (joins[join].sources as string[]).map((s) => tasks[s].commit as string);
    const fork = await git(demo.clone, 'merge-base', '--octopus', ...sourceCommits);
    const expected = sourceCommits.includes(fork) ? await git(demo.sampleRepo, 'rev-parse', 'main') : fork;
    t.equal(commit, expected, `${join}'s merges start from its sources' fork point`);
  }
  t.equal((await parents(demo.clone, demo.head!)).length, 2, 'the final head merges the two sinks D and G');

  // The conflict: E and F both changed config.py; the resolver command kept both.
  const [attempt] = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = ? and join_id = 'join-G'`, [demo.ticketId]);
  t.ok(attempt.ok, 'the merge of join-G succeeded');
  t.same(attempt.merge_order, ['E', 'F']);
  t.same(attempt.conflicts, { E: [], F: ['config.py'] }, 'F conflicted on config.py');
  t.same(attempt.resolutions, [{ file: 'config.py', source: 'F', by: 'resolver' }], 'resolved by the resolver command');
  t.match(attempt.resolver_output, /resolve-features: config\.py:50: kept both sides/, 'the resolver output is recorded');
  const warnings = await events(node, demo.ticketId, 'task.ownership_violation');
  t.same(warnings.map((e) => [e.payload.task_id, e.payload.files, e.payload.mode]).sort(), [['E', ['config.py'], 'lenient'], ['F', ['config.py'], 'lenient']], 'lenient: E and F were warned, not failed');
  for (const id of ['E', 'F']) t.notOk(JSON.stringify(tasks[id].result ?? {}).includes('ownership_warnings'), `${id}'s own result is kept as the task wrote it`);
  const waiting = (await events(node, demo.ticketId, 'ownership.status')).filter((e) => e.payload.status === 'waiting');
  t.same(waiting.map((e) => [e.payload.task_id, e.payload.blocked_by]), [['H', ['B']]], 'H waited for B\'s claim on src/x/**');
  t.same(tasks.D.context?.merged && Object.keys(tasks.D.context.merged).sort(), ['B', 'C', 'H'], 'D got the synthesized results of its sources');

  // What a person sees: one line per step with the elapsed time, then the history and hints.
  t.match(text, /^demo: sample repository .*sample-repo \(main at [0-9a-f]{7}\)$/m);
  for (const [what, pattern] of [
    ['ticket created', /^\[ +\d+\.\ds\] ticket demo-\S+ created: tasks A, B, C, H, D, E, F, G; joins join-D, join-G$/m],
    ['claim granted', /^\[ +\d+\.\ds\] claim granted: B owns src\/x\/\*\*$/m],
    ['claim waiting', /^\[ +\d+\.\ds\] claim waiting: H wants src\/x\/\*\*, held by B$/m],
    ['task ready', /^\[ +\d+\.\ds\] task A \(setup: project metadata and requirements\) ready on [0-9a-f]{7}$/m],
    ['task running', /^\[ +\d+\.\ds\] task B running on agent local-\S+ \(attempt 1\)$/m],
    ['task completed', /^\[ +\d+\.\ds\] task C completed: commit [0-9a-f]{7} on omoi-task\/demo-\S+\/C$/m],
    ['ownership warning', /^\[ +\d+\.\ds\] ownership warning: E changed config\.py outside its claims \(lenient ticket: allowed\)$/m],
    ['join registered', /^\[ +\d+\.\ds\] join join-D registered: D will run on the merge of B, C, H$/m],
    ['join collecting', /^\[ +\d+\.\ds\] join join-D collecting: 1\/3 sources done \(\w\) for D$/m],
    ['join synthesized', /^\[ +\d+\.\ds\] join join-G synthesized the results of E, F \(combine\)$/m],
    ['merge without conflict', /^\[ +\d+\.\ds\] merge join-D: order [BCH] → [BCH] → [BCH]; no conflicts; merge commit [0-9a-f]{7}$/m],
    ['merge with resolver', /^\[ +\d+\.\ds\] merge join-G: order E → F; conflicts F: config\.py; merge commit [0-9a-f]{7}; resolved config\.py \(merging F\) by resolver$/m],
    ['join merged', /^\[ +\d+\.\ds\] join join-G merged: G will run on merge commit [0-9a-f]{7}$/m],
    ['ticket completed', /^\[ +\d+\.\ds\] ticket completed: branch omoi\/demo-\S+ at [0-9a-f]{7}$/m],
    ['graph', /^demo: history of the ticket branch \(git -C \S+ log --graph --oneline omoi\/demo-\S+\):\n {2}\* +[0-9a-f]{7,} /m],
    ['graph merge lines', /^ {2}\|\\ *$/m],
    ['dashboard', /^ {2}dashboard +http:\/\/127\.0\.0\.1:\d+\/#token=test-token&ticket=demo-\S+$/m],
    ['omoi sub', /^ {2}events +omoi sub 'omoi\.evt\.>' --pretty$/m],
    ['join merge commit', /^ {2}join-G merge +git -C \S+ show --stat [0-9a-f]{12} +\(merges E, F\)$/m],
  ] as const) t.match(text, pattern, `prints: ${what}`);
  t.notMatch(text, /FAILED|BLOCKED|did not complete/, 'nothing went wrong');
});

t.test('the sample repository is reused as it is; each run has a new ticket id', async (t) => {
  const dir = path.join(await tempDir(t, 'demo-repo'), 'sample-repo');
  const first = await ensureSampleRepo(dir);
  const again = await ensureSampleRepo(dir);
  t.equal(again.commit, first.commit, 'the same repository, not recreated');
  const elsewhere = await ensureSampleRepo(path.join(await tempDir(t, 'demo-repo2'), 'sample-repo'));
  t.equal(elsewhere.commit, first.commit, 'the sample commit is the same everywhere (fixed author and date)');
  t.not(demoTicketId(new Date('2024-01-01T00:00:00.000Z')), demoTicketId(new Date('2024-01-01T00:00:00.001Z')));
  t.equal(demoTicketId(new Date('2024-05-06T07:08:09.010Z')), 'demo-20240506-070809-010');
});

t.test('a demo that fails says so with the reason and where the log is', async (t) => {
  const node = await withNode(t, cluster);
  // A sample repository whose line 50 is not what E and F expect: their guard fails, for good.
  const dir = path.join(await tempDir(t, 'demo-broken'), 'sample-repo');
  await ensureSampleRepo(dir);
  const config = (await readFile(path.join(dir, 'config.py'), 'utf8')).split('\n');
  config[CONFLICT_LINE - 1] = 'ENABLED_FEATURES = []';
  await writeFile(path.join(dir, 'config.py'), config.join('\n'));
  await git(dir, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '--quiet', '-am', 'no features');
  const out: string[] = [];
  const demo = await runDemo(node, { write: (line) => out.push(line), sampleRepoDir: dir });
  const text = out.join('\n');
  if (!t.equal(demo.status, 'failed', 'the demo reports the failure')) t.comment(text);
  t.match(demo.reason, /^task_failed:[EF]$/);
  t.match(text, /^\[ +\d+\.\ds\] task [EF] FAILED: task_failed: exited with code 1 config\.py line 50 is not /m, 'the failing task is named with its error');
  t.match(text, /^demo: the demo ticket did not complete: FAILED — task_failed:[EF]$/m, 'a clear verdict');
  t.match(text, /^demo: task [EF]: task_failed: exited with code 1$/m, 'each failed task with its reason');
  t.match(text, /^demo: task G: source_failed:[EF]$/m, 'and what it blocked');
  t.match(text, /^demo:   its log: \S+\/logs\/demo-\S+\/[EF]-3\/$/m, 'where to read the failed attempt\'s log');
  t.match(text, /^demo: {3}\| config\.py line 50 is not ENABLED_FEATURES = \["core"\] as in the sample project; not editing it$/m, 'and the end of that log');
  t.match(text, /^ {2}dashboard +http:\/\/127\.0\.0\.1:\d+\/#token=test-token&ticket=demo-/m, 'and where to look');
});

t.test('a merge the resolver cannot resolve: the demo reports the block and how to resolve it by hand', async (t) => {
  const node = await withNode(t, cluster);
  const out: string[] = [];
  const demo = await runDemo(node, { write: (line) => out.push(line), resolverCommand: 'echo "this resolver gives up"; exit 3' });
  const text = out.join('\n');
  if (!t.equal(demo.status, 'blocked', 'the demo reports the block')) t.comment(text);
  t.equal(demo.reason, 'task G blocked: merge_conflict');
  t.match(text, /^\[ +\d+\.\ds\] merge join-G: order E → F; conflicts F: config\.py; FAILED, unresolved config\.py$/m, 'the failed merge attempt');
  t.match(text, /^\[ +\d+\.\ds\] task G BLOCKED: merge_conflict \(files config\.py\)$/m, 'the blocked continuation');
  t.match(text, /^demo: the demo ticket did not complete: BLOCKED — task G blocked: merge_conflict$/m);
  t.match(text, /^demo: merge of join-G left config\.py unresolved; resolver said: .*this resolver gives up.*resolver exited with 3$/m, 'what the resolver said');
  const hint = /^demo: {3}omoi pub omoi\.in\.merge\.resolve '(.*)'$/m.exec(text);
  t.ok(hint, 'the merge.resolve command to send');

  // Do what the tutorial says: merge the task branches in a clone, fix line 50, push the
  // resolution to the sample repository and send merge.resolve naming it.
  const work = await tempDir(t, 'demo-resolve');
  const g = (...args: string[]) => git(work, '-c', 'user.name=Person', '-c', 'user.email=p@example.com', ...args);
  await g('clone', '--quiet', demo.sampleRepo, '.');
  await g('fetch', '--quiet', demo.clone, `refs/heads/omoi-task/${demo.ticketId}/*:refs/remotes/omoi/*`);
  await g('merge', '--quiet', '--no-ff', '--no-edit', 'omoi/E');
  await t.rejects(g('merge', '--quiet', '--no-edit', 'omoi/F'), 'F conflicts with E, as in join-G');
  const config = (await readFile(path.join(work, 'config.py'), 'utf8')).split('\n');
  const start = config.findIndex((l) => l.startsWith('<<<<<<<'));
  const end = config.findIndex((l) => l.startsWith('>>>>>>>'));
  config.splice(start, end - start + 1, 'ENABLED_FEATURES = ["core", "export", "search"]');
  await writeFile(path.join(work, 'config.py'), config.join('\n'));
  await g('commit', '--quiet', '-am', 'resolve config.py: keep export and search');
  await g('push', '--quiet', 'origin', 'HEAD:refs/heads/resolution');
  const commit = await g('rev-parse', 'HEAD');
  const payload = JSON.parse(hint![1]!.replace('<sha>', commit));
  await node.submit('merge.resolve', payload);
  await waitTicket(node, demo.ticketId, 'completed');
  const tasks = await taskRows(node, demo.ticketId);
  t.equal(tasks.G.base_commit, commit, 'G resumed on the supplied resolution');
  t.equal(tasks.G.status, 'completed');
});

t.test('a demo that does not end in time says so and stops waiting', async (t) => {
  const node = await withNode(t, cluster);
  const out: string[] = [];
  // One millisecond: no ticket of eight tasks ends that fast; the bound is what is tested.
  const demo = await runDemo(node, { write: (line) => out.push(line), timeoutMs: 1 });
  const text = out.join('\n');
  if (!t.equal(demo.status, 'timed_out', 'the demo reports the time-out')) t.comment(text);
  t.match(text, /^demo: the demo ticket did not complete: TIMED_OUT — the ticket did not end within 0s$/m);
  t.match(text, /^demo: the node may still finish it/m);
});

t.test('npm start path: `omoi start --demo` runs the demo, then keeps the node running until SIGTERM', async (t) => {
  const dataDir = await tempDir(t, 'demo-start');
  const node = spawnOmoi(t, ['start', '--demo'], {
    DATABASE_URL: cluster.databaseUrl, NATS_URL: cluster.nats.url, OMOI_DATA_DIR: dataDir, OMOI_HTTP_PORT: '0',
    OMOI_PARTITIONS: '4', OMOI_NODE_ID: 'demo-node', OMOI_LOG_LEVEL: 'warn', OMOI_HEARTBEAT_MS: '500', OMOI_SHUTDOWN_GRACE_MS: '5000',
  });
  await node.line(/^omoi: node demo-node started/, 'the start line');
  await node.line(/^demo: ticket demo-\S+ completed in/, 'the demo completing');
  await node.line(/^demo: the node keeps running; stop it with Ctrl-C\.$/, 'the last demo line');
  const stdout = node.stdout();
  t.match(stdout, /^\[ +\d+\.\ds\] merge join-G: order E → F; conflicts F: config\.py; .*resolved config\.py \(merging F\) by resolver$/m, 'progress from the event stream');
  t.match(stdout, /^ {2}\*.*\n {2}\|\\/m, 'the graph of the ticket branch');
  t.match(stdout, /dashboard +http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]+&ticket=demo-/, 'the dashboard URL with the generated token');
  t.equal(node.child.exitCode, null, 'the node is still running after the demo');
  node.child.kill('SIGTERM');
  t.same(await node.exited, { code: 0, signal: null }, 'and stops cleanly on SIGTERM');
});
