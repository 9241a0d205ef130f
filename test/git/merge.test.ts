import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Breakers, CircuitOpenError, type BreakerChange } from '../../src/breakers/breakers.ts';
import { ensureClone, mergeSources, type MergeOptions } from '../../src/git/index.ts';
import { decideIsolation } from '../../src/sandbox/index.ts';
import { git, numberedLines, SourceRepo, tempDir, WHO } from './fixture.ts';


/** A clone whose `main` has `config.py` (60 lines) and `README.md`, plus helpers for sources. */
async function setup(t: Test) {
  const root = tempDir(t);
  const source = SourceRepo.create(root, { 'config.py': numberedLines(60), 'README.md': 'readme\n' });
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const clone = path.join(root, 'clone');
  const branch = (name: string, files: Record<string, string | null>, from = base) => {
    source.checkout(name, from);
    return source.commit(name, files);
  };
  const sync = () => ensureClone(source.dir, clone);
  /** Runs mergeSources on the clone (after syncing it) and checks on `t` that the sandbox is gone. */
  const merge = async (t: Test, extra: Partial<MergeOptions> & Pick<MergeOptions, 'sources'>, sandboxName = 'merge-sandbox') => {
    await sync();
    const sandboxDir = path.join(root, sandboxName);
    const outcome = await mergeSources({ repoDir: clone, sandboxDir, base, who: WHO, ...extra });
    t.notOk(existsSync(sandboxDir), 'the merge sandbox is removed');
    t.notMatch(git(clone, 'worktree', 'list', '--porcelain'), sandboxName, 'and unregistered');
    return outcome;
  };
  return { root, source, base, clone, branch, merge };
}

/** Merge commits from `commit` down the first-parent chain to `base`, oldest first. */
function mergeChain(clone: string, commit: string, base: string): Array<{ sha: string; parents: string[] }> {
  const chain = [];
  let sha = commit;
  while (sha !== base) {
    const parents = git(clone, 'rev-list', '--parents', '-n', '1', sha).split(' ').slice(1);
    chain.unshift({ sha, parents });
    sha = parents[0]!;
  }
  return chain;
}

t.test('clean sources: every source gets a real two-parent merge commit, the tree has all changes', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'a.txt': 'from a\n' });
  const b = s.branch('b', { 'b.txt': 'from b\n', 'README.md': 'readme by b\n' });
  const outcome = await s.merge(t, { sources: [{ id: 'task-b', commit: b }, { id: 'task-a', commit: a }] });
  t.ok(outcome.ok);
  if (!outcome.ok) return;
  t.same(outcome.attempt.order, ['task-a', 'task-b'], 'equal scores: by id');
  t.same(outcome.attempt.conflicts, { 'task-a': [], 'task-b': [] });
  t.same(outcome.attempt.resolutions, []);

  const chain = mergeChain(s.clone, outcome.commit, s.base);
  t.equal(chain.length, 2, 'one merge commit per source');
  // Source a descends from the base: git would fast-forward here; we must not.
  t.same(chain[0]!.parents, [s.base, a], 'first merge: base + a, although a fast-forward was possible');
  t.same(chain[1]!.parents, [chain[0]!.sha, b], 'second merge: previous head + b');
  t.equal(git(s.clone, 'show', `${outcome.commit}:a.txt`), 'from a');
  t.equal(git(s.clone, 'show', `${outcome.commit}:b.txt`), 'from b');
  t.equal(git(s.clone, 'show', `${outcome.commit}:README.md`), 'readme by b');
  t.equal(git(s.clone, 'log', '-1', '--format=%an %ae %at %cn %ce %ct', outcome.commit),
    `Omoi omoi@example.com ${WHO.time.getTime() / 1000} Omoi omoi@example.com ${WHO.time.getTime() / 1000}`);

  const again = await s.merge(t, { sources: [{ id: 'task-a', commit: a }, { id: 'task-b', commit: b }] }, 'merge-again');
  t.ok(again.ok && again.commit === outcome.commit, 'same inputs, same merge sha');
});

t.test('a single source that is a descendant of the base still gets a merge commit', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'a.txt': 'a\n' });
  const outcome = await s.merge(t, { sources: [{ id: 'only', commit: a }], message: (src) => `join merges ${src.id}` });
  t.ok(outcome.ok);
  if (!outcome.ok) return;
  t.not(outcome.commit, a, 'not fast-forwarded to the source');
  t.same(git(s.clone, 'rev-list', '--parents', '-n', '1', outcome.commit).split(' ').slice(1), [s.base, a]);
  t.equal(git(s.clone, 'log', '-1', '--format=%s', outcome.commit), 'join merges only');
});

t.test('sources that forked from a later commit are merged onto it, not onto the ticket base', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'a.txt': 'a\n' }); // the task both sources split from
  const b = s.branch('b', { 'b.txt': 'b\n' }, a);
  const c = s.branch('c', { 'c.txt': 'c\n' }, a);
  const outcome = await s.merge(t, { sources: [{ id: 'b', commit: b }, { id: 'c', commit: c }] });
  t.ok(outcome.ok);
  if (!outcome.ok) return;
  const chain = mergeChain(s.clone, outcome.commit, a);
  t.same(chain.map((m) => m.parents), [[a, b], [chain[0]!.sha, c]], 'the first merge starts at their fork point');
  t.same(git(s.clone, 'ls-tree', '--name-only', outcome.commit).split('\n'), ['README.md', 'a.txt', 'b.txt', 'c.txt', 'config.py']);

  // One source an ancestor of the other: merging it onto itself would be no merge, so the base is used.
  const nested = await s.merge(t, { sources: [{ id: 'a', commit: a }, { id: 'b', commit: b }] }, 'merge-nested');
  t.ok(nested.ok);
  if (!nested.ok) return;
  t.same(mergeChain(s.clone, nested.commit, s.base)[0]!.parents[0], s.base);
});

t.test('sources that changed nothing still get a merge commit each, keeping the tree', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'a.txt': 'a\n' });
  // Two tasks that committed nothing: their branches are the base itself.
  const outcome = await s.merge(t, { sources: [{ id: 'noop-1', commit: s.base }, { id: 'a', commit: a }, { id: 'noop-2', commit: s.base }] });
  t.ok(outcome.ok);
  if (!outcome.ok) return;
  t.same(outcome.attempt.order, ['a', 'noop-1', 'noop-2']);
  const chain = mergeChain(s.clone, outcome.commit, s.base);
  t.same(chain.map((c) => c.parents[1]), [a, s.base, s.base], 'one two-parent merge commit per source, no-op ones included');
  t.equal(git(s.clone, 'rev-parse', `${chain[1]!.sha}^{tree}`), git(s.clone, 'rev-parse', `${chain[0]!.sha}^{tree}`), 'a no-op merge keeps the head tree');
  t.same(git(s.clone, 'ls-tree', '--name-only', outcome.commit).split('\n'), ['README.md', 'a.txt', 'config.py']);
});

t.test('sources are merged in order of fewest conflicts against the merge head', async (t) => {
  const s = await setup(t);
  const moved = s.source.commit('main moves', { 'x.txt': 'main\n', 'y.txt': 'main\n', 'z.txt': 'main\n' });
  const two = s.branch('two', { 'x.txt': 'two\n', 'y.txt': 'two\n' });
  const zero = s.branch('zero', { 'w.txt': 'zero\n' });
  const one = s.branch('one', { 'z.txt': 'one\n' });
  s.source.checkout('main');
  // Resolver: take the source's version of each conflicted file.
  const takeTheirs = 'printf "%s\\n" "$OMOI_CONFLICTED_FILES" | while read f; do git show "$OMOI_MERGE_SOURCE_COMMIT:$f" > "$f"; done';
  const outcome = await s.merge(t, { base: moved, resolverCommand: takeTheirs, sources: [
    { id: 'a', commit: two }, { id: 'b', commit: zero }, { id: 'c', commit: one },
  ] });
  t.ok(outcome.ok, 'resolved');
  t.same(outcome.attempt.order, ['b', 'c', 'a']);
  t.same(outcome.attempt.conflicts, { a: ['x.txt', 'y.txt'], b: [], c: ['z.txt'] });
  t.same(outcome.attempt.resolutions, [
    { file: 'z.txt', source: 'c', by: 'resolver' },
    { file: 'x.txt', source: 'a', by: 'resolver' },
    { file: 'y.txt', source: 'a', by: 'resolver' },
  ]);
  if (outcome.ok) {
    t.equal(git(s.clone, 'show', `${outcome.commit}:x.txt`), 'two');
    t.equal(git(s.clone, 'show', `${outcome.commit}:w.txt`), 'zero');
    t.equal(git(s.clone, 'show', `${outcome.commit}:z.txt`), 'one');
  }
});

t.test('bad input is rejected before anything is created', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'a.txt': 'a\n' });
  await t.rejects(s.merge(t, { sources: [] }), { code: 'invalid_merge' });
  await t.rejects(s.merge(t, { sources: [{ id: 'x', commit: a }, { id: 'x', commit: a }] }), { code: 'invalid_merge' });
  await t.rejects(s.merge(t, { sources: [{ id: 'x', commit: 'nope' }] }), { code: 'unknown_ref' });
  const aborted = new AbortController();
  aborted.abort();
  await t.rejects(s.merge(t, { sources: [{ id: 'x', commit: a }], signal: aborted.signal }), { code: 'merge_aborted' });
  t.notOk(existsSync(path.join(s.root, 'merge-sandbox')), 'an aborted merge removes its sandbox too');
});

t.test('a rename conflict: the resolver gets the file the merge wrote, not the path renamed away', async (t) => {
  const s = await setup(t);
  // a renames config.py to settings.py and edits line 50; b edits line 50 of config.py.
  const a = s.branch('a', { 'config.py': null, 'settings.py': numberedLines(60, { 50: 'TIMEOUT = 10  # a' }) });
  const b = s.branch('b', { 'config.py': numberedLines(60, { 50: 'TIMEOUT = 20  # b' }) });
  // Keeps both sides: drops the marker lines.
  const resolver = 'echo "files=[$OMOI_CONFLICTED_FILES]"; sed -i -e "/^<<<<<<< /d" -e "/^=======$/d" -e "/^>>>>>>> /d" $OMOI_CONFLICTED_FILES';
  const outcome = await s.merge(t, { sources: [{ id: 'a', commit: a }, { id: 'b', commit: b }], resolverCommand: resolver });
  t.ok(outcome.ok, 'resolved');
  if (!outcome.ok) return;
  t.same(outcome.attempt.conflicts.b, ['config.py', 'settings.py'], 'both paths of the rename are part of the conflict');
  t.match(outcome.attempt.resolverOutput, 'files=[settings.py]', 'the resolver is given only the file on disk');
  t.same(git(s.clone, 'ls-tree', '--name-only', outcome.commit).split('\n'), ['README.md', 'settings.py'], 'the rename holds');
  const merged = git(s.clone, 'show', `${outcome.commit}:settings.py`);
  t.match(merged, 'TIMEOUT = 10  # a');
  t.match(merged, 'TIMEOUT = 20  # b', "b's edit follows the file to its new name");
});

t.test('config.py edited on the same line by two sources', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'config.py': numberedLines(60, { 50: 'TIMEOUT = 10  # a' }), 'a.txt': 'a\n' });
  const b = s.branch('b', { 'config.py': numberedLines(60, { 50: 'TIMEOUT = 20  # b' }) });
  const sources = [{ id: 'a', commit: a }, { id: 'b', commit: b }];
  const resolved = numberedLines(60, { 50: 'TIMEOUT = 30  # resolved' });
  const resolutionFile = path.join(s.root, 'resolution.py');
  writeFileSync(resolutionFile, resolved);

  t.test('no resolver: merge_conflict listing the file', async (t) => {
    const outcome = await s.merge(t, { sources });
    t.same(outcome, {
      ok: false, reason: 'merge_conflict', files: ['config.py'],
      attempt: { ...outcome.attempt, order: ['a', 'b'], conflicts: { a: [], b: ['config.py'] }, resolutions: [], resolverOutput: '' },
    });
  });

  t.test('a resolver that writes a resolution: ok, its output recorded', async (t) => {
    const logFile = path.join(s.root, 'resolver.log');
    const resolver = [
      'echo "cwd=$(pwd)"',
      'echo "files=$OMOI_CONFLICTED_FILES key=$AGENT_KEY"',
      'echo "markers=$(grep -c -e "^<<<<<<< " -e "^=======$" -e "^>>>>>>> " config.py)"',
      `cp ${resolutionFile} config.py`,
    ].join('; ');
    const outcome = await s.merge(t, { sources, resolverCommand: resolver, checkCommand: 'grep -q "TIMEOUT = 30" config.py && echo check-passed', logFile, resolverEnv: { AGENT_KEY: 'k-123' } });
    t.ok(outcome.ok);
    if (!outcome.ok) return;
    const out = outcome.attempt.resolverOutput;
    t.match(out, `cwd=${path.join(s.root, 'merge-sandbox')}`, 'the resolver ran in the merge sandbox');
    t.match(out, 'files=config.py key=k-123', 'conflicted files and the given env reach the resolver');
    t.match(out, 'markers=3', 'the conflicted file had standard conflict markers');
    t.match(out, 'check-passed', 'the check ran');
    t.same(outcome.attempt.resolutions, [{ file: 'config.py', source: 'b', by: 'resolver' }]);
    t.equal(git(s.clone, 'show', `${outcome.commit}:config.py`) + '\n', resolved);
    t.equal(git(s.clone, 'show', `${outcome.commit}:a.txt`), 'a', 'the clean source is in the result too');
    t.equal(git(s.clone, 'rev-list', '--parents', '-n', '1', outcome.commit).split(' ').length, 3, 'a two-parent merge commit');
    t.match(await import('node:fs/promises').then((fs) => fs.readFile(logFile, 'utf8')), 'check-passed', 'full log on disk');
  });

  t.test('a resolver that leaves the markers: merge_conflict', async (t) => {
    const outcome = await s.merge(t, { sources, resolverCommand: 'echo looked but did nothing' });
    t.equal(outcome.ok, false);
    if (outcome.ok) return;
    t.same(outcome.files, ['config.py']);
    t.match(outcome.attempt.resolverOutput, 'looked but did nothing');
    t.match(outcome.attempt.resolverOutput, 'conflict markers left in config.py');
  });

  t.test('a resolver failing fast again and again opens its breaker: circuit_open, not run; a slow failure does not count', async (t) => {
    const runs = path.join(s.root, 'resolver-runs');
    const script = path.join(s.root, 'broken-resolver.sh');
    writeFileSync(script, `#!/bin/sh\necho ran >> ${runs}\necho "no API key"; exit 7\n`, { mode: 0o755 });
    const changes: BreakerChange[] = [];
    const breakers = new Breakers({ threshold: 2, halfOpenAfterMs: 60_000, onChange: (c) => changes.push(c) });
    for (let i = 0; i < 2; i++) {
      const outcome = await s.merge(t, { sources, resolverCommand: `${script} --fix`, breakers });
      t.same(outcome.ok ? null : outcome.files, ['config.py'], 'each failure is still the merge\'s verdict');
    }
    t.match(changes, [{ breaker: 'resolver', key: script, state: 'open' }], 'opened after two fast failures, keyed by the program');
    const err = await s.merge(t, { sources, resolverCommand: `${script} --fix`, breakers }).catch((e: unknown) => e);
    t.ok(err instanceof CircuitOpenError, 'the next merge fails retryably without running it');
    t.match(err, { code: 'circuit_open', details: { breaker: 'resolver', key: script } });
    t.match(String((err as Error).message), /resolver .*broken-resolver\.sh is failing .*exited with 7|not called until/);
    t.equal(readFileSync(runs, 'utf8').trim().split('\n').length, 2, 'the resolver was not started a third time');
    // Another program is not affected; a resolver that fails after working a while is the merge's failure, not counted.
    const slow = new Breakers({ threshold: 1, onChange: (c) => changes.push(c) });
    const slowFailure = await s.merge(t, { sources, resolverCommand: 'sleep 2.3; exit 4', breakers: slow });
    t.equal(slowFailure.ok, false);
    t.same(slow.states().map((b) => b.state), ['closed'], 'a slow failure does not open the breaker');
  });

  t.test('a failing resolver or check command: merge_conflict', async (t) => {
    const failingResolver = await s.merge(t, { sources, resolverCommand: `cp ${resolutionFile} config.py; exit 4` });
    t.same(failingResolver.ok ? null : failingResolver.files, ['config.py']);
    t.match(failingResolver.attempt.resolverOutput, 'resolver exited with 4');
    const failingCheck = await s.merge(t, { sources, resolverCommand: `cp ${resolutionFile} config.py`, checkCommand: 'echo tests failed; exit 3' });
    t.equal(failingCheck.ok, false);
    t.same(failingCheck.ok ? null : failingCheck.files, ['config.py']);
    t.match(failingCheck.attempt.resolverOutput, 'tests failed');
    t.match(failingCheck.attempt.resolverOutput, 'check command exited with 3');
  });

  t.test('a resolver under bubblewrap resolves in its sandbox, and cannot read what the node hides', async (t) => {
    const secrets = path.join(s.root, 'secrets');
    mkdirSync(secrets);
    writeFileSync(path.join(secrets, 'api-token'), 'secret\n');
    const isolation = await decideIsolation(undefined, [secrets], ['/tmp']); // the resolution file is in /tmp
    t.equal(isolation.mode, 'bwrap');
    const resolver = `cp ${resolutionFile} config.py; git status --porcelain > /dev/null && echo git-works; cat ${path.join(secrets, 'api-token')} || echo token-hidden`;
    const outcome = await s.merge(t, { sources, resolverCommand: resolver, isolation });
    t.ok(outcome.ok, outcome.attempt.resolverOutput);
    t.match(outcome.attempt.resolverOutput, 'git-works', 'git works in the merge worktree');
    t.match(outcome.attempt.resolverOutput, 'token-hidden', 'the hidden file is not there');
    t.notMatch(outcome.attempt.resolverOutput, /^secret$/m, 'the token was not printed');
    if (outcome.ok) t.equal(git(s.clone, 'show', `${outcome.commit}:config.py`) + '\n', resolved, 'the resolution is merged');
  });

  t.test('the same resolution twice gives the same sha', async (t) => {
    const first = await s.merge(t, { sources, resolverCommand: `cp ${resolutionFile} config.py` });
    const second = await s.merge(t, { sources, resolverCommand: `cp ${resolutionFile} config.py` }, 'other-sandbox');
    t.ok(first.ok && second.ok && first.commit === second.commit);
  });
});

t.test('one side unchanged from the base: resolved without any resolver', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'config.py': numberedLines(60, { 50: 'TIMEOUT = 10' }) });
  const b = s.branch('b', { 'README.md': 'b leaves config.py as it was\n' });
  const outcome = await s.merge(t, { sources: [{ id: 'a', commit: a }, { id: 'b', commit: b }] });
  t.ok(outcome.ok);
  if (!outcome.ok) return;
  t.equal(git(s.clone, 'show', `${outcome.commit}:config.py`).split('\n')[49], 'TIMEOUT = 10');
  t.equal(git(s.clone, 'show', `${outcome.commit}:README.md`), 'b leaves config.py as it was');
});

t.test('the auto-resolve limit: more conflicted files than it allows are never handed to the resolver', async (t) => {
  const s = await setup(t);
  const edit = (who: string) => ({ 'config.py': numberedLines(60, { 50: `TIMEOUT = ${who}` }), 'README.md': `readme by ${who}\n` });
  const a = s.branch('a', edit('a'));
  const b = s.branch('b', edit('b'));
  const c = s.branch('c', { 'README.md': 'readme by c\n' });
  const marker = path.join(s.root, 'resolver-ran');
  // Keeps both sides: drops the marker lines.
  const resolver = `touch ${marker}; for f in $OMOI_CONFLICTED_FILES; do sed -i -e '/^<<<<<<< /d' -e '/^=======$/d' -e '/^>>>>>>> /d' "$f"; done`;

  t.test('two files conflicted, limit 1: too_many_conflicts listing both, the resolver not run', async (t) => {
    const outcome = await s.merge(t, { sources: [{ id: 'a', commit: a }, { id: 'b', commit: b }], resolverCommand: resolver, maxConflictsAutoResolve: 1 });
    t.match(outcome, { ok: false, reason: 'too_many_conflicts', files: ['README.md', 'config.py'] });
    t.notOk(existsSync(marker), 'the resolver never ran');
  });

  t.test('limit 0: even one conflicted file goes to a person', async (t) => {
    const outcome = await s.merge(t, { sources: [{ id: 'a', commit: a }, { id: 'c', commit: c }], resolverCommand: resolver, maxConflictsAutoResolve: 0 });
    t.match(outcome, { ok: false, reason: 'too_many_conflicts', files: ['README.md'] });
    t.notOk(existsSync(marker), 'the resolver never ran');
  });

  t.test('at the limit (two files, limit 2): handed to the resolver as before', async (t) => {
    const ok = await s.merge(t, { sources: [{ id: 'a', commit: a }, { id: 'b', commit: b }], resolverCommand: resolver, maxConflictsAutoResolve: 2 });
    t.equal(ok.ok, true, 'at the limit: resolved');
    t.ok(existsSync(marker), 'by the resolver');
  });
});
