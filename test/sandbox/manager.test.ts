import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
