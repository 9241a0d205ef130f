import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { addWorktree, ensureClone, importSandboxObjects } from '../../src/git/index.ts';
import { SandboxManager } from '../../src/sandbox/index.ts';
import { git, SourceRepo, tempDir } from '../git/fixture.ts';


async function setup(t: Test) {
  const root = tempDir(t, 'omoi-sandbox-');
  const source = SourceRepo.create(root, { 'README.md': 'base\n' });
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const next = source.commit('next', { 'README.md': 'next\n' });
  const clone = path.join(root, 'clone');
  await ensureClone(source.dir, clone);
  return { root, clone, base, next, sandboxes: path.join(root, 'sandboxes') };
}

const worktreePaths = (clone: string) =>
  git(clone, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9));
const branches = (repo: string) => git(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads', 'refs/tags').split('\n').filter(Boolean);

t.test('create checks out the task branch at the base in a repository of its own; remove deletes it', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const before = branches(s.clone);
  const sandbox = await manager.create(s.clone, 'ticket-1/task-a', 'omoi/ticket-1/task-a', s.base);
  t.same(sandbox, {
    id: 'ticket-1/task-a', dir: path.join(s.sandboxes, 'ticket-1%2Ftask-a'), branch: 'omoi/ticket-1/task-a', base: s.base, repoDir: s.clone,
    cloneGitDir: s.clone, // a bare clone
  });
  t.equal(readFileSync(path.join(sandbox.dir, 'README.md'), 'utf8'), 'base\n', 'files of the base are checked out');
  t.equal(git(sandbox.dir, 'rev-parse', '--abbrev-ref', 'HEAD'), 'omoi/ticket-1/task-a');
  t.equal(git(sandbox.dir, 'rev-parse', 'HEAD'), s.base);
  t.equal(git(sandbox.dir, 'rev-parse', '--absolute-git-dir'), path.join(sandbox.dir, '.git'), 'its git dir is its own');
  t.same(branches(sandbox.dir), ['refs/heads/omoi/ticket-1/task-a'], 'it has its branch and no other');
  t.same(branches(s.clone), before, 'the clone got no branch');
  t.notOk(worktreePaths(s.clone).includes(sandbox.dir), 'not a worktree of the clone');

  await manager.remove(sandbox);
  t.notOk(existsSync(sandbox.dir), 'files gone');
  await manager.remove(sandbox); // idempotent
});

t.test('branches, tags, config and hooks a task makes stay in its sandbox; its commits reach the clone only when imported', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const before = branches(s.clone);
  const configBefore = readFileSync(path.join(s.clone, 'config'), 'utf8');
  const a = await manager.create(s.clone, 'a', 'omoi/x/a', s.base);
  const b = await manager.create(s.clone, 'b', 'omoi/x/b', s.base);
  for (const sandbox of [a, b]) {
    // Two tasks do the same thing at once: each in its own namespace, neither trips on the other.
    git(sandbox.dir, 'checkout', '-q', '-b', 'feature');
    git(sandbox.dir, 'tag', 'v1');
    git(sandbox.dir, 'config', 'omoi.evil', 'yes');
    writeFileSync(path.join(sandbox.dir, '.git', 'hooks-post-commit'), '#!/bin/sh\necho pwned\n');
    writeFileSync(path.join(sandbox.dir, 'f.txt'), `${sandbox.id}\n`);
    git(sandbox.dir, 'add', '-A');
    git(sandbox.dir, '-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '-m', sandbox.id);
  }
  t.same(branches(s.clone), before, 'no branch or tag of a task reached the clone');
  t.equal(readFileSync(path.join(s.clone, 'config'), 'utf8'), configBefore, "the clone's config is untouched");
  const commit = git(a.dir, 'rev-parse', 'HEAD');
  t.throws(() => git(s.clone, 'cat-file', '-e', commit), 'the commit is in the sandbox only');
  t.ok(await importSandboxObjects(a.dir, a.cloneGitDir) >= 3, 'commit, tree and blob imported');
  t.equal(git(s.clone, 'show', `${commit}:f.txt`), 'a', 'the clone has the commit and its files now');
  t.equal(git(s.clone, 'fsck', '--no-dangling'), '', 'the clone is sound');
  t.equal(await importSandboxObjects(a.dir, a.cloneGitDir), 0, 'importing again copies nothing');
  // Recreating a sandbox at the same place (a retry) starts without the earlier attempt's refs.
  const again = await manager.create(s.clone, 'a', 'omoi/x/a', s.base);
  t.same(branches(again.dir), ['refs/heads/omoi/x/a'], "the earlier attempt's branch and tag are gone");
  git(again.dir, 'checkout', '-q', '-b', 'feature');
  t.pass('so the retry can make its branch again');
  await manager.remove(again);
  await manager.remove(b);
});

t.test('an object whose content does not hash to its name is refused; packs are verified by git', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const sandbox = await manager.create(s.clone, 'p', 'omoi/x/p', s.base);
  // A task plants an object under the name of content another task will write later.
  writeFileSync(path.join(s.root, 'later.txt'), 'later\n');
  writeFileSync(path.join(s.root, 'evil.txt'), 'evil\n');
  const innocent = git(s.clone, 'hash-object', path.join(s.root, 'later.txt'));
  const planted = path.join(sandbox.dir, '.git', 'objects', innocent.slice(0, 2), innocent.slice(2));
  mkdirSync(path.dirname(planted), { recursive: true });
  const evil = git(sandbox.dir, 'hash-object', '-w', path.join(s.root, 'evil.txt'));
  const evilFile = path.join(sandbox.dir, '.git', 'objects', evil.slice(0, 2), evil.slice(2));
  writeFileSync(planted, readFileSync(evilFile));
  await t.rejects(importSandboxObjects(sandbox.dir, sandbox.cloneGitDir), { code: 'bad_object' });
  t.throws(() => git(s.clone, 'cat-file', '-e', innocent), 'the planted object did not reach the clone');
  rmSync(planted);

  // A task that packed its objects: they arrive through git index-pack.
  writeFileSync(path.join(sandbox.dir, 'packed.txt'), 'packed\n');
  git(sandbox.dir, 'add', '-A');
  git(sandbox.dir, '-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '-m', 'packed');
  git(sandbox.dir, 'repack', '-d', '-l', '-q');
  git(sandbox.dir, 'prune-packed');
  const commit = git(sandbox.dir, 'rev-parse', 'HEAD');
  t.ok(readdirSync(path.join(sandbox.dir, '.git', 'objects', 'pack')).some((f) => f.endsWith('.pack')), 'the task has a pack');
  await importSandboxObjects(sandbox.dir, sandbox.cloneGitDir);
  t.equal(git(s.clone, 'show', `${commit}:packed.txt`), 'packed', 'the packed commit reached the clone');
  t.equal(git(s.clone, 'fsck', '--no-dangling'), '', 'the clone is sound');
  await manager.remove(sandbox);
});

t.test("objects arrive while a gc in the clone removes the fan-out directories it emptied", async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const sandbox = await manager.create(s.clone, 'gc', 'omoi/x/gc', s.base);
  for (let i = 0; i < 1500; i++) writeFileSync(path.join(sandbox.dir, `f${i}.txt`), `${i}\n`);
  git(sandbox.dir, 'add', '-A');
  git(sandbox.dir, '-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '-m', 'many');
  const commit = git(sandbox.dir, 'rev-parse', 'HEAD');
  // What `git prune-packed` does at the end of an automatic gc: remove every empty fan-out directory.
  const objects = path.join(s.clone, 'objects');
  let importing = true;
  let removed = 0;
  const gc = (async () => {
    const fanout = Array.from({ length: 256 }, (_, i) => path.join(objects, i.toString(16).padStart(2, '0')));
    while (importing) { // one pass after another, a directory at a time, as git does
      for (const d of fanout) await rmdir(d).then(() => removed++, () => undefined);
    }
  })();
  const imported = await importSandboxObjects(sandbox.dir, sandbox.cloneGitDir).finally(() => { importing = false; });
  await gc;
  t.ok(removed > 0, `the gc removed ${removed} empty fan-out directories meanwhile`);
  t.ok(imported >= 1502, 'every object arrived');
  t.equal(git(s.clone, 'show', `${commit}:f1499.txt`), "1499", 'the clone has the commit and its files');
  t.equal(git(s.clone, 'fsck', '--no-dangling'), '', 'the clone is sound');
  t.same(readdirSync(objects).flatMap((d) => /^[0-9a-f]{2}$/.test(d) ? readdirSync(path.join(objects, d)).filter((f) => f.startsWith('tmp_')) : []), [], 'no temporary file left');
  await manager.remove(sandbox);
});

t.test('creating a sandbox again (a retry after a crash) starts over from the base', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const first = await manager.create(s.clone, 't1', 'omoi/x/t1', s.next);
  writeFileSync(path.join(first.dir, 'half-done.txt'), 'crash left this\n');
  const second = await manager.create(s.clone, 't1', 'omoi/x/t1', s.base);
  t.equal(second.dir, first.dir);
  t.notOk(existsSync(path.join(second.dir, 'half-done.txt')), 'leftover files are gone');
  t.equal(git(second.dir, 'rev-parse', 'HEAD'), s.base, 'branch reset to the new base');
  await t.rejects(manager.create(s.clone, 't2', 'omoi/x/t2', 'no-such-base'), { code: 'sandbox_failed' });
  t.notOk(existsSync(manager.dirOf('t2')), 'a failed create leaves nothing');
  await manager.remove(second);
});

t.test('sweep removes every sandbox not kept (what a crash left behind), worktrees of an earlier version too', async (t) => {
  const s = await setup(t);
  const before = new SandboxManager(s.sandboxes);
  const kept = await before.create(s.clone, 'keep-me', 'omoi/x/keep', s.base);
  await before.create(s.clone, 'orphan-1', 'omoi/x/o1', s.base);
  await before.create(s.clone, 'orphan-2', 'omoi/x/o2', s.next);
  mkdirSync(path.join(s.sandboxes, 'half-made')); // a crash before the sandbox existed
  await addWorktree(s.clone, path.join(s.sandboxes, 'legacy'), s.base, { branch: 'omoi/x/legacy' }); // what an earlier version made

  const after = new SandboxManager(s.sandboxes); // a restarted node
  t.same(await after.sweep(new Set(['keep-me'])), ['half-made', 'legacy', 'orphan-1', 'orphan-2']);
  t.same(await import('node:fs/promises').then((fs) => fs.readdir(s.sandboxes)), ['keep-me']);
  t.same(worktreePaths(s.clone).filter((p) => p.startsWith(s.sandboxes)), [], 'the legacy worktree unregistered from git');
  t.same(await after.sweep(new Set(['keep-me'])), [], 'nothing left to sweep');
  t.same(await new SandboxManager(path.join(s.root, 'never-created')).sweep(new Set()), [], 'a missing root is empty');
  t.equal(git(kept.dir, 'rev-parse', 'HEAD'), s.base, 'the kept sandbox still works');
  await after.remove(kept);
});

t.test('a sandbox is a repository git itself understands: modes, symlinks, a clean status, the clone\'s history', async (t) => {
  const root = tempDir(t, 'omoi-sandbox-');
  const source = SourceRepo.create(root, { 'README.md': 'base\n', 'bin/run.sh': '#!/bin/sh\necho hi\n' });
  chmodSync(path.join(source.dir, 'bin/run.sh'), 0o755);
  symlinkSync('README.md', path.join(source.dir, 'link'));
  const base = source.commit('modes', {});
  t.match(git(source.dir, 'ls-tree', base, 'bin/run.sh'), /^100755 /, 'the fixture commits an executable');
  const clone = path.join(root, 'clone');
  await ensureClone(source.dir, clone);
  const manager = new SandboxManager(path.join(root, 'sandboxes'));
  const sandbox = await manager.create(clone, 'task-1', 'omoi/t/1', base);

  t.ok(statSync(path.join(sandbox.dir, 'bin/run.sh')).mode & 0o100, 'the executable bit is checked out');
  t.equal(readlinkSync(path.join(sandbox.dir, 'link')), 'README.md', 'a symlink stays a symlink');
  t.equal(git(sandbox.dir, 'status', '--porcelain'), '', 'git sees a clean checkout (index written)');
  t.equal(git(sandbox.dir, 'symbolic-ref', 'HEAD'), 'refs/heads/omoi/t/1');
  t.equal(git(sandbox.dir, 'log', '--format=%s'), 'modes\nbase', "the clone's history, through its objects");
  t.equal(git(sandbox.dir, 'count-objects'), '0 objects, 0 kilobytes', 'none copied: borrowed');
  writeFileSync(path.join(sandbox.dir, 'new.txt'), 'x\n');
  git(sandbox.dir, 'add', '-A');
  git(sandbox.dir, 'commit', '-q', '-m', 'by the task');
  t.throws(() => git(clone, 'rev-parse', '--verify', '-q', 'refs/heads/omoi/t/1'), 'the clone has no such branch until the executor sets it');
  t.equal(git(sandbox.dir, 'fsck', '--no-dangling'), '', 'the sandbox is sound');
  await manager.remove(sandbox);
  t.notOk(existsSync(sandbox.dir));
});

t.test('two sandboxes on one branch are independent (a retry while the earlier attempt still runs); bad input is refused', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const first = await manager.create(s.clone, 'a', 'omoi/x/shared', s.base);
  const second = await manager.create(s.clone, 'b', 'omoi/x/shared', s.next);
  t.equal(git(first.dir, 'rev-parse', 'HEAD'), s.base);
  t.equal(git(second.dir, 'rev-parse', 'HEAD'), s.next);
  await t.rejects(manager.create(s.clone, 'c', 'bad..name', s.base), { code: 'sandbox_failed', message: /not a valid branch name/ });
  t.notOk(existsSync(manager.dirOf('c')), 'a refused sandbox leaves nothing');
  await t.rejects(manager.create(path.join(s.root, 'no-clone'), 'd', 'omoi/x/d', s.base), { code: 'not_a_repository' });
  t.notOk(existsSync(manager.dirOf('d')));
  await manager.remove(first);
  await manager.remove(second);
});

t.test('many sandboxes of one repository created and removed concurrently', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const ids = Array.from({ length: 24 }, (_, i) => `task-${i}`);
  const made = await Promise.all(ids.map((id, i) => manager.create(s.clone, id, `omoi/c/${id}`, i % 2 ? s.next : s.base)));
  for (const [i, sandbox] of made.entries()) {
    t.equal(readFileSync(path.join(sandbox.dir, 'README.md'), 'utf8'), i % 2 ? 'next\n' : 'base\n', `${sandbox.id} has its base's files`);
  }
  await Promise.all(made.map((sandbox) => manager.remove(sandbox)));
  t.same(readdirSync(s.sandboxes), [], 'all gone');
});
