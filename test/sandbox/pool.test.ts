import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ensureClone } from '../../src/git/index.ts';
import { SandboxManager, SandboxPool, type Sandbox } from '../../src/sandbox/index.ts';
import { git, SourceRepo, tempDir } from '../git/fixture.ts';

// The sandbox pool against real repositories and real processes: what a task leaves in a
// sandbox must be gone when the sandbox is handed to the next task (compared with what a
// fresh sandbox shows), and the pool's bookkeeping (no sharing, bounds, idle shrink, off).

async function setup(t: Test, files: Record<string, string> = { 'README.md': 'base\n', 'keep.txt': 'keep\n', 'other.txt': 'other\n', 'same.txt': 'same\n', '.gitignore': '*.log\nbuild/\n' }) {
  const root = tempDir(t, 'omoi-pool-');
  const source = SourceRepo.create(root, files);
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const next = source.commit('next', { 'README.md': 'next\n', 'src/a.txt': 'a\n' });
  const clone = path.join(root, 'clone');
  await ensureClone(source.dir, clone);
  const manager = new SandboxManager(path.join(root, 'sandboxes'));
  return { root, source, clone, base, next, manager };
}

/** Runs `script` with /bin/sh in `dir`, as a task's command would run (a git identity set, no global config). */
function sh(dir: string, script: string): string {
  return execFileSync('/bin/sh', ['-ec', script], {
    cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH!, HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@x' },
  }).trim();
}

/** Everything a task can observe of its sandbox, with the sandbox's own names replaced so two sandboxes compare. */
function observe(s: Sandbox): string {
  const out = sh(s.dir, `
    echo '## files'; find . -path ./.git -prune -o -print | LC_ALL=C sort
    echo '## contents'; find . -path ./.git -prune -o -type f -print | LC_ALL=C sort | xargs -r sha1sum
    echo '## modes'; find . -path ./.git -prune -o -printf '%p %M\\n' | LC_ALL=C sort
    echo '## .git'; (cd .git && find . -path ./index -prune -o -print | LC_ALL=C sort); cat .git/objects/info/alternates
    echo '## status'; git status --porcelain --ignored --untracked-files=all
    echo '## head'; git symbolic-ref HEAD; git rev-parse HEAD
    echo '## record'; ls -A "$(git rev-parse --git-dir)"
    echo '## config'; git config --list --show-scope | LC_ALL=C sort
    echo '## hooks'; ls -A "$(git rev-parse --git-path hooks)" 2>/dev/null | grep -v '\\.sample$' || true
    echo '## merge'; git rev-parse -q --verify MERGE_HEAD || echo none
    echo '## stash'; git stash list
    echo '## assume-unchanged'; git ls-files -v | grep '^[a-z]' || true
  `);
  return out.split(s.dir).join('<dir>').split(s.branch).join('<branch>');
}

/** What a misbehaving task does to its sandbox: every kind of leftover the pool must not pass on. */
const MISCHIEF = `
  echo changed > README.md                                   # tracked, modified
  rm keep.txt                                                # tracked, deleted
  chmod +x other.txt                                         # tracked, mode changed
  stamp=$(mktemp); touch -r same.txt "$stamp"; printf 'SAME\n' > same.txt; touch -r "$stamp" same.txt  # same size, same mtime
  echo new > untracked.txt                                   # untracked
  echo junk > debug.log; mkdir -p build; echo o > build/out  # ignored (.gitignore)
  mkdir -p newdir/sub; echo x > newdir/sub/file.txt          # a file in a new untracked directory
  mkdir -p emptydir/deeper                                   # empty directories (git does not see them)
  mkdir nested; (cd nested; git init -q; echo n > n; git add n; git commit -qm n)  # a nested repository
  ln -s /etc escape                                          # a symlink out of the sandbox
  git config --file "$(git rev-parse --git-dir)/config.worktree" omoi.evil worktree  # what \`git config --worktree\` writes
  git config omoi.plain sandbox                              # plain git config
  mkdir -p "$(git rev-parse --git-dir)/hooks"                # hooks
  printf '#!/bin/sh\necho pwned\n' > "$(git rev-parse --git-dir)/hooks/post-checkout"
  git config core.hooksPath "$(git rev-parse --git-dir)/hooks"
  git tag task-tag                                           # a tag
  echo extra > extra.txt; git add extra.txt; git -c user.name=T -c user.email=t@x commit -qm extra  # an object of its own
  echo stashed > stash.txt; git add stash.txt; git stash -q                 # a stash
  git rev-parse HEAD > "$(git rev-parse --git-dir)/MERGE_HEAD"              # a merge in progress
  mkdir "$(git rev-parse --git-dir)/rebase-merge"                           # a rebase in progress
  git update-index --assume-unchanged README.md                             # index flags
  git checkout -q -b task-switched                                          # a new branch, switched to
  echo more > untracked-on-switched.txt
`;

t.test('a reused sandbox shows the next task exactly what a fresh one would: nothing an earlier task left', async (t) => {
  const s = await setup(t);
  const pool = new SandboxPool(s.manager, { size: 4, idleMs: 60_000 });
  t.teardown(() => pool.close());
  const first = await pool.acquire(s.clone, 'task-1', 'omoi/t/one', s.base);
  sh(first.dir, MISCHIEF);
  t.equal(sh(first.dir, 'git symbolic-ref --short HEAD'), 'task-switched', 'the task did switch branches');
  await pool.release(first);
  t.equal(pool.stats().idle, 1, 'released into the pool');

  for (const [i, base] of [s.base, s.next].entries()) {
    const reused = await pool.acquire(s.clone, `task-${i + 2}`, `omoi/t/reused-${i}`, base);
    t.equal(reused.dir, first.dir, 'the same sandbox is reused');
    const fresh = await s.manager.create(s.clone, `fresh-${i}`, `omoi/t/fresh-${i}`, base);
    const seen = observe(reused);
    t.equal(seen, observe(fresh), `at ${i ? 'another' : 'the same'} base, a reused sandbox observes exactly as a fresh one`);
    // The same, spelled out for a reader:
    t.equal(readFileSync(path.join(reused.dir, 'README.md'), 'utf8'), i ? 'next\n' : 'base\n', 'tracked modification undone');
    t.ok(existsSync(path.join(reused.dir, 'keep.txt')), 'tracked deletion undone');
    t.equal(readFileSync(path.join(reused.dir, 'same.txt'), 'utf8'), 'same\n', 'a modification that kept size and mtime undone');
    t.notOk(statMode(path.join(reused.dir, 'other.txt')) & 0o111, 'mode change undone');
    for (const gone of ['untracked.txt', 'debug.log', 'build', 'newdir', 'emptydir', 'nested', 'escape', 'stash.txt', 'untracked-on-switched.txt', 'extra.txt']) {
      t.notOk(existsSync(path.join(reused.dir, gone)), `${gone} is gone`);
    }
    t.equal(sh(reused.dir, 'git symbolic-ref HEAD'), `refs/heads/omoi/t/reused-${i}`, 'on its own branch');
    t.equal(sh(reused.dir, 'git rev-parse HEAD'), base, 'at its base');
    t.equal(sh(reused.dir, 'git config --get omoi.evil || echo unset'), 'unset', 'the worktree config is gone');
    t.equal(sh(reused.dir, 'git config --get omoi.plain || echo unset'), 'unset', 'the config is gone');
    t.equal(sh(reused.dir, 'git config --get core.hooksPath || echo unset'), 'unset', 'the hooks path is gone');
    t.equal(sh(reused.dir, 'ls -A "$(git rev-parse --git-dir)"'), 'HEAD\nconfig\nindex\nobjects\nrefs', 'the git dir holds what a fresh sandbox has, nothing else');
    t.equal(sh(reused.dir, 'git for-each-ref --format="%(refname)"'), `refs/heads/omoi/t/reused-${i}`, 'its branch and no other: no tag, no stash, no task-switched');
    t.equal(sh(reused.dir, 'git count-objects'), '0 objects, 0 kilobytes', 'no object of the earlier task');
    t.equal(sh(reused.dir, 'git status --porcelain --ignored --untracked-files=all'), '', 'clean, nothing ignored');
    // Nothing of the task reached the clone either: a fresh sandbox sees none of it.
    t.equal(sh(fresh.dir, 'git config --get omoi.plain || echo unset'), 'unset', "the task's config stayed in its sandbox");
    t.equal(sh(fresh.dir, 'git stash list'), '', "the task's stash stayed in its sandbox");
    t.equal(sh(s.clone, 'git for-each-ref --format="%(refname)" refs/heads refs/tags | grep -c task || true'), '0', "the task's branch and tag stayed in its sandbox");
    await s.manager.remove(fresh);
    await pool.release(reused);
  }
  t.equal(pool.stats().reused, 2);
  t.equal(pool.stats().resetFailures, 0);
});

function statMode(file: string): number {
  return statSync(file).mode;
}

t.test('a task that replaced its .git is reset from what the pool knows; a sandbox that cannot be reset is replaced', async (t) => {
  const s = await setup(t);
  const pool = new SandboxPool(s.manager, { size: 4, idleMs: 60_000 });
  t.teardown(() => pool.close());
  const a = await pool.acquire(s.clone, 'a', 'omoi/t/a', s.base);
  sh(a.dir, 'rm -rf .git; git init -q .; echo /elsewhere > .git/objects/info/alternates; echo evil > evil.txt');
  await pool.release(a);
  const b = await pool.acquire(s.clone, 'b', 'omoi/t/b', s.base);
  t.equal(b.dir, a.dir, 'reused: the git dir was rewritten from what the pool knows');
  t.equal(sh(b.dir, 'cat .git/objects/info/alternates'), path.join(s.clone, 'objects'), "it borrows the clone's objects again");
  t.equal(sh(b.dir, 'git rev-parse HEAD'), s.base);
  t.notOk(existsSync(path.join(b.dir, 'evil.txt')));
  await pool.release(b);

  const failures: string[] = [];
  const pool2 = new SandboxPool(s.manager, { size: 4, idleMs: 60_000, onResetFailure: (dir) => failures.push(dir) });
  t.teardown(() => pool2.close());
  const c = await pool2.acquire(s.clone, 'c', 'omoi/t/c', s.base);
  await pool2.release(c);
  rmSync(c.dir, { recursive: true, force: true });
  writeFileSync(c.dir, 'a file where the sandbox was'); // nothing can be reset in it
  const d = await pool2.acquire(s.clone, 'd', 'omoi/t/d', s.base);
  t.not(d.dir, c.dir, 'a sandbox that cannot be reset is replaced by a fresh one');
  t.same(failures, [c.dir], 'and the failure is reported');
  t.notOk(existsSync(c.dir), 'the broken sandbox is removed');
  t.equal(sh(d.dir, 'git rev-parse HEAD'), s.base);
  await pool2.destroy(d);
  t.notOk(existsSync(d.dir), 'destroy removes a pooled sandbox');
  t.equal(pool2.stats().idle, 0);
});

t.test('concurrent acquires never share a sandbox', async (t) => {
  const s = await setup(t);
  const pool = new SandboxPool(s.manager, { size: 8, idleMs: 60_000 });
  t.teardown(() => pool.close());
  const warm = await Promise.all([0, 1, 2].map((i) => pool.acquire(s.clone, `w${i}`, `omoi/c/w${i}`, s.base)));
  await Promise.all(warm.map((w) => pool.release(w)));
  t.equal(pool.stats().idle, 3);
  const many = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.acquire(s.clone, `c${i}`, `omoi/c/c${i}`, i % 2 ? s.next : s.base)));
  t.equal(new Set(many.map((m) => m.dir)).size, 8, 'eight attempts, eight sandboxes');
  t.equal(pool.stats().reused, 3, 'the three idle ones were reused');
  for (const [i, m] of many.entries()) t.equal(sh(m.dir, 'git rev-parse HEAD'), i % 2 ? s.next : s.base, `${m.id} at its base`);

  await t.rejects(pool.acquire(s.clone, 'bad', 'omoi/c/c9', 'no-such-base'), { code: 'sandbox_failed' }, 'an unknown base is the attempt\'s error');
  t.equal(pool.stats().busy, 8, 'the refused acquire took no sandbox');
  await Promise.all(many.map((m) => pool.release(m)));
  t.equal(pool.stats().idle, 8);
});

t.test('tickets reach one shared clone through links of their own: a sandbox goes from one to the next', async (t) => {
  const s = await setup(t);
  const pool = new SandboxPool(s.manager, { size: 8, idleMs: 60_000 });
  t.teardown(() => pool.close());
  const [t1, t2] = ['T1', 'T2'].map((ticket) => path.join(s.root, `link-${ticket}`));
  symlinkSync(s.clone, t1);
  symlinkSync(s.clone, t2);
  const first = await pool.acquire(t1, 'a', 'omoi-task/T1/A', s.base);
  await pool.release(first);
  const second = await pool.acquire(t2, 'b', 'omoi-task/T2/B', s.next);
  t.equal(second.dir, first.dir, "T2's first attempt got the sandbox T1's attempt left");
  t.same({ created: pool.stats().created, reused: pool.stats().reused }, { created: 1, reused: 1 });
  t.equal(sh(second.dir, 'git rev-parse HEAD'), s.next, 'at its own base');
  await pool.release(second);
});

t.test('bounded per repository and in total; shrunk when idle; closed', async (t) => {
  const s = await setup(t);
  const otherClone = path.join(s.root, 'clone2');
  await ensureClone(s.source.dir, otherClone);
  let now = 1_000;
  const pool = new SandboxPool(s.manager, { size: 3, perRepository: 2, idleMs: 5_000, now: () => now });
  t.teardown(() => pool.close());
  const a = await Promise.all([0, 1, 2].map((i) => pool.acquire(s.clone, `a${i}`, `omoi/b/a${i}`, s.base)));
  for (const x of a) await pool.release(x);
  t.equal(pool.stats().idle, 2, 'at most two idle sandboxes of one repository');
  t.notOk(existsSync(a[2]!.dir), 'the one over the bound was removed');
  now += 1_000;
  const b = await Promise.all([0, 1].map((i) => pool.acquire(otherClone, `b${i}`, `omoi/b/b${i}`, s.base)));
  for (const x of b) await pool.release(x);
  t.equal(pool.stats().idle, 3, 'at most three in all');
  t.notOk(existsSync(a[0]!.dir), 'the oldest idle sandbox was evicted');
  t.same(readdirSync(s.manager.root).sort(), [a[1]!.dir, ...b.map((x) => x.dir)].flatMap((d) => [path.basename(d), `${path.basename(d)}.index`]).sort(), 'the pooled sandboxes (and the copies of their index) on disk');

  now += 4_500;
  t.equal(await pool.shrink(), 1, 'the one idle for 5 s is removed');
  t.notOk(existsSync(a[1]!.dir));
  now += 1_000;
  t.equal(await pool.shrink(), 2);
  t.same(readdirSync(s.manager.root), [], 'nothing left on disk');

  const f = await pool.acquire(otherClone, 'f', 'omoi/b/f', s.base);
  await pool.release(f);
  t.equal(pool.stats().idle, 1);
  await pool.forget(otherClone);
  t.equal(pool.stats().idle, 0, 'forget removes the idle sandboxes of a repository');
  t.notOk(existsSync(f.dir));
  // The clone sweep knows a clone by its directory (its git dir), not by a ticket's link.
  const g = await pool.acquire(otherClone, 'g', 'omoi/b/g', s.base);
  await pool.release(g);
  await pool.forget(realpathSync(otherClone));
  t.equal(pool.stats().idle, 0, 'forget by the common git dir works too');
  t.notOk(existsSync(g.dir));

  // The real timer (unref'd) does the same.
  const timed = new SandboxPool(s.manager, { size: 2, idleMs: 40 });
  const x = await timed.acquire(s.clone, 'x', 'omoi/b/x', s.base);
  await timed.release(x);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(timed.stats().idle, 0, 'the idle timer removed it');
  t.notOk(existsSync(x.dir));

  const y = await pool.acquire(s.clone, 'y', 'omoi/b/y', s.base);
  await pool.close();
  await pool.release(y);
  t.notOk(existsSync(y.dir), 'after close, a release removes its sandbox');
  await pool.close();
});

t.test('pool off (size 0) is today\'s create/remove; the start-up sweep removes pooled sandboxes', async (t) => {
  const s = await setup(t);
  const off = new SandboxPool(s.manager, { size: 0, idleMs: 60_000 });
  const a = await off.acquire(s.clone, 'task-a', 'omoi/o/a', s.base);
  t.equal(a.dir, s.manager.dirOf('task-a'), 'the sandbox is at dirOf(id)');
  sh(a.dir, 'echo x > x.txt');
  await off.release(a);
  t.notOk(existsSync(a.dir), 'release removes it');
  t.equal(off.stats().created + off.stats().reused + off.stats().idle, 0);

  const on = new SandboxPool(s.manager, { size: 2, idleMs: 60_000 });
  const b = await on.acquire(s.clone, 'task-b', 'omoi/o/b', s.base);
  const c = await on.acquire(s.clone, 'task-c', 'omoi/o/c', s.base);
  await on.release(b);
  // A crash: the process is gone; a restarted node sweeps everything under the root.
  const removed = await new SandboxManager(s.manager.root).sweep(new Set());
  t.same(removed.sort(), [b.dir, c.dir].flatMap((d) => [path.basename(d), `${path.basename(d)}.index`]).sort(), 'the pooled sandboxes and their index copies are swept');
});
