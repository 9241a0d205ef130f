import { stat } from 'node:fs/promises';
import path from 'node:path';
import NodeGit from 'nodegit';
import type { Breakers } from '../breakers/index.ts';
import { FAST_FAILURE_MS, programOf, throughBreaker } from '../breakers/index.ts';
import { RetryableError } from '../errors.ts';
import { runProcess } from '../sandbox/process.ts';
import { fileHasConflictMarkers } from './markers.ts';
import type { MergeSource } from './score.ts';

/** What the merge needs to hand a conflict to the resolver command. */
export interface ResolverRun {
  /** The repository opened at the merge sandbox (a worktree). */
  sandbox: NodeGit.Repository;
  sandboxDir: string;
  /** The current merge head and the source being merged into it. */
  head: NodeGit.Commit;
  source: MergeSource;
  /** The in-memory merge of `source` into `head`, built-in rules applied; still conflicted. */
  mergeIndex: NodeGit.Index;
  /** The files still conflicted in `mergeIndex`. */
  conflicted: string[];
  resolverCommand: string;
  checkCommand?: string;
  /** Extra variables for both commands (the OMOI_* ones below win on a clash). */
  env?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  logFile: string;
  /** The argv prefix both commands run under (bubblewrap, see src/sandbox/isolation.ts). */
  wrap?: string[];
  /** The node's breakers: a resolver that keeps failing fast opens its `resolver` breaker (key: its program). */
  breakers?: Breakers;
}

/** The resolver's verdict: the merged tree, or the files it failed to resolve; plus its output and exit code (null: killed or timed out). */
export type ResolverVerdict =
  | { ok: true; tree: NodeGit.Oid; output: string; exitCode: number | null }
  | { ok: false; files: string[]; output: string; exitCode: number | null };

/**
 * Steps (b) and (c) of the resolver chain. Writes the merge into the sandbox (the merged files,
 * and each conflicted file with standard `<<<<<<<`/`=======`/`>>>>>>>` markers), runs the
 * resolver command there with `OMOI_CONFLICTED_FILES` (newline-separated paths of the
 * conflicted files present in the sandbox: a path renamed away or deleted is not listed),
 * `OMOI_MERGE_SOURCE` (source id), `OMOI_MERGE_SOURCE_COMMIT` and `OMOI_MERGE_HEAD`, then
 * validates: the command exited 0, no conflicted file still has markers, and the check command
 * (if any) exits 0. The merged tree is taken from the sandbox as the resolver left it (its
 * edits to other files included) before the check command runs, so the check's own
 * by-products are never part of the merge.
 * Throws `RetryableError('merge_aborted')` if `signal` aborts, and `CircuitOpenError`
 * (`circuit_open`, retryable) while the resolver's breaker is open (it failed fast, exit non-zero
 * within `FAST_FAILURE_MS`, `OMOI_BREAKER_THRESHOLD` times in a row); every other failure is a verdict.
 */
export async function runResolverCommand(run: ResolverRun): Promise<ResolverVerdict> {
  await writeMergeIntoSandbox(run);
  // A rename conflict involves a path that is no longer in the sandbox (the file was renamed
  // away, or deleted on one side): there is nothing to edit there, so the resolver is given the
  // conflicted files the merge wrote out, and what is absent stays absent in the merge.
  const onDisk = await Promise.all(run.conflicted.map((file) => stat(path.join(run.sandboxDir, file)).then(() => true, () => false)));
  const files = run.conflicted.filter((_, i) => onDisk[i]);
  const env = {
    ...run.env,
    OMOI_CONFLICTED_FILES: files.join('\n'),
    OMOI_MERGE_SOURCE: run.source.id,
    OMOI_MERGE_SOURCE_COMMIT: run.source.commit,
    OMOI_MERGE_HEAD: run.head.sha(),
  };
  const common = { cwd: run.sandboxDir, env, timeoutMs: run.timeoutMs, signal: run.signal, logFile: run.logFile, appendLog: true, wrap: run.wrap };
  const output: string[] = [];
  let exitCode: number | null = null;
  const fail = (files: string[], why: string): ResolverVerdict => ({ ok: false, files, output: [...output, `omoi: ${why}`].join('\n'), exitCode });

  const resolver = await throughBreaker(run.breakers, 'resolver', programOf(run.resolverCommand), () => runProcess({ ...common, command: run.resolverCommand }),
    (r) => !r.aborted && !r.timedOut && r.exitCode !== 0 && r.durationMs < FAST_FAILURE_MS,
    (r) => `exited with ${r.exitCode ?? r.signal} after ${r.durationMs} ms: ${r.tail.trim().split('\n').at(-1)?.slice(0, 200) ?? ''}`);
  output.push(resolver.tail);
  exitCode = resolver.exitCode;
  if (resolver.aborted) throw new RetryableError('merge_aborted', `merge of ${run.source.id} was aborted while the resolver ran`);
  if (resolver.timedOut) return fail(run.conflicted, `resolver timed out after ${run.timeoutMs} ms`);
  if (resolver.exitCode !== 0) return fail(run.conflicted, `resolver exited with ${resolver.exitCode ?? resolver.signal}`);

  const stillMarked: string[] = [];
  for (const file of files) {
    if (await fileHasConflictMarkers(path.join(run.sandboxDir, file))) stillMarked.push(file);
  }
  if (stillMarked.length > 0) return fail(stillMarked, `conflict markers left in ${stillMarked.join(', ')}`);

  const tree = await captureSandboxTree(run.sandbox);

  if (run.checkCommand) {
    const check = await runProcess({ ...common, command: run.checkCommand });
    output.push(check.tail);
    if (check.aborted) throw new RetryableError('merge_aborted', `merge of ${run.source.id} was aborted while the check ran`);
    if (check.timedOut) return fail(run.conflicted, `check command timed out after ${run.timeoutMs} ms`);
    if (check.exitCode !== 0) return fail(run.conflicted, `check command exited with ${check.exitCode ?? check.signal}`);
  }
  return { ok: true, tree, output: output.join('\n'), exitCode };
}

/**
 * Makes the sandbox show `head` with the merge applied on top: first a clean checkout of
 * `head` (untracked and ignored leftovers of an earlier source removed), then the merge index
 * with conflicts written as markers. The sandbox's own index stays at `head`, so staging the
 * files later yields exactly what is on disk.
 */
async function writeMergeIntoSandbox(run: ResolverRun): Promise<void> {
  const S = NodeGit.Checkout.STRATEGY;
  run.sandbox.setHeadDetached(run.head.id());
  await NodeGit.Checkout.tree(run.sandbox, run.head, { checkoutStrategy: S.FORCE | S.REMOVE_UNTRACKED | S.REMOVE_IGNORED });
  await NodeGit.Checkout.index(run.sandbox, run.mergeIndex, {
    checkoutStrategy: S.FORCE | S.ALLOW_CONFLICTS | S.CONFLICT_STYLE_MERGE | S.DONT_UPDATE_INDEX,
    ourLabel: 'merge-head',
    theirLabel: run.source.id,
  });
}

/** Stages everything in the sandbox (adds, edits, deletions; `.gitignore` respected) into a tree. */
async function captureSandboxTree(sandbox: NodeGit.Repository): Promise<NodeGit.Oid> {
  const index = await sandbox.refreshIndex();
  await index.addAll(['*'], NodeGit.Index.ADD_OPTION.ADD_DEFAULT);
  await index.updateAll(['*']);
  await index.write();
  return index.writeTree();
}
