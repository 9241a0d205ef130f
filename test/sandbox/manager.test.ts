import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ensureClone } from '../../src/git/index.ts';
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

t.test('create checks out the task branch at the base; remove deletes the sandbox, keeps the branch', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const sandbox = await manager.create(s.clone, 'ticket-1/task-a', 'omoi/ticket-1/task-a', s.base);
  t.same(sandbox, { id: 'ticket-1/task-a', dir: path.join(s.sandboxes, 'ticket-1%2Ftask-a'), branch: 'omoi/ticket-1/task-a', base: s.base, repoDir: s.clone });
  t.equal(readFileSync(path.join(sandbox.dir, 'README.md'), 'utf8'), 'base\n', 'files of the base are checked out');
  t.equal(git(sandbox.dir, 'rev-parse', '--abbrev-ref', 'HEAD'), 'omoi/ticket-1/task-a');
  t.equal(git(sandbox.dir, 'rev-parse', 'HEAD'), s.base);
  t.ok(worktreePaths(s.clone).includes(sandbox.dir), 'registered as a worktree');

  await manager.remove(sandbox);
  t.notOk(existsSync(sandbox.dir), 'files gone');
  t.notOk(worktreePaths(s.clone).includes(sandbox.dir), 'worktree record gone');
  t.equal(git(s.clone, 'rev-parse', 'omoi/ticket-1/task-a'), s.base, 'branch kept');
  await manager.remove(sandbox); // idempotent
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
  await t.rejects(manager.create(s.clone, 't2', 'omoi/x/t2', 'no-such-base'), { code: 'worktree_failed' });
  t.notOk(existsSync(manager.dirOf('t2')), 'a failed create leaves nothing');
  await manager.remove(second);
});

t.test('sweep removes every sandbox not kept (what a crash left behind)', async (t) => {
  const s = await setup(t);
  const before = new SandboxManager(s.sandboxes);
  const kept = await before.create(s.clone, 'keep-me', 'omoi/x/keep', s.base);
  await before.create(s.clone, 'orphan-1', 'omoi/x/o1', s.base);
  await before.create(s.clone, 'orphan-2', 'omoi/x/o2', s.next);
  mkdirSync(path.join(s.sandboxes, 'half-made')); // a crash before the worktree existed

  const after = new SandboxManager(s.sandboxes); // a restarted node
  t.same(await after.sweep(new Set(['keep-me'])), ['half-made', 'orphan-1', 'orphan-2']);
  t.same(await import('node:fs/promises').then((fs) => fs.readdir(s.sandboxes)), ['keep-me']);
  t.same(worktreePaths(s.clone).filter((p) => p.startsWith(s.sandboxes)), [kept.dir], 'orphans unregistered from git');
  t.same(await after.sweep(new Set(['keep-me'])), [], 'nothing left to sweep');
  t.same(await new SandboxManager(path.join(s.root, 'never-created')).sweep(new Set()), [], 'a missing root is empty');
  await after.remove(kept);
});

t.test('a sandbox is a worktree git itself understands: modes, symlinks, a clean status, prune keeps it', async (t) => {
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
  git(clone, 'worktree', 'prune');
  t.ok(worktreePaths(clone).includes(sandbox.dir), 'git worktree prune keeps a live sandbox');
  writeFileSync(path.join(sandbox.dir, 'new.txt'), 'x\n');
  git(sandbox.dir, 'add', '-A');
  git(sandbox.dir, 'commit', '-q', '-m', 'by the task');
  t.equal(git(clone, 'log', '-1', '--format=%s', 'omoi/t/1'), 'by the task', 'commits in the sandbox land on the task branch');
  await manager.remove(sandbox);
  t.same(readdirSync(path.join(clone, 'worktrees')), [], 'no worktree record is left');
});

t.test('a branch checked out in a live sandbox is refused; once that sandbox is gone (even by a crash) it is free', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const first = await manager.create(s.clone, 'a', 'omoi/x/shared', s.base);
  await t.rejects(manager.create(s.clone, 'b', 'omoi/x/shared', s.next), { code: 'worktree_failed', message: /already checked out/ });
  t.notOk(existsSync(manager.dirOf('b')), 'the refused sandbox leaves nothing');
  t.equal(git(s.clone, 'rev-parse', 'omoi/x/shared'), s.base, 'and did not move the branch');

  rmSync(first.dir, { recursive: true, force: true }); // a crash: files gone, record left
  const second = await manager.create(s.clone, 'b', 'omoi/x/shared', s.next);
  t.equal(git(second.dir, 'rev-parse', 'HEAD'), s.next);
  t.same(worktreePaths(s.clone).filter((p) => p.startsWith(s.sandboxes)), [second.dir], 'the stale record was dropped');
  await t.rejects(manager.create(s.clone, 'c', 'bad..name', s.base), { code: 'worktree_failed', message: /not a valid branch name/ });
  await manager.remove(second);
});

t.test('sandboxes of one repository with the same directory name in different roots do not share a record', async (t) => {
  const s = await setup(t);
  const one = new SandboxManager(path.join(s.root, 'one'));
  const two = new SandboxManager(path.join(s.root, 'two'));
  const a = await one.create(s.clone, 'same', 'omoi/x/a', s.base);
  const b = await two.create(s.clone, 'same', 'omoi/x/b', s.next);
  t.equal(git(a.dir, 'rev-parse', 'HEAD'), s.base);
  t.equal(git(b.dir, 'rev-parse', 'HEAD'), s.next);
  await one.remove(a);
  t.equal(git(b.dir, 'rev-parse', '--abbrev-ref', 'HEAD'), 'omoi/x/b', 'removing one keeps the other working');
  t.same(worktreePaths(s.clone).filter((p) => p !== s.clone), [b.dir]);
  await two.remove(b);
});

t.test('many sandboxes of one repository created and removed concurrently', async (t) => {
  const s = await setup(t);
  const manager = new SandboxManager(s.sandboxes);
  const ids = Array.from({ length: 24 }, (_, i) => `task-${i}`);
  const made = await Promise.all(ids.map((id, i) => manager.create(s.clone, id, `omoi/c/${id}`, i % 2 ? s.next : s.base)));
  for (const [i, sandbox] of made.entries()) {
    t.equal(readFileSync(path.join(sandbox.dir, 'README.md'), 'utf8'), i % 2 ? 'next\n' : 'base\n', `${sandbox.id} has its base's files`);
  }
  t.equal(worktreePaths(s.clone).filter((p) => p.startsWith(s.sandboxes)).length, ids.length, 'one record each');
  await Promise.all(made.map((sandbox) => manager.remove(sandbox)));
  t.same(worktreePaths(s.clone).filter((p) => p.startsWith(s.sandboxes)), [], 'all records gone');
});
