import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import NodeGit from 'nodegit';
import { RetryableError, TerminalError } from '../errors.ts';
import { applyBuiltInRules } from './conflict-rules.ts';
import { conflictedPaths, readConflict, settleConflict } from './conflicts.ts';
import { type Identity, toSignature } from './identity.ts';
import { commitShaIn, openRepository } from './repository.ts';
import { runResolverCommand } from './resolver-command.ts';
import { byMergeOrder, type MergeSource, type SourceScore } from './score.ts';
import { addWorktree, removeWorktreeDir } from './worktree.ts';

export interface MergeOptions {
  /** Omoi's clone holding the base and every source commit. */
  repoDir: string;
  /** Where the merge sandbox (a detached worktree) is created; removed again on every path. */
  sandboxDir: string;
  /** The commit (or ref) the sources are merged onto. */
  base: string;
  sources: MergeSource[];
  /** Author and committer of every merge commit, with a fixed time: same inputs, same shas. */
  who: Identity;
  /** Message of the merge commit of `source` (default `omoi: merge <id> (<sha>)`). */
  message?: (source: MergeSource) => string;
  /** Shell command run in the sandbox when built-in rules leave conflicts. */
  resolverCommand?: string;
  /** Shell command that must exit 0 after the resolver, run in the sandbox. */
  checkCommand?: string;
  /** Variables for the resolver and check commands (e.g. an agent's API key). They see only
   * PATH, HOME, LANG, TERM, these, and the OMOI_* merge variables — never the node's own env. */
  resolverEnv?: Record<string, string>;
  /** Limit for each resolver/check run (default 10 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Full output of the resolver/check runs (appended); a temporary file if not given. */
  logFile?: string;
}

/** The record of one merge of a join's sources, kept whether it succeeded or not. */
export interface MergeAttempt {
  /** Source ids in the order they were merged (on failure: up to the one that failed). */
  order: string[];
  /** Files each merged source conflicted on against the merge head it was merged into. */
  conflicts: Record<string, string[]>;
  /** Who resolved each conflicted file: `rule:<name>` or `resolver`. */
  resolutions: Array<{ file: string; source: string; by: string }>;
  /** The tail of the resolver/check output ('' if none ran). */
  resolverOutput: string;
  durationMs: number;
}

export type MergeOutcome =
  | { ok: true; commit: string; attempt: MergeAttempt }
  | { ok: false; reason: 'merge_conflict'; files: string[]; attempt: MergeAttempt };

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const OUTPUT_TAIL_CHARS = 8 * 1024;

/**
 * Merges every source into `base`, one real merge commit (two parents: merge head, source) per
 * source — also for a source that merges cleanly or is a descendant of the head, never a
 * fast-forward, never skipped. Order: before each step the remaining sources are scored by an
 * in-memory merge against the current merge head and the one with the fewest conflicted
 * files goes next (ties by id). A conflict goes through the resolver chain: built-in safe rules
 * per file, then `resolverCommand` in the sandbox, then validation (no markers, `checkCommand`
 * exits 0). Clean merges never touch the disk; the sandbox is written only for the resolver.
 * Commits use `who` (name, email, time), so re-running the same merge gives the same sha.
 * Result: the final merge commit, or `merge_conflict` with the files that stayed unresolved
 * (the merge stops at that source). No ref is moved: the caller records the commit.
 * Throws `TerminalError` for bad input (no sources, duplicate ids, unknown commits) and
 * `RetryableError('merge_aborted')` if `signal` aborts. The sandbox is always removed.
 */
export async function mergeSources(opts: MergeOptions): Promise<MergeOutcome> {
  const started = performance.now();
  const attempt: MergeAttempt = { order: [], conflicts: {}, resolutions: [], resolverOutput: '', durationMs: 0 };
  const signature = toSignature(opts.who);
  validateSources(opts.sources);
  const message = opts.message ?? ((s: MergeSource) => `omoi: merge ${s.id} (${s.commit})`);

  const tempLogDir = opts.logFile ? null : await mkdtemp(path.join(os.tmpdir(), 'omoi-merge-log-'));
  const logFile = opts.logFile ?? path.join(tempLogDir!, 'resolver.log');
  const outputs: string[] = [];
  const finish = <T extends MergeOutcome>(outcome: T): T => {
    attempt.resolverOutput = outputs.join('\n').slice(-OUTPUT_TAIL_CHARS);
    attempt.durationMs = Math.round(performance.now() - started);
    return outcome;
  };

  // Resolve every input before creating anything, so bad input fails cleanly.
  const clone = await openRepository(opts.repoDir);
  let base: string;
  let sources: MergeSource[];
  try {
    base = await commitShaIn(clone, opts.base);
    sources = [];
    for (const s of opts.sources) sources.push({ id: s.id, commit: await commitShaIn(clone, s.commit) });
  } finally {
    clone.cleanup();
  }

  await addWorktree(opts.repoDir, opts.sandboxDir, base, { checkout: false }); // files only if a resolver needs them
  let sandbox: NodeGit.Repository | undefined;
  try {
    sandbox = await openRepository(opts.sandboxDir);
    let head = await sandbox.getCommit(base);
    let remaining = sources;
    while (remaining.length > 0) {
      throwIfAborted(opts.signal);
      // Score every remaining source against the current head; merge the best one.
      const scored: Array<SourceScore & { source: MergeSource; index: NodeGit.Index }> = [];
      for (const source of remaining) {
        const index = await NodeGit.Merge.commits(sandbox, head, await sandbox.getCommit(source.commit));
        scored.push({ id: source.id, conflicts: conflictedPaths(index), source, index });
      }
      scored.sort(byMergeOrder);
      const next = scored[0]!;
      remaining = remaining.filter((s) => s !== next.source);
      attempt.order.push(next.id);
      attempt.conflicts[next.id] = next.conflicts;

      // (a) Built-in safe rules, file by file.
      for (const file of next.conflicts) {
        const verdict = applyBuiltInRules(await readConflict(next.index, file));
        if (!verdict) continue;
        await settleConflict(next.index, file, verdict.keep);
        attempt.resolutions.push({ file, source: next.id, by: `rule:${verdict.rule}` });
      }
      const unresolved = conflictedPaths(next.index);

      let tree: NodeGit.Oid;
      if (unresolved.length === 0) {
        tree = await next.index.writeTreeTo(sandbox);
      } else if (!opts.resolverCommand) {
        return finish({ ok: false, reason: 'merge_conflict', files: unresolved, attempt });
      } else {
        // (b) + (c) The resolver command in the sandbox, then validation.
        const verdict = await runResolverCommand({
          sandbox, sandboxDir: opts.sandboxDir, head, source: next.source, mergeIndex: next.index, conflicted: unresolved,
          resolverCommand: opts.resolverCommand, checkCommand: opts.checkCommand, env: opts.resolverEnv,
          timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: opts.signal, logFile,
        });
        outputs.push(verdict.output);
        if (!verdict.ok) return finish({ ok: false, reason: 'merge_conflict', files: verdict.files, attempt });
        for (const file of unresolved) attempt.resolutions.push({ file, source: next.id, by: 'resolver' });
        tree = verdict.tree;
      }
      const commit = await sandbox.createCommit(null, signature, signature, message(next.source), tree, [head.id(), NodeGit.Oid.fromString(next.source.commit)]);
      head = await sandbox.getCommit(commit);
    }
    return finish({ ok: true, commit: head.sha(), attempt });
  } finally {
    sandbox?.cleanup();
    await removeWorktreeDir(opts.sandboxDir);
    if (tempLogDir) await rm(tempLogDir, { recursive: true, force: true });
  }
}

function validateSources(sources: MergeSource[]): void {
  if (sources.length === 0) throw new TerminalError('invalid_merge', 'a merge needs at least one source');
  const seen = new Set<string>();
  for (const s of sources) {
    if (!s.id) throw new TerminalError('invalid_merge', 'every merge source needs an id');
    if (seen.has(s.id)) throw new TerminalError('invalid_merge', `merge source id ${JSON.stringify(s.id)} appears twice`);
    seen.add(s.id);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RetryableError('merge_aborted', 'the merge was aborted');
}
