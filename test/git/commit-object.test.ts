import NodeGit from 'nodegit';
import t from 'tap';
import { commitObject, writeObjects, type CommitObject } from '../../src/git/commit-object.ts';
import { git, SourceRepo, tempDir } from './fixture.ts';

// Merge commits are hashed by Omoi (commit-object.ts) instead of by libgit2: the bytes must be
// exactly what libgit2's createCommit writes, or a merge re-run by another code path (or an
// older node) would give another sha.
t.test('commitObject gives the sha and bytes libgit2 createCommit gives', async (t) => {
  const source = SourceRepo.create(tempDir(t));
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const other = source.commit('second', { 'b.txt': 'b\n' });
  const repo = await NodeGit.Repository.open(source.dir);
  t.teardown(() => repo.cleanup());
  const tree = git(source.dir, 'rev-parse', `${other}^{tree}`);
  const cases: Array<[string, string, number, number, string]> = [
    ['Omoi', 'omoi@localhost', 1_700_000_000, 0, 'omoi: merge task B into join-D'],
    ['Zoë Ünïcode', 'z@example.com', 1_000, 0, 'multi\nline\nmessage\n'],
    ['West', 'w@example.com', 1_234_567, -330, 'offset west of UTC'],
    ['East', 'e@example.com', 42, 90, ''],
  ];
  for (const [name, email, time, offset, message] of cases) {
    const signature = NodeGit.Signature.create(name, email, time, offset);
    const ours = commitObject(tree, [base, other], signature, message);
    const theirs = await repo.createCommit(null, signature, signature, message, NodeGit.Oid.fromString(tree), [NodeGit.Oid.fromString(base), NodeGit.Oid.fromString(other)]);
    t.equal(ours.sha, theirs.tostrS(), `${name}: same sha as libgit2`);
  }

  // Written by writeObjects, the objects are readable by git and pass fsck.
  const chain: CommitObject[] = [];
  let parent = base;
  for (let i = 0; i < 20; i++) {
    const c = commitObject(tree, [parent, other], NodeGit.Signature.create('Omoi', 'omoi@localhost', 1_700_000_000, 0), `merge ${i}`);
    chain.push(c);
    parent = c.sha;
  }
  await writeObjects(repo, chain);
  t.equal(git(source.dir, 'rev-list', '--count', parent), '22', 'the whole chain is reachable');
  t.equal(git(source.dir, 'log', '-1', '--format=%P %s', parent), `${chain[18]!.sha} ${other} merge 19`);
  git(source.dir, 'fsck', '--strict', '--no-dangling', '--connectivity-only');
  t.pass('git fsck accepts the objects');
});
