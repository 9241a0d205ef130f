import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import t from 'tap';
import { CommitStore } from '../../src/git/commit-store.ts';
import { prepareTicketClone, ticketRepoDir } from '../../src/git/index.ts';
import { GIT_BUCKET, openGitBucket } from '../../src/messaging/git-bucket.ts';
import { withNats, type TestContext } from '../harness/index.ts';
import { git, SourceRepo, tempDir } from './fixture.ts';

/** A commit on `parents` in the clone `repoDir` (through a throw-away worktree). */
function commitIn(repoDir: string, parents: string[], files: Record<string, string>, message: string): string {
  const wt = `${repoDir}-wt-${Math.random().toString(36).slice(2)}`;
  git(repoDir, 'worktree', 'add', '-q', '--detach', wt, parents[0]!);
  try {
    if (parents.length > 1) git(wt, 'merge', '-q', '--no-ff', '--no-edit', ...parents.slice(1));
    for (const [f, c] of Object.entries(files)) writeFileSync(path.join(wt, f), c);
    git(wt, 'add', '-A');
    git(wt, 'commit', '-q', '--allow-empty', ...(parents.length > 1 ? ['--amend'] : []), '-m', message);
    return git(wt, 'rev-parse', 'HEAD');
  } finally {
    git(repoDir, 'worktree', 'remove', '--force', wt);
  }
}

/** A nats-server of this test, a client, and the git bucket on it. */
async function withBucket(t: TestContext) {
  const nats = await withNats(t);
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  return { nats, js, bucket: await openGitBucket(js) };
}

t.test('commits saved on one node are rebuilt on a node that never saw the ticket', async (t) => {
  const { bucket } = await withBucket(t);
  const root = tempDir(t);
  const source = SourceRepo.create(root, { 'a.txt': 'a\n', 'b.txt': 'b\n' });
  const base = git(source.dir, 'rev-parse', 'HEAD');

  const dataA = path.join(root, 'a');
  const a = new CommitStore({ dataDir: dataA, bucket });
  await prepareTicketClone(dataA, 'T1', source.dir);
  const repoA = ticketRepoDir(dataA, 'T1');
  const left = commitIn(repoA, [base], { 'a.txt': 'A\n' }, 'left');
  const right = commitIn(repoA, [base], { 'b.txt': 'B\n' }, 'right');
  const merge = commitIn(repoA, [left, right], { 'c.txt': 'merged\n' }, 'merge');
  const savedLeft = await a.save('T1', left, [base]);
  t.ok(savedLeft.uploaded && savedLeft.bytes > 0, 'a task commit is stored as a bundle');
  t.equal(savedLeft.name, `T1/${left}`);
  await a.save('T1', right, [base]);
  const savedMerge = await a.save('T1', merge, [left, right, base]);
  t.ok(savedMerge.uploaded, 'a merge commit is stored');
  t.notOk((await a.save('T1', merge, [left, right, base])).uploaded, 'saving again uploads nothing');
  t.notOk((await a.save('T1', base, [base])).uploaded, 'a commit that adds nothing needs no object');

  // Node B: no clone, no link; three callers at once, as tasks and a merge would be.
  const dataB = path.join(root, 'b');
  const b = new CommitStore({ dataDir: dataB, bucket });
  await Promise.all([b.ensure('T1', source.dir, [merge]), b.ensure('T1', source.dir, [left]), b.ensure('T1', source.dir, [merge, right])]);
  const repoB = ticketRepoDir(dataB, 'T1');
  t.equal(git(repoB, 'rev-parse', `${merge}^{tree}`), git(repoA, 'rev-parse', `${merge}^{tree}`), 'the merge commit arrived whole');
  t.equal(git(repoB, 'rev-list', '--count', merge), '4', 'with its history: base, left, right, merge');
  t.equal(git(repoB, 'show', `${merge}:c.txt`), 'merged');
  t.equal(git(repoB, 'fsck', '--connectivity-only', '--no-dangling'), '', 'the clone is consistent');
  await b.ensure('T1', source.dir, [merge]); // present: a no-op
});

t.test('a commit in neither the store nor the repository is refused with a clear error', async (t) => {
  const { bucket } = await withBucket(t);
  const root = tempDir(t);
  const source = SourceRepo.create(root);
  const store = new CommitStore({ dataDir: path.join(root, 'n'), bucket });
  await t.rejects(store.ensure('T1', source.dir, ['0123456789abcdef0123456789abcdef01234567']), { code: 'commit_unavailable', message: /neither in the object store nor in/ });

  // The ticket's base comes from the repository itself (never stored).
  const later = source.commit('pushed later', { 'x.txt': 'x\n' });
  await store.ensure('T1', source.dir, [later]);
  t.equal(git(ticketRepoDir(path.join(root, 'n'), 'T1'), 'cat-file', '-t', later), 'commit', 'fetched from the repository');
});

t.test('fetching a commit waits out NATS being away (an election after a server died) instead of failing the attempt', async (t) => {
  const { nats, bucket } = await withBucket(t);
  const root = tempDir(t);
  const source = SourceRepo.create(root, { 'a.txt': 'a\n' });
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const dataA = path.join(root, 'a');
  await prepareTicketClone(dataA, 'T1', source.dir);
  const made = commitIn(ticketRepoDir(dataA, 'T1'), [base], { 'a.txt': 'A\n' }, 'made on node A');
  await new CommitStore({ dataDir: dataA, bucket }).save('T1', made, [base]);

  await nats.stop();
  const b = new CommitStore({ dataDir: path.join(root, 'b'), bucket });
  await t.rejects(b.ensure('T1', source.dir, [made]), 'without retrying, NATS away fails at once');
  const retries: number[] = [];
  const fetched = b.ensureRetrying('T1', source.dir, [made], { onRetry: (_err, ms) => retries.push(ms) });
  await new Promise((r) => setTimeout(r, 1_500));
  await nats.restart();
  await fetched;
  t.equal(git(ticketRepoDir(path.join(root, 'b'), 'T1'), 'cat-file', '-t', made), 'commit', 'the commit arrived once NATS was back');
  t.ok(retries.length >= 1, `it retried (${retries.length} times) rather than failing`);

  // Patience has an end: a store that stays away fails the fetch, with the last error.
  await nats.stop();
  const c = new CommitStore({ dataDir: path.join(root, 'c'), bucket });
  const started = Date.now();
  await t.rejects(c.ensureRetrying('T1', source.dir, [made], { patienceMs: 1_000 }));
  t.ok(Date.now() - started < 10_000, 'gives up after its patience');
  // A commit that is nowhere is refused at once, not retried.
  await nats.restart();
  await new CommitStore({ dataDir: path.join(root, 'c'), bucket }).ensureRetrying('T1', source.dir, [made]); // the client is back
  const d = new CommitStore({ dataDir: path.join(root, 'd'), bucket });
  await t.rejects(d.ensureRetrying('T1', source.dir, ['0123456789abcdef0123456789abcdef01234567'], { onRetry: () => t.fail('a missing commit is not retried') }), { code: 'commit_unavailable' });
});

t.test('a damaged or wrong object in the store is refused, and nothing of it is used', async (t) => {
  const { js, bucket } = await withBucket(t);
  const raw = await new Objm(js).open(GIT_BUCKET);
  const root = tempDir(t);
  const source = SourceRepo.create(root);
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const store = new CommitStore({ dataDir: path.join(root, 'n'), bucket });

  const garbage = 'a'.repeat(40);
  await raw.putBlob({ name: `T1/${garbage}` }, new TextEncoder().encode('not a bundle at all'));
  await t.rejects(store.ensure('T1', source.dir, [garbage]), { code: 'bad_bundle' });

  // A real bundle stored under another commit's name.
  const dataA = path.join(root, 'a');
  await prepareTicketClone(dataA, 'T1', source.dir);
  const c = commitIn(ticketRepoDir(dataA, 'T1'), [base], { 'README.md': 'changed\n' }, 'c');
  await new CommitStore({ dataDir: dataA, bucket }).save('T1', c, [base]);
  const bytes = await raw.getBlob(`T1/${c}`);
  const other = 'b'.repeat(40);
  await raw.putBlob({ name: `T1/${other}`, metadata: { requires: base } }, bytes);
  await t.rejects(store.ensure('T1', source.dir, [other]), { code: 'commit_unavailable', message: /does not contain that commit/ });
});

t.test('the bucket is created with the replicas asked for, and opening it again is harmless', async (t) => {
  const { js } = await withBucket(t);
  await openGitBucket(js, 1); // opening it again is harmless
  const status = await (await new Objm(js).open(GIT_BUCKET)).status();
  t.equal(status.replicas, 1);
  t.equal(status.storage, 'file');
});
