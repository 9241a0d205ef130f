import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { mergeSources, type MergeOutcome } from '../src/git/index.ts';
import { git, makeRepo } from './dag-shared.ts';
import { percentile } from './stats.ts';

const execFileAsync = promisify(execFile);

/** One variant (clean or conflicting) of the merge comparison; times are medians, ms. */
export interface MergeVariantResult {
  variant: 'clean' | 'conflicts';
  repetitions: number;
  /** `mergeSources` end to end: its own worktree (no checkout), scoring, merges, removal. */
  omoiMs: number;
  /** git CLI end to end: `worktree add` (with checkout), the merges, worktree removal. */
  gitMs: number;
  /** git CLI, the `git merge` (and resolution) commands only. */
  gitMergeOnlyMs: number;
  ratio: number;
  order: string[];
  /** Conflicted files Omoi resolved (and git resolved the same way), over all merges. */
  conflictsResolved: number;
  /** Both final merge commits have the same tree. */
  sameTree: boolean;
  omoiAllMs: number[];
  gitAllMs: number[];
}

export interface MergeCompareResult {
  files: { base: number; branches: number; perBranch: number; conflicting: number };
  clean: MergeVariantResult;
  conflicts: MergeVariantResult;
}

const BRANCHES = 8;
const PER_BRANCH = 50;
const EXTRA_FILES = 600;
const WHO = { name: 'Omoi Bench', email: 'bench@omoi.invalid', time: new Date('2026-01-01T00:00:00Z') };
/** Omoi's resolver: take the source's ("theirs") version of each conflicted file. */
const TAKE_THEIRS_OMOI = 'printf "%s\\n" "$OMOI_CONFLICTED_FILES" | while read f; do git show "$OMOI_MERGE_SOURCE_COMMIT:$f" > "$f"; done';
/** git CLI: merge; on conflict check out "theirs" for each unmerged file, stage, commit. */
const MERGE_THEIRS_GIT = (branch: string) =>
  `git merge --no-ff --no-edit -q ${branch} >/dev/null 2>&1 || { git diff --name-only --diff-filter=U | while read f; do git checkout --theirs -- "$f"; done; git add -A && git commit --no-edit -q; }`;

const branchName = (k: number) => `b${k}`;
const fileOf = (k: number, i: number) => `src/m${k}/f${String(i).padStart(3, '0')}.txt`;
const conflictFile = (k: number) => `shared/c${k}.txt`;

/**
 * Builds a bare repository (as Omoi's clones are) with a base of
 * `BRANCHES × PER_BRANCH + EXTRA_FILES + BRANCHES` files and, for each variant, 8 branches
 * off `main`: branch k rewrites its own 50 files (`src/m<k>/…`, disjoint: clean). In the
 * conflicting variant branch k also rewrites `shared/c<k>` and `shared/c<k-1>`, so each of the
 * 8 shared files is changed by two branches and conflicts once when the second one is merged.
 */
async function buildRepo(workDir: string): Promise<string> {
  const files: Record<string, string> = {};
  for (let k = 0; k < BRANCHES; k++) for (let i = 0; i < PER_BRANCH; i++) files[fileOf(k, i)] = `base ${k}/${i}\n`.repeat(20);
  for (let i = 0; i < EXTRA_FILES; i++) files[`other/o${String(i).padStart(3, '0')}.txt`] = `other ${i}\n`.repeat(20);
  for (let k = 0; k < BRANCHES; k++) files[conflictFile(k)] = `shared ${k}\n`;
  const work = await makeRepo(workDir, files);
  for (const variant of ['clean', 'conflicts'] as const) {
    for (let k = 0; k < BRANCHES; k++) {
      await git(work, 'checkout', '-q', '-B', `${variant}/${branchName(k)}`, 'main');
      await Promise.all(Array.from({ length: PER_BRANCH }, (_, i) => writeFile(path.join(work, fileOf(k, i)), `branch ${k} changed ${i}\n`.repeat(20))));
      if (variant === 'conflicts') {
        await writeFile(path.join(work, conflictFile(k)), `changed by b${k}\n`);
        await writeFile(path.join(work, conflictFile((k + BRANCHES - 1) % BRANCHES)), `changed by b${k}\n`);
      }
      await git(work, 'commit', '-q', '-am', `${variant} branch ${k}`);
    }
  }
  const bare = `${work}.git`;
  await git(workDir, 'clone', '-q', '--mirror', work, bare);
  return bare;
}

async function omoiOnce(bare: string, sandboxDir: string, variant: 'clean' | 'conflicts'): Promise<{ ms: number; outcome: MergeOutcome }> {
  const t0 = performance.now();
  const outcome = await mergeSources({
    repoDir: bare, sandboxDir, base: 'main', who: WHO,
    sources: Array.from({ length: BRANCHES }, (_, k) => ({ id: branchName(k), commit: `${variant}/${branchName(k)}` })),
    resolverCommand: variant === 'conflicts' ? TAKE_THEIRS_OMOI : undefined,
  });
  const ms = performance.now() - t0;
  if (!outcome.ok) throw new Error(`merge bench (${variant}): Omoi's merge failed: ${outcome.reason} ${outcome.files.join(', ')}`);
  return { ms, outcome };
}

async function gitOnce(bare: string, dir: string, variant: 'clean' | 'conflicts', order: string[]): Promise<{ ms: number; mergeMs: number; commit: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_AUTHOR_NAME: WHO.name, GIT_AUTHOR_EMAIL: WHO.email, GIT_COMMITTER_NAME: WHO.name, GIT_COMMITTER_EMAIL: WHO.email };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete env[name];
  const t0 = performance.now();
  await git(bare, 'worktree', 'add', '--quiet', '--detach', dir, 'main');
  const m0 = performance.now();
  for (const id of order) {
    const branch = `${variant}/${id}`;
    if (variant === 'clean') await execFileAsync('git', ['merge', '--no-ff', '--no-edit', '-q', branch], { cwd: dir, env });
    else await execFileAsync('/bin/sh', ['-c', MERGE_THEIRS_GIT(branch)], { cwd: dir, env });
  }
  const mergeMs = performance.now() - m0;
  const commit = await git(dir, 'rev-parse', 'HEAD');
  await rm(dir, { recursive: true, force: true });
  await git(bare, 'worktree', 'prune');
  return { ms: performance.now() - t0, mergeMs, commit };
}

async function variantBench(bare: string, workDir: string, variant: 'clean' | 'conflicts', repetitions: number, progress: (l: string) => void): Promise<MergeVariantResult> {
  const omoi: number[] = [];
  const gitAll: number[] = [];
  const gitMerge: number[] = [];
  let order: string[] = [];
  let conflictsResolved = 0;
  let sameTree = true;
  // One untimed warm-up of each (page cache, nodegit's first load), then alternate.
  for (let r = -1; r < repetitions; r++) {
    const o = await omoiOnce(bare, path.join(workDir, `omoi-${variant}-${r + 1}`), variant);
    order = o.outcome.attempt.order;
    conflictsResolved = o.outcome.attempt.resolutions.length;
    const g = await gitOnce(bare, path.join(workDir, `git-${variant}-${r + 1}`), variant, order);
    if (o.outcome.ok) {
      const [a, b] = [await git(bare, 'rev-parse', `${o.outcome.commit}^{tree}`), await git(bare, 'rev-parse', `${g.commit}^{tree}`)];
      if (a !== b) sameTree = false;
    }
    if (r < 0) continue;
    omoi.push(o.ms);
    gitAll.push(g.ms);
    gitMerge.push(g.mergeMs);
    progress(`merge ${variant} ${r + 1}/${repetitions}: Omoi ${o.ms.toFixed(0)} ms, git CLI ${g.ms.toFixed(0)} ms (merges only ${g.mergeMs.toFixed(0)} ms)`);
  }
  const omoiMs = percentile(omoi, 50);
  const gitMs = percentile(gitAll, 50);
  return {
    variant, repetitions, omoiMs, gitMs, gitMergeOnlyMs: percentile(gitMerge, 50), ratio: omoiMs / gitMs,
    order, conflictsResolved, sameTree, omoiAllMs: omoi.map(Math.round), gitAllMs: gitAll.map(Math.round),
  };
}

/**
 * (b) of the DAG bench: `mergeSources` against the git CLI on the same bare repository, same
 * merge order (Omoi's), each repetition from a fresh worktree. Clean: 8 branches × 50
 * disjoint files. Conflicts: the same plus 8 shared files each changed by two branches,
 * resolved by taking the source's version — Omoi through its resolver chain (built-in rules,
 * which cannot settle a real two-sided edit, then a resolver command doing `git show
 * <source>:<file> > <file>` per file); git CLI by `git checkout --theirs` per unmerged file,
 * `git add -A`, `git commit`. Checks that both final commits have the same tree.
 */
export async function mergeCompareBench(opts: { workDir: string; repetitions: number; progress: (l: string) => void }): Promise<MergeCompareResult> {
  const dir = path.join(opts.workDir, 'merge-bench');
  await mkdir(dir, { recursive: true });
  opts.progress(`merge: building repository (${BRANCHES * PER_BRANCH + EXTRA_FILES + BRANCHES} files, ${BRANCHES} branches × ${PER_BRANCH} files, clean and conflicting)`);
  const bare = await buildRepo(dir);
  const clean = await variantBench(bare, dir, 'clean', opts.repetitions, opts.progress);
  const conflicts = await variantBench(bare, dir, 'conflicts', opts.repetitions, opts.progress);
  await rm(dir, { recursive: true, force: true });
  return { files: { base: BRANCHES * PER_BRANCH + EXTRA_FILES + BRANCHES, branches: BRANCHES, perBranch: PER_BRANCH, conflicting: BRANCHES }, clean, conflicts };
}
