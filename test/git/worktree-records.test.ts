// Worktree records (`<repo>/worktrees/<name>/`) are written and removed while git commands run
// in the same repository: a node's shared clone takes merge sandboxes and commit transfers
// (`git bundle unbundle`) at once. git reads every record (its `commondir`, `gitdir`) and dies
// on one half written or just removed ("failed to read …/commondir", "Invalid path"): such a
// run is made again (runGitCli), so no command fails of it. Real repositories and the git CLI.
import path from 'node:path';
import t from 'tap';
import { addWorktree, removeWorktreeDir } from '../../src/git/index.ts';
import { runGitCli } from '../../src/git/git-cli.ts';
import { git, SourceRepo, tempDir } from './fixture.ts';

t.test('git commands run while worktree records come and go never fail of it', async (t) => {
  const root = tempDir(t, 'omoi-wt-records-');
  const source = SourceRepo.create(root);
  const base = git(source.dir, 'rev-parse', 'HEAD');
  // A bundle of a later commit, unbundled again and again as commit transfers do.
  const later = source.commit('later', { 'later.txt': 'x\n' });
  const bundle = path.join(root, 'later.bundle');
  void later;
  git(source.dir, 'bundle', 'create', bundle, `${base}..main`);

  let churning = true;
  const failures: string[] = [];
  const churn = (async () => {
    const until = Date.now() + 8_000;
    for (let i = 0; Date.now() < until; i++) {
      const records = await Promise.all([0, 1, 2].map((k) => addWorktree(source.dir, path.join(root, 'sandboxes', `merge-${k}-${i}`), base, { checkout: false })));
      await Promise.all(records.map((r) => removeWorktreeDir(r.dir, r)));
    }
  })();
  const readers = [
    ['bundle', 'unbundle', bundle],
    ['worktree', 'list', '--porcelain'],
  ].map(async (args) => {
    let runs = 0;
    while (churning) {
      runs++;
      const r = await runGitCli(args, source.dir);
      if (r.code !== 0) failures.push(`git ${args[0]}: ${r.stderr.trim()}`);
    }
    return runs;
  });
  await churn;
  churning = false;
  const runs = await Promise.all(readers);
  t.ok(runs.every((n) => n > 5), `git ran many times meanwhile (${runs.join(', ')})`);
  t.same(failures.slice(0, 5), [], 'no git command failed on a worktree record');
  t.equal(git(source.dir, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length, 1, 'every record is gone afterwards');
});
